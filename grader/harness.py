"""Kernel-side harness: the only grader code that runs inside the student's kernel.

The grader sends this file's source, followed by one call of `_run(request)`, as a
final cell once the student's cells have run. It looks up the names the rubric asks
for, calls the student's functions on the check inputs, and publishes what came back
as plain data only (JSON, arrays as `.npy` bytes without pickle) on a display message
of its own MIME type, stamped with a per-run token.

It holds no expected values and compares nothing: a student who patches numpy, torch,
json or this harness can only spoil their own results, never fake a verdict, because
every comparison happens later in the grader process. It must stay self-contained
(stdlib, numpy, torch) because the grader package is not importable in the kernel.
"""

import base64 as _b64
import io as _io
import signal as _signal

MIME = "application/vnd.d2l-grader.result+json"
MAX_ARRAY_BYTES = 32 * 1024 * 1024  # one array
MAX_TOTAL_BYTES = 96 * 1024 * 1024  # everything one run ships (arrays, text, items), together
MAX_STRING_CHARS = 1024 * 1024  # one str: 1 MiB of text
MAX_ITEMS = 100_000  # one list, tuple or dict
MAX_INT_BITS = 10_000  # one int (~3000 digits; JSON cannot carry much more than 4300)
MAX_DEPTH = 20  # levels of nesting; what lies deeper is refused
ITEM_BYTES = 8  # what one number, item or key counts against MAX_TOTAL_BYTES
# Arrays cross as .npy of these dtypes only (native byte order). Torch dtypes numpy lacks
# are widened exactly: bfloat16 and the float8 types become float32, complex32 complex64;
# the result's "dtype" still names the tensor's own dtype.
ARRAY_DTYPES = (
    *("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    *("float16", "float32", "float64", "complex64", "complex128"),
)
_budget = [MAX_TOTAL_BYTES]  # what is left to ship in this run (one harness cell)


def _new_run():
    """Start a run: the whole MAX_TOTAL_BYTES budget is available again."""
    _budget[0] = MAX_TOTAL_BYTES


class _HarnessTimeout(Exception):
    pass


class _OverBudget(Exception):
    pass


# .npy headers made and read in this run, by (dtype, shape) and by their bytes: numpy builds a
# header with repr and padding, and reads one with ast.literal_eval (~30-70 us each), while a
# notebook's arrays share a handful of shapes. Bounded; emptied when full.
_NPY_HEADERS = {}  # type: dict[tuple, bytes]
_NPY_PARSED = {}  # type: dict[bytes, tuple]
_NPY_REMEMBERED = 256


def _npy_bytes(array):
    """`array` as the bytes np.lib.format.write_array gives (C order, native byte order)."""
    import numpy as np

    # np.asarray, not np.ascontiguousarray: the latter turns a 0-d array into shape (1,)
    array = np.asarray(array, order="C")
    key = (array.dtype.str, array.shape)
    head = _NPY_HEADERS.get(key)
    if head is None:
        buf = _io.BytesIO()
        header = np.lib.format.header_data_from_array_1_0(array)
        try:
            np.lib.format.write_array_header_1_0(buf, header)
        except ValueError:  # a header too long for version 1.0
            buf = _io.BytesIO()
            np.lib.format.write_array_header_2_0(buf, header)
        head = buf.getvalue()
        if len(_NPY_HEADERS) >= _NPY_REMEMBERED:
            _NPY_HEADERS.clear()
        _NPY_HEADERS[key] = head
    return _b64.b64encode(head + array.tobytes()).decode("ascii")


def _read_npy(raw):
    """A writable array from the grader's .npy bytes (np.lib.format.read_array's result)."""
    import numpy as np

    if raw[6:8] != b"\x01\x00":  # version 2.0 and anything unusual: numpy reads it
        return np.lib.format.read_array(_io.BytesIO(raw), allow_pickle=False)
    end = 10 + int.from_bytes(raw[8:10], "little")
    head = raw[:end]
    parsed = _NPY_PARSED.get(head)
    if parsed is None:
        stream = _io.BytesIO(head)
        np.lib.format.read_magic(stream)
        parsed = np.lib.format.read_array_header_1_0(stream)
        if len(_NPY_PARSED) >= _NPY_REMEMBERED:
            _NPY_PARSED.clear()
        _NPY_PARSED[head] = parsed
    shape, fortran, dtype = parsed
    count = 1
    for n in shape:
        count *= n
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=end)
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")


def _charge(nbytes):
    if nbytes > _budget[0]:
        raise _OverBudget()
    _budget[0] -= nbytes


def _too_long(what, size, limit, unit):
    return {"__unsupported__": "%s of %d %s, longer than the limit of %d" % (what, size, unit, limit)}


def _float_json(x):
    """A float as JSON: a number, or {"__float__": "nan" | "inf" | "-inf"}."""
    if x != x:
        return {"__float__": "nan"}
    if x in (float("inf"), float("-inf")):
        return {"__float__": "inf" if x > 0 else "-inf"}
    return x


def _encode(value, depth=0):
    """Turn a student value into plain data, refusing anything else by name."""
    if depth == 0:
        try:
            return _encode_value(value, 0)
        except _OverBudget:
            return {
                "__unsupported__": "one value too many: the values returned exceed %d MiB" % (MAX_TOTAL_BYTES >> 20)
            }
    return _encode_value(value, depth)


def _encode_value(value, depth):
    import numpy as np

    try:
        import torch
    except Exception:  # pragma: no cover - torch is part of the grading environment
        torch = None  # type: ignore[assignment]
    if depth > MAX_DEPTH:
        return {"__unsupported__": "a structure nested too deeply"}
    kind = type(value)
    if value is Ellipsis:
        return {"__unsupported__": "still `...`"}
    if value is None or kind is bool:
        return value
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:
            return _too_long("an int", value.bit_length(), MAX_INT_BITS, "bits")
        _charge(ITEM_BYTES + value.bit_length() // 3)
        return value
    if kind is float:
        _charge(ITEM_BYTES)
        return _float_json(value)
    if kind is complex:
        _charge(2 * ITEM_BYTES)
        return {"__complex__": [_float_json(value.real), _float_json(value.imag)]}
    if kind is str:
        if len(value) > MAX_STRING_CHARS:
            return _too_long("a str", len(value), MAX_STRING_CHARS, "characters")
        _charge(ITEM_BYTES + len(value))
        return value
    if torch is not None and kind in (torch.Tensor, torch.nn.Parameter):
        return _encode_tensor(value, torch)
    if kind is np.ndarray:
        if value.dtype.hasobject:
            return {"__unsupported__": "a numpy array of Python objects"}
        dtype = str(value.dtype.newbyteorder("="))
        if dtype not in ARRAY_DTYPES:
            return {"__unsupported__": "a numpy array of dtype %s" % value.dtype}
        return _encode_array(value, "numpy", dtype)
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        item = value.item()  # a numpy scalar becomes the Python scalar of the same value
        if isinstance(item, np.generic) or type(item) not in (bool, int, float, complex, str):
            return {"__unsupported__": "a numpy scalar of type " + kind.__name__}
        return _encode_value(item, depth)
    if torch is not None and kind is torch.Size:
        _charge(ITEM_BYTES * (len(value) + 1))
        return {"__seq__": "tuple", "items": [int(v) for v in value]}
    if kind in (list, tuple):
        if len(value) > MAX_ITEMS:
            return _too_long("a " + kind.__name__, len(value), MAX_ITEMS, "items")
        _charge(ITEM_BYTES)
        return {"__seq__": kind.__name__, "items": [_encode_value(v, depth + 1) for v in value]}
    if kind is dict:
        if len(value) > MAX_ITEMS:
            return _too_long("a dict", len(value), MAX_ITEMS, "items")
        if not all(type(k) is str for k in value):
            return {"__unsupported__": "a dict whose keys are not all strings"}
        if any(len(k) > MAX_STRING_CHARS for k in value):
            return {"__unsupported__": "a dict with a key longer than %d characters" % MAX_STRING_CHARS}
        _charge(ITEM_BYTES + sum(ITEM_BYTES + len(k) for k in value))
        return {"__dict__": {k: _encode_value(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, BaseException):
        names = [str(c.__name__)[:200] for c in kind.__mro__[:50]]
        try:
            message = str(value)
        except Exception:
            message = "<unprintable message>"
        if type(message) is not str:  # a str subclass could lie about its contents
            message = "<unprintable message>"
        return {"__exception__": {"type": names[0], "mro": names, "message": message[:4000]}}
    return {"__unsupported__": "an object of type " + kind.__name__}


def _encode_tensor(value, torch):
    name = str(value.dtype).replace("torch.", "")
    if value.layout != torch.strided:
        return {"__unsupported__": "a torch tensor with layout " + str(value.layout).replace("torch.", "")}
    if name in ARRAY_DTYPES:
        target = value.dtype
    elif value.dtype.is_complex:
        target = torch.complex64  # complex32: each part is a float16
    elif value.dtype.is_floating_point and value.element_size() <= 2:
        target = torch.float32  # bfloat16, float8: float32 holds every value exactly
    else:
        return {"__unsupported__": "a torch tensor of dtype " + name}
    if value.numel() * target.itemsize > MAX_ARRAY_BYTES:
        return {"__unsupported__": "an array larger than %d MiB" % (MAX_ARRAY_BYTES >> 20)}
    try:
        array = value.detach().cpu().resolve_conj().resolve_neg().to(target).numpy()
    except Exception as exc:  # a meta tensor, say
        return {"__unsupported__": "a torch tensor that cannot be read (%s)" % type(exc).__name__}
    return _encode_array(array, "torch", name)


def _encode_array(array, origin, dtype):
    if array.nbytes > MAX_ARRAY_BYTES:
        return {"__unsupported__": "an array larger than %d MiB" % (MAX_ARRAY_BYTES >> 20)}
    _charge(array.nbytes)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return {"__ndarray__": _npy_bytes(array), "origin": origin, "dtype": dtype}


def _decode(value):
    """Inputs from the grader: plain JSON plus arrays, rebuilt as torch tensors."""
    import torch

    if isinstance(value, dict):
        if "__ndarray__" in value:
            raw = _b64.b64decode(value["__ndarray__"])
            array = _read_npy(raw)
            if value.get("origin") == "numpy":
                return array
            return torch.from_numpy(array if array.flags.c_contiguous else array.copy())
        if "__seq__" in value:
            items = [_decode(v) for v in value["items"]]
            return tuple(items) if value["__seq__"] == "tuple" else items
        if "__dict__" in value:
            return {k: _decode(v) for k, v in value["__dict__"].items()}
        if "__student__" in value:
            return _Lookup(value["__student__"])
        if "__float__" in value:
            return float(value["__float__"])
        if "__complex__" in value:
            real, imag = (_decode(v) for v in value["__complex__"])
            return complex(real, imag)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class _Lookup:
    """A reference to a name in the student's namespace, resolved at call time."""

    def __init__(self, name):
        self.name = name


class _Missing(Exception):
    pass


class ProbeContext:
    """A probe's view of the student's notebook: `fn(ctx, *args)` reads names only through it.

    `ctx.get(name)` returns the student's value, or raises the error the grader reports as
    "name `...` is not defined in your notebook"; `ctx.has(name)` asks without raising.
    The same class serves the grader (content API) to run a probe on its own objects.
    """

    def __init__(self, namespace):
        self._namespace = namespace

    def has(self, name):
        return name in self._namespace

    def get(self, name):
        if name not in self._namespace:
            raise _Missing(name)
        return self._namespace[name]

    def device(self):
        """Where a probe that trains or runs a network should put it: the GPU when this
        machine has one (CUDA), else the CPU. Verdicts must not depend on the choice: the
        checks' tolerances cover the difference."""
        import torch

        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def missing(self, name):
        """The exception to raise for a name the notebook lacks."""
        return _Missing(name)

    def switched_off(self, rule, advice):
        """A context manager that switches PyTorch operators off while the student's code runs:
        every ATen operator for which `rule(schema, args)` returns a label (not None or "")
        raises RuntimeError("<label> is switched off in this check: <advice>"), whatever Python
        name led to it (F.unfold, a saved reference, nn.Unfold all end in aten::im2col). Its
        `used` lists the labels tried, in order of first use, also when the code caught the
        error. Built on torch's TorchDispatchMode as it was before any student cell ran."""
        return _SwitchedOff(self.library("torch.utils._python_dispatch.TorchDispatchMode"), rule, advice)

    def call_switched_off(self, rule, advice, function, *args):
        """`function(*args)` inside `switched_off(rule, advice)`, as plain data: {"value": what
        it returned (None if a switched-off operator stopped it), "ruled_out": the labels it
        tried, "raised": the error's class name when one stopped it, else ""}. An error raised
        for another reason propagates (the check reports it as raised)."""
        off = self.switched_off(rule, advice)
        try:
            with off:
                value = function(*args)
        except Exception as exc:
            if not off.used:
                raise
            return {"value": None, "ruled_out": list(off.used), "raised": type(exc).__name__}
        return {"value": value, "ruled_out": list(off.used), "raised": ""}

    def library(self, dotted):
        """`original(dotted)` where the kernel remembers the module, otherwise the object as
        imported now (the grader's own process, or a module not in ORIGINAL_MODULES): what a
        probe builds its own objects from."""
        try:
            return self.original(dotted)
        except LookupError:
            import importlib

            module, _, attr = dotted.rpartition(".")
            return getattr(importlib.import_module(module), attr)

    def original(self, dotted):
        """A library object as it was when the kernel started, before any student cell ran
        (e.g. "torch.nn.CrossEntropyLoss"): what the notebook rebound since is ignored.
        Only the modules of ORIGINAL_MODULES are remembered."""
        import importlib
        import sys

        module, _, attr = dotted.rpartition(".")
        if module not in ORIGINAL_MODULES:
            raise LookupError("no original of " + dotted + " (its module is not remembered)")
        remembered = sys.modules.get(ORIGINALS_MODULE)
        if remembered is None:  # the grader's own process: nothing was ever rebound there
            return getattr(importlib.import_module(module), attr)
        snapshot = remembered.snapshot.get(module, {})
        if attr not in snapshot:
            raise LookupError("no original of " + dotted)
        return snapshot[attr]


class _SwitchedOff:
    """ProbeContext.switched_off's context manager (a dispatch mode made when it is entered)."""

    def __init__(self, dispatch_mode, rule, advice):
        self.used: list = []
        used = self.used

        class Mode(dispatch_mode):  # type: ignore[valid-type,misc]  # torch's, found at run time
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                label = rule(func._schema, args)
                if label:
                    if label not in used:
                        used.append(label)
                    raise RuntimeError(label + " is switched off in this check: " + advice)
                return func(*args, **(kwargs or {}))

        self._mode = Mode()

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)


# Modules whose attributes are remembered at kernel start, for probes (ProbeContext.original).
ORIGINAL_MODULES = (
    "builtins",
    "copy",
    "math",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.optim",
    "torch.utils.data",
    "torch.utils._python_dispatch",  # TorchDispatchMode: how probes see which operations run
    "numpy",
)
ORIGINALS_MODULE = "_d2l_grader_originals"  # where the harness, exec'd later, finds them


def remember_originals():
    """Called before any student code runs in a kernel (in the warm parent, which forks kernels
    with it, and again after each import it does ahead; or in a kernel of its own): copy each
    module's namespace (the objects, not the names), so a probe can build what it needs from
    the originals even when the notebook has rebound `torch.nn.CrossEntropyLoss`. Defence in
    depth only: code in the kernel can reach anything in its own process, so what a probe
    produces is still verified in the grader."""
    import importlib
    import sys
    import types

    holder = types.ModuleType(ORIGINALS_MODULE)
    holder.snapshot = {}  # type: ignore[attr-defined]
    for name in ORIGINAL_MODULES:
        try:
            holder.snapshot[name] = dict(vars(importlib.import_module(name)))
        except Exception:
            continue
    sys.modules[ORIGINALS_MODULE] = holder


def install_grading_stub():
    """While a notebook is graded, `import grader` gives a stand-in whose check() does nothing.
    Students leave `grader.check("ex3")` calls in the notebooks they hand in; in the graded
    kernel the engine itself is not importable (and a check there is not wanted: the real
    grading is going on). Call after the engine's modules left sys.modules."""
    import sys
    import types

    stub = types.ModuleType("grader", "d2l-grader is grading this notebook: grader.check() does nothing here.")

    def check(exercise, assignment=None):
        return None

    stub.check = check  # type: ignore[attr-defined]
    sys.modules["grader"] = stub


def _resolve(arg, namespace):
    if isinstance(arg, _Lookup):
        if arg.name not in namespace:
            raise _Missing(arg.name)
        return namespace[arg.name]
    if isinstance(arg, list):
        return [_resolve(a, namespace) for a in arg]
    if isinstance(arg, tuple):
        return tuple(_resolve(a, namespace) for a in arg)
    return arg


def _describe_error(exc):
    try:
        text = str(exc)
    except Exception:
        text = ""
    text = text.strip().splitlines()[0] if text.strip() else ""
    return type(exc).__name__ + (": " + text[:300] if text else "")


def _seed(seed):
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    # The CPU generator only: torch.manual_seed also queues a lazy CUDA seeding, with a
    # stack trace, on every call (~1 ms each); grading machines have no GPU.
    torch.default_generator.manual_seed(seed)


def _on_alarm(signum, frame):
    raise _HarnessTimeout()


def _fetch_one(fetch, namespace, probes):
    """Run one fetch and describe its outcome as plain data."""
    kind = fetch["kind"]
    name = fetch["name"]
    _seed(fetch.get("seed", 0))
    if kind == "name":
        if name not in namespace:
            return {"status": "missing", "name": name}
        return {"status": "ok", "value": _encode(namespace[name])}
    if kind == "call":
        if name not in namespace:
            return {"status": "missing", "name": name}
        target = namespace[name]
    elif kind == "probe":
        target = probes[name]
    else:
        return {"status": "error", "error": "unknown fetch kind " + str(kind)}
    if kind == "call" and not callable(target):
        return {"status": "error", "error": "`%s` is a %s, not a function" % (name, type(target).__name__)}
    try:
        args = _resolve(_decode(fetch.get("args", [])), namespace)
    except _Missing as missing:
        return {"status": "missing", "name": str(missing)}
    if kind == "probe":
        args = [ProbeContext(namespace), *args]
    limit = max(1, int(fetch.get("time_limit", 10)))
    timers = _start_timers(limit)
    streams = _silence()  # what the student's code prints while the checks call it goes nowhere
    try:
        result = target(*args)
    except _HarnessTimeout:
        return {"status": "error", "error": "took longer than %d s" % limit}
    except _Missing as missing:
        return {"status": "missing", "name": str(missing)}
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        return {"status": "raised", "error": _describe_error(exc)}
    finally:
        _stop_timers(timers)
        _restore(streams)
    return {"status": "ok", "value": _encode(result)}


def _start_timers(limit):
    """A call's limit is CPU time of this process (SIGPROF), with a wall-clock backstop at
    three times that for a call that only waits (SIGALRM). Where the OS has no interval
    timers (Windows), calls are not limited here; the cell's own limits still apply."""
    if not hasattr(_signal, "setitimer"):
        return None
    previous = {sig: _signal.signal(sig, _on_alarm) for sig in (_signal.SIGALRM, _signal.SIGPROF)}
    _signal.setitimer(_signal.ITIMER_PROF, limit)
    _signal.setitimer(_signal.ITIMER_REAL, 3 * limit)
    return previous


def _stop_timers(previous):
    if previous is None:
        return
    _signal.setitimer(_signal.ITIMER_PROF, 0)
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    for sig, handler in previous.items():
        _signal.signal(sig, handler)


class _Sink:
    """Where sys.stdout and sys.stderr point while the checks call the student's code."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def _silence():
    import sys

    saved = (sys.stdout, sys.stderr)
    sys.stdout = sys.stderr = _Sink()
    return saved


def _restore(saved):
    import sys

    sys.stdout, sys.stderr = saved


class _Reply:
    """The results, for the execute reply's user_expressions (the second channel)."""

    def __init__(self, payload):
        self._payload = payload

    def _repr_json_(self):
        return self._payload

    def __repr__(self):
        return "<d2l-grader results>"


def digest(results):
    """What both channels must agree on: the SHA-256 of the results' canonical JSON."""
    import hashlib
    import json

    text = json.dumps(results, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fetch_all(request, namespace):
    """One run: every fetch of the request on `namespace`, as plain data by fetch key (the
    graded kernel's harness cell, and `grader.check` in a student's own kernel)."""
    _new_run()
    probes: dict = {}
    if request.get("probes"):
        exec(compile(request["probes"], "<grader-probes>", "exec"), probes)
    results = {}
    for fetch in request["fetches"]:
        try:
            results[fetch["key"]] = _fetch_one(fetch, namespace, probes)
        except BaseException as exc:  # never let one fetch stop the others
            results[fetch["key"]] = {"status": "error", "error": "harness: " + _describe_error(exc)}
    return results


def _run(request):
    from IPython import get_ipython
    from IPython.display import publish_display_data

    namespace = get_ipython().user_ns
    results = fetch_all(request, namespace)
    # Two channels the grader compares: the results themselves in the execute reply (the
    # user_expression naming `slot`), and their digest on IOPub. Rewriting one is not enough.
    namespace[request["slot"]] = _Reply({"token": request["token"], "results": results})
    publish_display_data({MIME: {"token": request["token"], "sha256": digest(results)}})
