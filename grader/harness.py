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
MAX_TOTAL_BYTES = 96 * 1024 * 1024  # all arrays of one run together
_budget = [MAX_TOTAL_BYTES]


class _HarnessTimeout(Exception):
    pass


def _npy_bytes(array):
    import numpy as np

    buf = _io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return _b64.b64encode(buf.getvalue()).decode("ascii")


def _encode(value, depth=0):
    """Turn a student value into plain data, refusing anything else by name."""
    import numpy as np

    try:
        import torch
    except Exception:  # pragma: no cover - torch is part of the grading environment
        torch = None
    if depth > 20:
        return {"__unsupported__": "a structure nested too deeply"}
    kind = type(value)
    if value is Ellipsis:
        return {"__unsupported__": "still `...`"}
    if value is None or kind in (bool, int, float, str):
        if kind is float and value != value:
            return {"__float__": "nan"}
        if kind is float and value in (float("inf"), float("-inf")):
            return {"__float__": "inf" if value > 0 else "-inf"}
        return value
    if torch is not None and kind in (torch.Tensor, torch.nn.Parameter):
        array = value.detach().cpu()
        if array.is_complex() or array.dtype == torch.bfloat16:
            array = array.to(torch.float64)
        array = array.numpy()
        return _encode_array(array, "torch", str(value.dtype).replace("torch.", ""))
    if kind is np.ndarray:
        if value.dtype.hasobject:
            return {"__unsupported__": "a numpy array of Python objects"}
        return _encode_array(value, "numpy", str(value.dtype))
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        return _encode(value.item(), depth + 1)
    if torch is not None and kind is torch.Size:
        return {"__seq__": "tuple", "items": [int(v) for v in value]}
    if kind in (list, tuple):
        return {"__seq__": kind.__name__, "items": [_encode(v, depth + 1) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            return {"__unsupported__": "a dict whose keys are not all strings"}
        return {"__dict__": {k: _encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, BaseException):
        names = [c.__name__ for c in type(value).__mro__]
        try:
            message = str(value)
        except Exception:
            message = "<unprintable message>"
        return {"__exception__": {"type": kind.__name__, "mro": names, "message": message[:4000]}}
    return {"__unsupported__": "an object of type " + kind.__name__}


def _encode_array(array, origin, dtype):
    if array.nbytes > MAX_ARRAY_BYTES:
        return {"__unsupported__": "an array larger than %d MiB" % (MAX_ARRAY_BYTES >> 20)}
    if array.nbytes > _budget[0]:
        return {"__unsupported__": "one array too many: the values returned exceed %d MiB" % (MAX_TOTAL_BYTES >> 20)}
    _budget[0] -= array.nbytes
    return {"__ndarray__": _npy_bytes(array), "origin": origin, "dtype": dtype}


def _decode(value):
    """Inputs from the grader: plain JSON plus arrays, rebuilt as torch tensors."""
    import numpy as np
    import torch

    if isinstance(value, dict):
        if "__ndarray__" in value:
            raw = _b64.b64decode(value["__ndarray__"])
            array = np.lib.format.read_array(_io.BytesIO(raw), allow_pickle=False)
            if value.get("origin") == "numpy":
                return array
            return torch.from_numpy(array.copy())
        if "__seq__" in value:
            items = [_decode(v) for v in value["items"]]
            return tuple(items) if value["__seq__"] == "tuple" else items
        if "__dict__" in value:
            return {k: _decode(v) for k, v in value["__dict__"].items()}
        if "__student__" in value:
            return _Lookup(value["__student__"])
        if "__float__" in value:
            return float(value["__float__"])
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

    def missing(self, name):
        """The exception to raise for a name the notebook lacks."""
        return _Missing(name)


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
    limit = int(fetch.get("time_limit", 10))
    previous = _signal.signal(_signal.SIGALRM, _on_alarm)
    _signal.alarm(max(1, limit))
    try:
        result = target(*args)
    except _HarnessTimeout:
        return {"status": "error", "error": "took longer than %d s" % limit}
    except _Missing as missing:
        return {"status": "missing", "name": str(missing)}
    except BaseException as exc:  # the student's code may raise anything, even SystemExit
        return {"status": "raised", "error": _describe_error(exc)}
    finally:
        _signal.alarm(0)
        _signal.signal(_signal.SIGALRM, previous)
    return {"status": "ok", "value": _encode(result)}


def _run(request):
    from IPython import get_ipython
    from IPython.display import publish_display_data

    namespace = get_ipython().user_ns
    probes = {}
    if request.get("probes"):
        exec(compile(request["probes"], "<grader-probes>", "exec"), probes)
    results = {}
    for fetch in request["fetches"]:
        try:
            results[fetch["key"]] = _fetch_one(fetch, namespace, probes)
        except BaseException as exc:  # never let one fetch stop the others
            results[fetch["key"]] = {"status": "error", "error": "harness: " + _describe_error(exc)}
    publish_display_data({MIME: {"token": request["token"], "results": results}})
