"""The book's notebooks, without a kernel: the offline data stand-in and the d2l adaptations.

`grader.datasets` writes Fashion-MNIST where torchvision looks, in the real format (torchvision
itself reads it in tests/kernel/test_book_notebooks.py: importing it costs a second). `grader.book`
adapts an imported `d2l.torch` (no DataLoader workers, no live plots).
"""

from __future__ import annotations

import types

import nbformat
import numpy as np
import pytest

from grader import book, datasets


def test_the_stand_in_is_the_same_bytes_every_time(tmp_path):
    first = datasets.write_fashion_mnist(str(tmp_path / "a"))
    second = datasets.write_fashion_mnist(str(tmp_path / "b"))
    for images, labels in datasets.RAW_FILES.values():
        for name in (images, labels):
            assert (tmp_path / "a" / "FashionMNIST" / "raw" / name).read_bytes() == (
                tmp_path / "b" / "FashionMNIST" / "raw" / name
            ).read_bytes()
    assert first.endswith("FashionMNIST/raw") and second.endswith("FashionMNIST/raw")


def test_idx_files_have_the_formats_header():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data = datasets.idx_bytes(images)
    assert np.frombuffer(data[:16], ">i4").tolist() == [0x803, 2, 28, 28]
    assert data[16:] == images.tobytes()
    assert np.frombuffer(datasets.idx_bytes(np.array([3, 1], np.uint8))[:8], ">i4").tolist() == [0x801, 2]
    with pytest.raises(ValueError):
        datasets.idx_bytes(images.astype(np.float32))


def test_an_imported_d2l_gets_no_workers_and_no_live_plots():
    shown = []

    class DataModule:
        def __init__(self, root="../data", num_workers=4):
            self.root, self.num_workers = root, num_workers

    fake = types.ModuleType("d2l.torch")
    fake.get_dataloader_workers = lambda: 4
    fake.DataModule = DataModule
    fake.display = types.SimpleNamespace(display=shown.append, clear_output=shown.append)
    book.adapt_d2l(fake)
    assert fake.get_dataloader_workers() == 0
    assert DataModule().num_workers == 0 and DataModule().root == "../data"
    assert DataModule(num_workers=2).num_workers == 2  # a choice written out is kept
    fake.display.display("figure")
    fake.display.clear_output(wait=True)
    assert shown == []


def test_the_import_hook_is_installed_once_and_adapts_an_already_imported_d2l(monkeypatch):
    fake = types.ModuleType("d2l.torch")
    fake.get_dataloader_workers = lambda: 4
    monkeypatch.setitem(__import__("sys").modules, "d2l.torch", fake)
    meta_path = list(__import__("sys").meta_path)
    monkeypatch.setattr("sys.meta_path", meta_path)
    book.prepare()
    book.prepare()
    assert sum(isinstance(finder, book._BookImports) for finder in meta_path) == 1
    assert fake.get_dataloader_workers() == 0


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (["import torch", "from d2l import torch as d2l"], ["matplotlib.pyplot", "torch._dynamo", "d2l.torch"]),
        (["x = 1\n  import d2l.torch"], ["matplotlib.pyplot", "torch._dynamo", "d2l.torch"]),
        (["import d2l"], ["matplotlib.pyplot", "torch._dynamo", "d2l.torch"]),
        (["opt = torch.optim.SGD(net.parameters(), lr=0.1)"], ["torch._dynamo"]),
        (["from torch import optim", "%matplotlib inline"], ["matplotlib.pyplot", "torch._dynamo"]),
        (["from torch.optim import Adam"], ["torch._dynamo"]),
        (["class Off(TorchDispatchMode):\n    pass"], ["torch._dynamo"]),
        (["step = torch.compile(step)"], ["torch._dynamo"]),
        (["optimizer = my_sgd(params)", "torch.optimize = 1", "compiled = torch.compiled"], []),
        (['with torch.device("meta"):\n    net = vgg(arch)'], ["torch.fx.experimental.symbolic_shapes"]),
        (["metadata = {}", "x.to('metal')"], []),
        (["import matplotlib.pyplot as plt"], ["matplotlib.pyplot"]),
        (["from matplotlib import pyplot"], ["matplotlib.pyplot"]),
        (["%matplotlib inline\nx = 1"], ["matplotlib.pyplot"]),
        (["# from d2l import torch as d2l", "print('import d2l')", "import d2lx"], []),
        (["# import matplotlib", "s = 'import matplotlib'", "import matplotlibx"], []),
        ([], []),
    ],
)
def test_a_notebook_that_imports_d2l_plots_or_trains_has_the_warm_parent_import_it_ahead(sources, expected):
    assert book.wanted(sources) == expected


class _Preloads:
    """A backend stand-in that records what the warm parent would be asked to import."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def preload(self, modules: list[str]) -> None:
        self.asked.append(modules)

    def close(self) -> None:
        pass


def test_a_rubrics_probes_count_as_the_notebooks_code_for_the_preload(course, monkeypatch):
    """The pooling probes switch operators off with a dispatch mode in every kernel, whatever the
    notebook says: the first pooling notebook has the warm parent import the compiler stack,
    once; a conv-layer notebook (no probes) asks for nothing."""
    from grader.grading import Grader

    def plain(code: str):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])

    grader = Grader(course=course)
    recorder = _Preloads()
    monkeypatch.setattr(grader, "backend", recorder)
    monkeypatch.setattr(grader, "start", lambda: grader)
    try:
        grader._preload_for(plain("x = 1"), course.assignments["conv-layer"])
        assert recorder.asked == []
        grader._preload_for(plain("y = 2"), course.assignments["pooling"])
        grader._preload_for(plain("y = 3"), course.assignments["pooling"])
        assert recorder.asked == [[book.COMPILER]]
        grader._preload_for(plain("import matplotlib.pyplot as plt"), course.assignments["pooling"])
        assert recorder.asked == [[book.COMPILER], [book.PLOTTING]]
    finally:
        grader.close()


def test_a_structure_rubric_has_kernels_and_the_judge_warm_the_meta_device(course):
    """Networks described on the meta device: the first convolution there imports sympy, ~0.9
    CPU-s per kernel, unless the warm parent ran one (the kernel-side description names it)."""
    vgg = course.assignments["vgg"]
    assert book.meta_wanted_by(vgg) and not book.meta_wanted_by(course.assignments["pooling"])
    from grader.planning import probes_source

    assert book.SHAPES in book.wanted([probes_source(vgg)])


@pytest.mark.parametrize(("assignment", "trains"), [("lenet", True), ("pooling", False), ("conv-layer", False)])
def test_the_judge_warms_the_compiler_stack_only_for_a_reference_or_checks_that_train(course, assignment, trains):
    """6.6's reference replays SGD for its verdicts (in the judge, forked before any preload);
    the pooling probes' dispatch mode runs in the kernel, not in the judge."""
    assert book.compiler_wanted_by(course.assignments[assignment]) is trains
