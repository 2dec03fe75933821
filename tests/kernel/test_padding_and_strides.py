"""6.3 padding-and-strides: the reference scores 100%, alternative correct answers pass, and
each plausible wrong answer loses exactly the points of the checks that should catch it."""

from __future__ import annotations

from assignment_suite import standard_tests

NB = "padding-and-strides.ipynb"

OUT_SHAPE = "    return tuple((n + 2 * p - k) // s + 1 for n, k, p, s in zip(in_hw, kernel, padding, stride))"
STRIDE2 = "    return torch.stack([(x[i:i + m] * k).sum() for i in range(0, len(x) - m + 1, 2)])"
MIRROR = """def mirror_pad(X, p):
    for dim in range(X.dim()):
        X = _reflect_dim(X, p, dim)
    return X"""


def test_expected_shapes_come_from_a_real_conv2d(rubrics):
    """The rubric's grid contains the two traps named in the exercise, and the reference
    (measured on nn.Conv2d) resolves them the PyTorch way."""
    reference = rubrics["padding-and-strides"].load_reference()
    assert reference.conv_out_shape((7, 7), (3, 3), (1, 1), (2, 2)) == (4, 4)  # 3 if padding were total
    assert reference.conv_out_shape((8, 8), (3, 3), (0, 0), (3, 3)) == (2, 2)  # 3 with ceil
    assert reference.conv_out_shape((8, 8), (3, 5), (0, 1), (3, 4)) == (2, 2)  # the section's last example
    grid = [c["args"] for c in _raw_cases(rubrics, "conv-out-shape-grid")]
    assert [{"tuple": [7, 7]}, {"tuple": [3, 3]}, {"tuple": [1, 1]}, {"tuple": [2, 2]}] in grid
    assert [{"tuple": [8, 8]}, {"tuple": [3, 3]}, {"tuple": [0, 0]}, {"tuple": [3, 3]}] in grid


def _raw_cases(rubrics, check_id):
    import tomllib

    with open(rubrics["padding-and-strides"].path, "rb") as f:
        data = tomllib.load(f)
    return next(c for c in data["check"] if c["id"] == check_id)["cases"]


STRIDE_HALF_PAD = "    padded = F.pad(spread, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))"
STRIDE_HALF_RETURN = "    return F.conv2d(padded[None, None], K.flip(0, 1)[None, None])[0, 0]"

ALTERNATIVES = {
    # v1.0 exercise 6 by its definition: every pixel adds a scaled copy of the kernel at (2i, 2j)
    "stride-half-by-scattering": {
        STRIDE_HALF_RETURN: STRIDE_HALF_RETURN + "\n\n\ndef conv_stride_half(X, K):\n"
        "    (n_h, n_w), (k_h, k_w) = X.shape, K.shape\n"
        "    out = torch.zeros((2 * (n_h - 1) + k_h, 2 * (n_w - 1) + k_w))\n"
        "    for i in range(n_h):\n"
        "        for j in range(n_w):\n"
        "            out[2 * i:2 * i + k_h, 2 * j:2 * j + k_w] += X[i, j] * K\n"
        "    return out"
    },
    "float-formula-with-floor": {
        OUT_SHAPE: "    import math\n"
        "    return tuple(math.floor((n + 2 * p - k) / s) + 1 for n, k, p, s in zip(in_hw, kernel, padding, stride))"
    },
    "shape-as-list": {
        OUT_SHAPE: "    (h, w), (kh, kw), (ph, pw), (sh, sw) = in_hw, kernel, padding, stride\n"
        "    return [(h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1]"
    },
    "last-example-by-hand-as-list": {
        "last_example_shape = conv_out_shape((8, 8), (3, 5), (0, 1), (3, 4))": "last_example_shape = [2, 2]"
    },
    "stride2-with-conv1d": {STRIDE2: "    return F.conv1d(x[None, None], k[None, None], stride=2)[0, 0]"},
    "stride2-by-subsampling-the-output": {
        STRIDE2: "    return torch.stack([(x[i:i + m] * k).sum() for i in range(len(x) - m + 1)])[::2]"
    },
    "stride2-with-unfold": {STRIDE2: "    return x.unfold(0, m, 2) @ k"},
    "float-cost-ratio": {"    return s_h * s_w": "    return float(s_h) * float(s_w)"},
    "mirror-with-numpy": {MIRROR: "def mirror_pad(X, p):\n    return np.pad(X.numpy(), p, mode='reflect')"},
    # F.pad(mode="reflect") needs (N, C, ...) input: returned as it comes, (1, 1, ...), accepted with a note
    "mirror-with-F-pad-keeps-batch-dimensions": {
        MIRROR: "def mirror_pad(X, p):\n    return F.pad(X[None, None], (p, p) * X.dim(), mode='reflect')"
    },
    "mirror-with-F-pad": {
        MIRROR: "def mirror_pad(X, p):\n"
        "    if X.dim() == 1:\n"
        "        return F.pad(X[None], (p, p), mode='reflect')[0]\n"
        "    return F.pad(X[None], (p, p, p, p), mode='reflect')[0]"
    },
}


WRONG = {
    # padding read as the total of both sides: 7x7, k 3, p 1, s 2 gives 3 instead of 4
    "padding-as-total": (
        {OUT_SHAPE: OUT_SHAPE.replace("n + 2 * p - k", "n + p - k")},
        {"conv-out-shape-section": 1, "conv-out-shape-grid": 2},
    ),
    # ceil instead of floor: partial steps counted; last_example_shape follows the function
    "ceil-instead-of-floor": (
        {OUT_SHAPE: OUT_SHAPE.replace("(n + 2 * p - k) // s + 1", "-(-(n + 2 * p - k) // s) + 1")},
        {"last-example-shape": 1, "conv-out-shape-section": 1, "conv-out-shape-grid": 2},
    ),
    # every public example is 8x8: using the height for both dimensions only fails hidden cases
    "square-input-assumed": (
        {
            OUT_SHAPE: "    n = in_hw[0]\n"
            "    return tuple((n + 2 * p - k) // s + 1 for k, p, s in zip(kernel, padding, stride))"
        },
        {"conv-out-shape-grid": 2},
    ),
    "last-example-rounded-up": (
        {"last_example_shape = conv_out_shape((8, 8), (3, 5), (0, 1), (3, 4))": "last_example_shape = (3, 2)"},
        {"last-example-shape": 1},
    ),
    # odd instead of even samples
    "stride2-odd-samples": (
        {STRIDE2: STRIDE2.replace("range(0, len(x) - m + 1, 2)", "range(1, len(x) - m + 1, 2)")},
        {"conv1d-stride2-example": 1, "conv1d-stride2-lengths": 2},
    ),
    # "half the outputs": (n - k + 1) // 2 drops the last sample when n - k is even
    "stride2-half-length": (
        {STRIDE2: "    return torch.stack([(x[2 * i:2 * i + m] * k).sum() for i in range((len(x) - m + 1) // 2)])"},
        {"conv1d-stride2-lengths": 2},
    ),
    "cost-ratio-sum": ({"    return s_h * s_w": "    return s_h + s_w"}, {"stride-cost-ratio": 1}),
    # numpy's symmetric convention repeats the edge: [2, 1, 1, 2, 3, 4, 4, 3]
    "symmetric-not-reflect": (
        {
            "    before = X.narrow(dim, 1, p).flip(dim)\n    after = X.narrow(dim, n - 1 - p, p).flip(dim)": "    before = X.narrow(dim, 0, p).flip(dim)\n    after = X.narrow(dim, n - p, p).flip(dim)"
        },
        {"mirror-pad-example": 1, "mirror-pad-1d": 1, "mirror-pad-2d": 1},
    ),
    # pads only the first dimension, so images come back with unpadded width
    "mirror-1d-only": (
        {"    for dim in range(X.dim()):": "    for dim in range(1):"},
        {"mirror-pad-2d": 1},
    ),
}


WRONG.update(
    {
        # v1.0 exercise 6: the cross-correlation reads the kernel unturned (a convolution with K
        # turned by 180 degrees)
        "stride-half-kernel-not-turned": (
            {STRIDE_HALF_RETURN: STRIDE_HALF_RETURN.replace("K.flip(0, 1)", "K")},
            {"stride-half-example": 1, "stride-half-shapes": 2, "stride-half-by-hand": 1},
        ),
        # F.pad lists the last dimension first: (left, right, top, bottom); the public and probe
        # kernels are square, so only the hidden non-square kernels show it
        "stride-half-pad-order": (
            {STRIDE_HALF_PAD: "    padded = F.pad(spread, (k_h - 1, k_h - 1, k_w - 1, k_w - 1))"},
            {"stride-half-shapes": 2},
        ),
        "stride-half-calls-conv-transpose": (
            {STRIDE_HALF_RETURN: "    return F.conv_transpose2d(X[None, None], K[None, None], stride=2)[0, 0]"},
            {"stride-half-by-hand": 1},
        ),
    }
)

DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "padding-as-total": {"conv-out-shape-section": "The padding is counted once"},
    "ceil-instead-of-floor": {"conv-out-shape-section": "partial last step"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "padding-and-strides",
    NB,
    15,
    ["ex1-calculation", "ex2-observations", "ex3-audio", "ex4-benefits", "v1-ex5-statistics", "v1-ex6-stride-half"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
