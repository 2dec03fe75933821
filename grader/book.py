"""Kernel-side support for the book's own notebooks (`from d2l import torch as d2l`).

A student's copy of a book notebook starts with `from d2l import torch as d2l` and calls
`d2l.load_data_fashion_mnist`, `d2l.train_ch6`, `d2l.try_gpu`. The grading environment has the
real `d2l` package (installed without its obsolete pins: grader/environment.py), and three
things make its cells behave in a grading kernel as they do on a student's laptop:

* **torchvision imports next to a CPU-only torch.** `d2l.torch` imports torchvision at module
  level. PyPI's torchvision wheel for Linux is built against PyPI's CUDA torch; next to the CPU
  build of the same torch its compiled operators (`_C.so`, detection ops such as `nms`) cannot
  load, which torchvision tolerates, except that two of its fake-tensor registrations name
  `torchvision::nms` and `torchvision::qnms` unconditionally, so `import torchvision` fails
  ("operator torchvision::nms does not exist"). Where `_C` does not load, we define those two
  operator *schemas* (no implementation) before torchvision is imported: the import succeeds,
  the data sets, transforms and models the CNN chapters use work, and the detection operators
  raise torchvision's own "Couldn't load custom C++ ops" error if called. Where `_C` loads (the
  CPU wheels of PyTorch's index, macOS and Windows wheels) nothing is changed.
* **No DataLoader worker processes.** d2l reads data with 4 worker processes. In a kernel they
  would count against its process limit and slow a small data set down (workers are forked
  again every epoch); batches are the same with none, because the order is drawn in the
  kernel either way. `get_dataloader_workers()` returns 0 and `DataModule`'s default is 0.
* **No live plots.** `d2l.Animator` redraws its figure as an SVG display message on every
  point it adds (a fraction of a second each, dozens per training cell): the grader shows no
  plots, so d2l's display calls do nothing; figures are still drawn (matplotlib, Agg).

Data itself comes from the grader's offline stand-ins (`grader.datasets`), where torchvision
looks for it. Everything here is installed as an import hook before any student code runs
(`prepare`), so it applies whenever, and only if, the notebook imports these modules.
"""

from __future__ import annotations

import glob
import importlib.machinery
import os
import re
import sys
import types
from typing import Any

# The operators torchvision's fake-tensor registrations name without checking that its
# compiled extension loaded (torchvision/_meta_registrations.py, 0.28), with their schemas.
UNGUARDED_OPERATORS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
# What a warm parent may import ahead for the notebooks that will import it (`wanted`), in
# the order it imports them: matplotlib's pyplot with the Agg backend and IPython's inline
# backend (~0.45 CPU-s, which most graded notebooks never use); torch's compiler stack
# (`torch._dynamo`, ~1.1-1.4 CPU-s), which torch imports the first time a process makes an
# optimizer or enters a dispatch mode (the pooling probes' way of switching operators off):
# that import was most of a LeNet or pooling kernel's time; the symbolic-shapes machinery
# (with sympy, ~0.9 CPU-s, 487 modules) that torch imports the first time a convolution or a
# linear layer runs on the meta device, as the structure checks' networks do; and the book's
# `d2l.torch` (which imports pyplot itself and trains with optimizers).
PLOTTING = "matplotlib.pyplot"
COMPILER = "torch._dynamo"
SHAPES = "torch.fx.experimental.symbolic_shapes"
D2L = "d2l.torch"
PRELOADABLE = (PLOTTING, COMPILER, SHAPES, D2L)
_IMPORTS_D2L = re.compile(r"^\s*(?:from\s+d2l\b|import\s+d2l\b)", re.MULTILINE)
_IMPORTS_PLOTTING = re.compile(r"^\s*(?:from\s+matplotlib\b|import\s+matplotlib\b|%matplotlib\b)", re.MULTILINE)
# `torch.optim.SGD(...)`, `from torch import optim`, a `TorchDispatchMode`, `torch.compile`: a
# name in code (a comment or a string that says it only costs an early import).
_USES_COMPILER = re.compile(r"\boptim\b|\bTorchDispatchMode\b|\b__torch_dispatch__\b|\btorch\.compile\b")
_USES_META = re.compile(r"""\bmeta\b""")  # torch.device("meta"), device="meta"
_kept: list[Any] = []  # the torch.library.Library that defines them: dropping it undefines them


def torchvision_extension_loads() -> bool | None:
    """Whether torchvision's compiled operators load here (None: torchvision is not installed).
    Loads them as torchvision itself would (`torch.ops.load_library`), without importing it."""
    spec = importlib.machinery.PathFinder.find_spec("torchvision")  # not the finders: _BookImports is one
    if spec is None or not spec.submodule_search_locations:
        return None
    import torch

    for folder in spec.submodule_search_locations:
        for library in sorted(glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd"))):
            try:
                torch.ops.load_library(library)
                return True
            except (OSError, RuntimeError, ImportError):
                return False
    return False


def make_torchvision_importable() -> bool:
    """Before torchvision's first import: define its unguarded operators' schemas when its
    compiled extension cannot load. True when they had to be defined."""
    if "torchvision" in sys.modules or torchvision_extension_loads() is not False:
        return False
    import torch

    library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in UNGUARDED_OPERATORS:
        try:
            library.define(schema)
        except RuntimeError:  # already defined
            pass
    _kept.append(library)
    return True


def wanted(sources: list[str]) -> list[str]:
    """The names of `PRELOADABLE` these code cells will need (directly, or through d2l), in
    `PRELOADABLE`'s order. A wrong guess costs time only: a kernel imports what it lacks."""
    found = []
    if any(_IMPORTS_D2L.search(source) for source in sources):  # d2l plots and trains
        return [PLOTTING, COMPILER, *wanted_meta(sources), D2L]
    if any(_IMPORTS_PLOTTING.search(source) for source in sources):
        found.append(PLOTTING)
    if any(_USES_COMPILER.search(source) for source in sources):
        found.append(COMPILER)
    return found + wanted_meta(sources)


def wanted_meta(sources: list[str]) -> list[str]:
    return [SHAPES] if any(_USES_META.search(source) for source in sources) else []


def compiler_wanted_by(rubric: Any) -> bool:
    """Whether the rubric's own Python (its reference solution and checks, which run in the
    judge) makes optimizers or dispatch modes: 6.6's reference replays SGD for its verdicts.
    Structure checks count their operations under a dispatch mode (torch's FlopCounterMode)."""
    if any(check.kind == "structure" for check in rubric.checks):
        return True
    paths = [rubric.module_path("reference", rubric.reference_module)]
    if rubric.checks_module:  # the probes are not here: they run in the kernel
        paths.append(rubric.module_path("rubrics", rubric.checks_module))
    sources = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            sources.append(f.read())
    return COMPILER in wanted(sources)


def meta_wanted_by(rubric: Any) -> bool:
    """Whether the judge will run networks on the meta device: a rubric's structure checks
    describe its reference networks there."""
    return any(check.kind == "structure" for check in rubric.checks)


def warm_up_meta() -> None:
    """Run a convolution, a linear layer, batch norm and pooling once on the meta device: the
    first convolution or linear layer there imports torch's symbolic-shapes machinery and sympy
    (~0.9 CPU-s). In the warm parent, so kernels forked later describe networks at once; in
    the judge, before a structure rubric's first verdicts."""
    import torch

    with torch.device("meta"), torch.no_grad():
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3),
            torch.nn.BatchNorm2d(2),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.LazyLinear(3),
        ).eval()
        net(torch.zeros(1, 1, 6, 6))


def warm_up_compiler() -> None:
    """What torch imports the first time a process makes an optimizer or enters a dispatch
    mode: it wraps `Optimizer.__init__`, `step`, `zero_grad` and the dispatch machinery so that
    their first call imports `torch._dynamo` (~1.1-1.4 CPU-s; no thread is started) and caches
    the result on the function. Making and stepping one SGD and running one operator under a
    do-nothing dispatch mode here does both once: in the warm parent, so kernels forked later do
    neither; in the judge, before the first verdicts of a rubric whose reference trains."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class _PassThrough(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, _types: Any, args: Any = (), kwargs: Any = None) -> Any:
            return func(*args, **(kwargs or {}))

    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    with _PassThrough():
        loss = (weight * 2).sum()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def _quiet_display() -> types.SimpleNamespace:
    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    return types.SimpleNamespace(display=nothing, clear_output=nothing, SVG=nothing, HTML=nothing)


def adapt_d2l(module: types.ModuleType) -> None:
    """The grading kernel's changes to an imported `d2l.torch` (see the module docstring)."""
    module.get_dataloader_workers = lambda: 0  # type: ignore[attr-defined]
    data_module = getattr(module, "DataModule", None)
    init = getattr(data_module, "__init__", None)
    defaults = getattr(init, "__defaults__", None)
    code = getattr(init, "__code__", None)
    if defaults and code is not None:
        names = code.co_varnames[: code.co_argcount]
        if "num_workers" in names[len(names) - len(defaults) :]:
            index = names[len(names) - len(defaults) :].index("num_workers")
            init.__defaults__ = (*defaults[:index], 0, *defaults[index + 1 :])  # type: ignore[union-attr]
    if hasattr(module, "display"):
        module.display = _quiet_display()  # type: ignore[attr-defined]


class _BookImports:
    """A `sys.meta_path` finder that only watches: before torchvision's first import it makes
    torchvision importable; after `d2l.torch` is executed it adapts it. The modules themselves
    are found and loaded by the ordinary finders."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == "torchvision":
            make_torchvision_importable()
            return None
        if fullname == "d2l.torch":
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                loader = spec.loader
                execute = loader.exec_module

                def exec_then_adapt(module: types.ModuleType) -> None:
                    execute(module)
                    adapt_d2l(module)

                loader.exec_module = exec_then_adapt  # type: ignore[method-assign]
            return spec
        return None


def prepare() -> None:
    """Install the hook (once), and adapt what is already imported (a warm parent may have)."""
    if not any(isinstance(finder, _BookImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BookImports())
    if "d2l.torch" in sys.modules:
        adapt_d2l(sys.modules["d2l.torch"])
