"""The plain-data codec across the kernel boundary, both ways, with the harness imported as
an ordinary module: kernel -> grader (`harness._encode`, JSON, `plaindata.decode`) and
grader -> kernel (`plaindata.encode`, JSON, `harness._decode`) give back the same value,
bit for bit (nan positions without their payloads), and what is too big or malformed is
refused by name, never shipped or half-decoded."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import time
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader import harness, plaindata
from grader.plaindata import Malformed, StudentException, StudentRef, TaggedArray, Unsupported

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NUMPY_DTYPES = [np.dtype(name) for name in harness.ARRAY_DTYPES]
# torch dtypes numpy lacks, and what the harness widens them to (exactly)
WIDENED = {torch.bfloat16: np.float32, torch.float8_e4m3fn: np.float32, torch.float8_e5m2: np.float32}

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def to_grader(value):
    """What the grader sees of a value the student's code returned."""
    harness._new_run()  # one run per value
    return plaindata.decode(json.loads(json.dumps(harness._encode(value), allow_nan=False)))


def to_kernel(value):
    """What the student's function receives for an input the grader made."""
    return harness._decode(json.loads(json.dumps(plaindata.encode(value), allow_nan=False)))


@st.composite
def any_bits(draw, dtype, shape=None):
    """Arrays of any bit pattern (nan payloads, subnormals, -0.0), not just nice values."""
    shape = draw(shapes) if shape is None else shape
    if dtype == np.bool_:
        return draw(hnp.arrays(np.bool_, shape))
    raw = draw(st.binary(min_size=math.prod(shape) * dtype.itemsize, max_size=math.prod(shape) * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


@st.composite
def numpy_arrays(draw):
    array = draw(any_bits(draw(st.sampled_from(NUMPY_DTYPES))))
    if array.ndim >= 2 and draw(st.booleans()):
        array = array.T  # not C-contiguous
    if array.ndim >= 1 and draw(st.booleans()):
        array = array[::2]  # strided
    return array


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Same shape, and every element the same bits, except that a nan may carry any payload."""
    assert got.shape == want.shape
    if want.dtype.kind == "c":
        got, want = (np.stack([a.real, a.imag], axis=-1) for a in (got, want))
    if want.dtype.kind == "f":
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan)
        unsigned = np.dtype(f"u{want.dtype.itemsize}")
        np.testing.assert_array_equal(got[~nan].view(unsigned), want[~nan].view(unsigned))
    else:
        np.testing.assert_array_equal(got, want)


def assert_same(got, want) -> None:
    """Structural, exact equality: list is not tuple, -0.0 is not 0.0, nan is nan."""
    if isinstance(want, np.ndarray):
        assert isinstance(got, TaggedArray) and got.origin == "numpy" and got.dtype == want.dtype.newbyteorder("=")
        assert_same_bits(np.asarray(got), want)
    elif isinstance(want, torch.Tensor):
        assert isinstance(got, TaggedArray) and got.origin == "torch"
        assert got.source_dtype == str(want.dtype).replace("torch.", "")
        assert_same_bits(np.asarray(got), want.resolve_conj().numpy())
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, float):
        assert type(got) is float
        assert (math.isnan(got) and math.isnan(want)) or struct.pack("<d", got) == struct.pack("<d", want)
    elif isinstance(want, complex):
        assert type(got) is complex
        assert_same(got.real, want.real)
        assert_same(got.imag, want.imag)
    else:
        assert type(got) is type(want) and got == want


# ----------------------------------------------------------------------------- kernel -> grader
@SETTINGS
@given(numpy_arrays())
def test_every_numpy_array_crosses_bit_for_bit(array):
    assert_same(to_grader(array), array)


@SETTINGS
@given(st.sampled_from(NUMPY_DTYPES).flatmap(any_bits), st.booleans())
def test_every_torch_tensor_crosses_bit_for_bit(array, transpose):
    tensor = torch.from_numpy(array)
    if transpose and tensor.ndim >= 2:
        tensor = tensor.transpose(0, 1)
    got = to_grader(tensor)
    assert_same(got, tensor)
    assert got.dtype == array.dtype  # torch's dtype is kept where numpy has it


@SETTINGS
@given(st.sampled_from(sorted(WIDENED, key=str)), shapes, st.data())
def test_torch_dtypes_numpy_lacks_arrive_widened_exactly(dtype, shape, data):
    # bfloat16 (and float8) arrive as float32, which holds each of their values exactly
    bits = data.draw(any_bits(np.dtype(f"u{dtype.itemsize}"), shape))
    tensor = torch.from_numpy(bits).view(dtype)
    got = to_grader(tensor)
    assert got.dtype == WIDENED[dtype] and got.origin == "torch" and got.source_dtype == str(dtype)[6:]
    assert_same_bits(np.asarray(got), tensor.to(torch.float32).numpy())
    if dtype == torch.bfloat16:  # bfloat16 is the top half of a float32
        finite = ~np.isnan(got)
        np.testing.assert_array_equal(np.asarray(got)[finite].view(np.uint32) >> 16, bits[finite])


def test_complex32_arrives_as_complex64():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "ComplexHalf support is experimental"
        tensor = torch.tensor([1 + 2j, -0.5j], dtype=torch.complex32)
        got = to_grader(tensor)
    assert got.dtype == np.complex64 and got.source_dtype == "complex32"
    np.testing.assert_array_equal(got, [1 + 2j, -0.5j])


def test_a_0d_tensor_keeps_its_shape():
    # bug: np.ascontiguousarray made every 0-d array 1-d, so torch.tensor(3.) came back as (1,)
    assert to_grader(torch.tensor(3.0)).shape == ()
    assert to_grader(np.array(3, dtype=np.int8)).shape == ()
    assert to_grader((torch.tensor(True) == torch.tensor(True)).all()).shape == ()
    assert to_kernel(np.array(2.5)).shape == ()


def test_complex_values_keep_their_imaginary_part():
    # bug: the harness cast complex tensors to float64 (dropping the imaginary part) and did
    # not encode Python complex numbers at all
    got = to_grader(torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex128))
    assert got.dtype == np.complex128
    np.testing.assert_array_equal(got, [1 + 2j, 3 - 4j])
    assert to_grader(1 - 2j) == 1 - 2j and type(to_grader(1 - 2j)) is complex
    assert to_grader(np.complex64(0.5j)) == 0.5j
    assert_same(to_grader(complex(math.nan, -math.inf)), complex(math.nan, -math.inf))
    tensor = to_kernel(np.array([1 + 1j], dtype=np.complex64))
    assert tensor.dtype == torch.complex64 and tensor[0].item() == 1 + 1j
    assert to_kernel(2 - 3j) == 2 - 3j


def test_conjugated_and_grad_tensors_are_read_as_their_values():
    z = torch.tensor([1 + 2j]).conj()  # a lazy conjugate view: .numpy() refuses it
    np.testing.assert_array_equal(to_grader(z), [1 - 2j])
    w = torch.nn.Parameter(torch.ones(2, 2))
    np.testing.assert_array_equal(to_grader(w), np.ones((2, 2), np.float32))


def test_byte_order_is_made_native():
    array = np.array([1.5, -2.0, math.nan], dtype=">f8")
    got = to_grader(array)
    assert got.dtype == np.dtype("<f8") and got.dtype.isnative
    assert_same_bits(np.asarray(got), array.astype("<f8"))
    assert to_kernel(np.array([7], dtype=">i4")).tolist() == [7]


def test_numpy_scalars_arrive_as_python_scalars():
    assert_same(to_grader(np.float32(0.1)), float(np.float32(0.1)))
    assert_same(to_grader(np.int64(-3)), -3)
    assert_same(to_grader(np.bool_(True)), True)
    assert_same(to_grader(np.float16(math.inf)), math.inf)
    # a numpy scalar at the deepest level allowed is not one level deeper
    deep = np.float64(1.0)
    for _ in range(harness.MAX_DEPTH):
        deep = [deep]
    assert not isinstance(to_grader(deep), Unsupported)


floats = st.floats(allow_nan=True, allow_infinity=True)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**harness.MAX_INT_BITS) + 1, max_value=2**harness.MAX_INT_BITS - 1)
    | floats
    | st.complex_numbers(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | numpy_arrays()
    | st.sampled_from(NUMPY_DTYPES).flatmap(lambda d: any_bits(d, (2,))).map(torch.from_numpy)
)
structures = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@SETTINGS
@given(structures)
def test_nested_values_cross_exactly(value):
    assert_same(to_grader(value), value)


@SETTINGS
@given(st.integers() | floats | st.complex_numbers(allow_nan=True, allow_infinity=True) | st.text() | st.booleans())
def test_python_scalars_cross_exactly(value):
    if isinstance(value, int) and value.bit_length() > harness.MAX_INT_BITS:
        assert isinstance(to_grader(value), Unsupported)
    else:
        assert_same(to_grader(value), value)


def test_what_else_crosses_and_how():
    assert to_grader(torch.Size([2, 3])) == (2, 3)
    exc = to_grader(KeyError("k"))
    assert isinstance(exc, StudentException) and exc.type == "KeyError" and "LookupError" in exc.bases
    assert to_grader(...) == Unsupported("still `...`")
    assert to_grader({1: 2}) == Unsupported("a dict whose keys are not all strings")
    assert to_grader(object()) == Unsupported("an object of type object")


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (np.array(["a"]), "a numpy array of dtype <U1"),
        (np.array([1.0], dtype=np.longdouble), "a numpy array of dtype float128"),
        (np.zeros(2, dtype=[("x", "i4")]), "a numpy array of dtype [('x', '<i4')]"),
        (np.array([None]), "a numpy array of Python objects"),
        (np.longdouble(1.5), "a numpy scalar of type longdouble"),
        (torch.ones(2).to_sparse(), "a torch tensor with layout sparse_coo"),
        (torch.ones(2, device="meta"), "a torch tensor that cannot be read (NotImplementedError)"),
    ],
)
def test_other_arrays_are_refused_by_name(value, what):
    assert to_grader(value) == Unsupported(what)


def test_quantized_tensors_are_refused_by_name():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        q = torch.quantize_per_tensor(torch.zeros(2), 1.0, 0, torch.qint8)
    assert to_grader(q) == Unsupported("a torch tensor of dtype qint8")


# ----------------------------------------------------------------------------- caps
def test_caps_on_what_the_harness_ships():
    text = "x" * harness.MAX_STRING_CHARS
    assert to_grader(text) == text
    assert to_grader(text + "x") == Unsupported(
        f"a str of {harness.MAX_STRING_CHARS + 1} characters, longer than the limit of {harness.MAX_STRING_CHARS}"
    )
    n = harness.MAX_ITEMS
    assert len(to_grader([0] * n)) == n
    assert to_grader([0] * (n + 1)) == Unsupported(f"a list of {n + 1} items, longer than the limit of {n}")
    assert to_grader((0,) * (n + 1)).what.startswith(f"a tuple of {n + 1} items")
    assert to_grader({str(i): 0 for i in range(n + 1)}).what.startswith(f"a dict of {n + 1} items")
    assert to_grader(2 ** (harness.MAX_INT_BITS + 5)).what.startswith(f"an int of {harness.MAX_INT_BITS + 6} bits")
    assert to_grader(torch.zeros(harness.MAX_ARRAY_BYTES // 4 + 1)) == Unsupported("an array larger than 32 MiB")
    # bfloat16 counts at the float32 size it is shipped with
    assert to_grader(torch.zeros(harness.MAX_ARRAY_BYTES // 4 + 1, dtype=torch.bfloat16)).what.startswith("an array")


def test_nesting_deeper_than_the_limit_is_refused():
    def nested(depth):
        value = 1
        for _ in range(depth):
            value = [value]
        return value

    assert to_grader(nested(harness.MAX_DEPTH)) == nested(harness.MAX_DEPTH)
    inner = to_grader(nested(harness.MAX_DEPTH + 1))
    for _ in range(harness.MAX_DEPTH):
        inner = inner[0]
    assert inner == [Unsupported("a structure nested too deeply")]


def test_one_run_ships_at_most_the_total_budget_however_the_value_is_built():
    # a million references to one long string: tiny in the kernel, 100 GB as JSON
    page = "x" * harness.MAX_STRING_CHARS
    started = time.monotonic()
    got = to_grader([[page] * 1000] * 1000)
    assert got == Unsupported("one value too many: the values returned exceed 96 MiB")
    assert time.monotonic() - started < 5  # generous bound: refusing must not walk the value (~0.01 s)
    # arrays share the budget: three of 32 MiB fit in 96 MiB, a fourth does not
    harness._new_run()
    sizes = []
    for _ in range(4):
        encoded = harness._encode(torch.zeros(harness.MAX_ARRAY_BYTES // 4 - 64))
        sizes.append("__ndarray__" in encoded)
    assert sizes == [True, True, True, False]


# ----------------------------------------------------------------------------- grader -> kernel
@SETTINGS
@given(numpy_arrays())
def test_grader_arrays_become_torch_tensors_of_the_same_bits(array):
    tensor = to_kernel(array)
    assert isinstance(tensor, torch.Tensor)
    assert tensor.dtype == torch.from_numpy(np.zeros(0, array.dtype.newbyteorder("="))).dtype
    assert_same_bits(tensor.numpy(), array)


grader_leaves = (
    st.none() | st.booleans() | st.integers() | floats | st.complex_numbers() | st.text(max_size=10) | numpy_arrays()
)
grader_inputs = st.recursive(
    grader_leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def assert_same_input(got, want):
    if isinstance(want, np.ndarray):
        assert isinstance(got, torch.Tensor)
        assert_same_bits(got.numpy(), want)
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same_input(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same_input(got[key], want[key])
    else:
        assert_same(got, want)


@SETTINGS
@given(grader_inputs)
def test_grader_inputs_cross_exactly(value):
    assert_same_input(to_kernel(value), value)


def test_student_refs_become_lookups_and_numpy_scalars_python_ones():
    args = to_kernel([StudentRef("X_diag"), np.float32(1.5), np.int64(2)])
    assert isinstance(args[0], harness._Lookup) and args[0].name == "X_diag"
    assert_same(args[1], 1.5)
    assert_same(args[2], 2)


def test_what_the_grader_cannot_send_is_a_type_error():
    with pytest.raises(TypeError, match="object"):
        plaindata.encode(np.array([None]))
    with pytest.raises(TypeError, match="set"):
        plaindata.encode({1, 2})


# ----------------------------------------------------------------------------- malformed data
def npy(shape, descr="<f8", data=b""):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return {"__ndarray__": base64.b64encode(buf.getvalue() + data).decode(), "origin": "torch"}


@pytest.mark.parametrize(
    "data",
    [
        npy((10**12,), data=b"\0" * 8),  # a header claiming a terabyte: refused, nothing allocated
        npy((2,), data=b"\0" * 24),  # more data than the header says
        npy((2,), descr="|O", data=b"\0" * 16),  # an object array
        npy((1,), descr="<U3", data=b"\0" * 12),
        npy((1,), descr="<f16", data=b"\0" * 16),
        {"__ndarray__": "not base64!", "origin": "torch"},
        {"__ndarray__": 5},
        {"__ndarray__": base64.b64encode(b"\x93NUMPY\x09\x00").decode()},
        {"__ndarray__": base64.b64encode(b"\x93NUMPY\x01\x00\xff\x00{'descr'").decode()},  # cut short
        {"__ndarray__": base64.b64encode(b"\x93NUMPY\x01\x00").decode()},  # a preamble, no length
        {"__ndarray__": base64.b64encode(b"\x93NUMPX\x01\x00\x00\x00").decode()},
        {**npy((1,), data=b"\0" * 8), "origin": "jax"},
        {"__float__": "1e999"},
        {"__float__": 5},
        {"__complex__": [1.0]},
        {"__complex__": [1.0, "nan"]},
        {"__complex__": [True, 1.0]},
        {"__complex__": [10**400, 1.0]},
        {"__seq__": "set", "items": []},
        {"__seq__": "list", "items": 3},
        {"__dict__": [1]},
        {"__exception__": {"type": ["a" * 10]}},
        {"__exception__": {"mro": "Exception"}},
        {"__unsupported__": {"what": 1}},
        {"__mystery__": 1},
        "x" * (harness.MAX_STRING_CHARS + 1),
        [0] * (harness.MAX_ITEMS + 1),
        {"__dict__": {str(i): 0 for i in range(harness.MAX_ITEMS + 1)}},
        {"__ndarray__": "A" * (harness.MAX_ARRAY_BYTES * 2)},
        object(),
    ],
    ids=lambda d: "object" if type(d) is object else str(d)[:40],  # stable across xdist workers
)
def test_malformed_data_is_refused(data):
    with pytest.raises(Malformed):
        plaindata.decode(data)


def test_a_refused_header_is_refused_every_time_and_spoils_no_other():
    bad = npy((2,), descr="|O", data=b"\0" * 16)
    good = npy((2,), data=np.arange(2, dtype="<f8").tobytes())
    for _ in range(3):  # remembered headers: a refusal is never remembered as a parse
        with pytest.raises(Malformed):
            plaindata.decode(bad)
        assert plaindata.decode(good).tolist() == [0.0, 1.0]


def test_long_headers_are_read_too():
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + b" " * 700 + b"\n"
    for preamble in (b"\x01\x00" + struct.pack("<H", len(header)), b"\x02\x00" + struct.pack("<I", len(header))):
        raw = b"\x93NUMPY" + preamble + header + np.array([1.5, 2.5], dtype="<f4").tobytes()
        assert len(raw) > 512  # past the remembered size
        got = plaindata.decode({"__ndarray__": base64.b64encode(raw).decode(), "origin": "numpy"})
        assert got.tolist() == [1.5, 2.5]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    ),
    st.integers(min_value=0, max_value=200),
    st.binary(min_size=1, max_size=3),
    st.booleans(),
)
def test_npy_bytes_decode_as_numpy_reads_them_or_are_refused(array, where, patch, fortran):
    """Any change to a real .npy (header or data): the array numpy itself reads, or Malformed."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asfortranarray(array) if fortran else array, allow_pickle=False)
    raw = bytearray(buf.getvalue())
    where = min(where, len(raw))
    raw[where : where + len(patch)] = patch
    data = {"__ndarray__": base64.b64encode(bytes(raw)).decode(), "origin": "numpy"}
    try:
        expected = np.lib.format.read_array(io.BytesIO(bytes(raw)), allow_pickle=False)
    except Exception:
        expected = None
    for _ in range(2):  # the second time from the remembered header
        try:
            got = plaindata.decode(data)
        except Malformed:
            continue
        assert expected is not None, "decoded what numpy would not read"
        assert got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True)


def test_deep_nesting_is_malformed_not_a_recursion_error():
    value = 0
    for _ in range(100_000):  # far past the interpreter's recursion limit
        value = {"__seq__": "list", "items": [value]}
    with pytest.raises(Malformed, match="nested too deeply"):
        plaindata.decode(value)
    value = 0
    for _ in range(100_000):
        value = [value]
    with pytest.raises(Malformed, match="nested too deeply"):
        plaindata.decode(value)


MARKERS = ["__ndarray__", "__seq__", "__dict__", "__float__", "__complex__", "__exception__", "__unsupported__"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from([*MARKERS, "items", "origin", "type", "mro", "message"]), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_decode_returns_or_raises_malformed_on_any_json(data):
    try:
        plaindata.decode(data)
    except Malformed:
        pass


# ----------------------------------------------------------------------------- .npy in the kernel
npy_arrays = hnp.arrays(
    st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint16, np.bool_, np.complex64]),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)


@settings(max_examples=200, deadline=None)
@given(npy_arrays, st.booleans())
def test_the_harness_writes_the_bytes_numpys_writer_does(array, fortran):
    """Its remembered headers included: the second array of a shape reuses the first's."""
    array = np.asfortranarray(array) if fortran else array
    expected = io.BytesIO()
    np.lib.format.write_array(expected, np.asarray(array, order="C"), allow_pickle=False)
    for _ in range(2):
        assert base64.b64decode(harness._npy_bytes(array)) == expected.getvalue()


@settings(max_examples=200, deadline=None)
@given(npy_arrays, st.booleans())
def test_the_harness_reads_the_graders_arrays_as_numpy_does(array, fortran):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asfortranarray(array) if fortran else array, allow_pickle=False)
    expected = np.lib.format.read_array(io.BytesIO(buf.getvalue()), allow_pickle=False)
    for _ in range(2):
        got = harness._read_npy(buf.getvalue())
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes(order="A") == expected.tobytes(order="A") and got.flags.writeable
        assert got.flags.f_contiguous == expected.flags.f_contiguous
