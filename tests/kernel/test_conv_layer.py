"""6.2 conv-layer: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the check that should catch it."""

from __future__ import annotations

import pytest
from assignment_suite import standard_tests
from nbfactory import lost, variant

NB = "conv-layer.ipynb"


VECTORISED_CORR2D = """
def corr2d(X, K):
    kh, kw = K.shape
    patches = X.unfold(0, kh, 1).unfold(1, kw, 1)
    return (patches * K).sum(dim=(-1, -2))
"""

EDGE_KERNEL = """    v1, v2 = float(v[0]), float(v[1])
    return torch.tensor([[-v1 - v2, v1], [v2, 0.0]])"""
BOX_BLUR = "    return torch.full((k, k), 1.0 / k**2)"

ALTERNATIVES = {
    # a steered Sobel detector (3x3, smoothing across the edge) and a Gaussian blur
    "sobel-edges-gaussian-blur": {
        EDGE_KERNEL: "    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])\n"
        "    return v[0] * sobel + v[1] * sobel.T",
        BOX_BLUR: "    x = torch.arange(k) - (k - 1) / 2\n"
        "    g = torch.exp(-x**2 / 2)\n"
        "    return torch.outer(g, g) / torch.outer(g, g).sum()",
    },
    # the Conv2D experiment on another image: the same error, with other sizes in its message
    "conv2d-error-on-another-image": {
        "X4 = X.reshape((1, 1, 6, 8))\nY4 = Y.reshape((1, 1, 6, 7))": "X4 = torch.ones((1, 1, 5, 5))\nY4 = torch.zeros((1, 1, 5, 4))"
    },
    "vectorised-corr2d": {
        "def corr2d(X, K):\n    h, w = K.shape": VECTORISED_CORR2D + "\n\ndef _unused(X, K):\n    h, w = K.shape"
    },
    "upper-triangle-image": {"X_diag = torch.tril(torch.ones(6, 6))": "X_diag = torch.triu(torch.ones(5, 7))"},
    "five-point-stencil": {
        "K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = torch.tensor([[-1.0, 16.0, -30.0, 16.0, -1.0]]) / 12"
    },
    "one-dimensional-derivative-kernel-as-row": {
        "return torch.tensor([float((-1) ** (d - k) * math.comb(d, k)) for k in range(d + 1)])": "return torch.tensor([[float((-1) ** (d - k) * math.comb(d, k)) for k in range(d + 1)]])"
    },
}


TRUE_CONVOLUTION = """
def corr2d(X, K):
    K = torch.flip(K, (0, 1))
    h, w = K.shape"""

WRONG = {
    # v1.0 exercise 2: the axis nearest to v instead of v itself (right for (1, 0) and (0, 1) only)
    "edge-kernel-nearest-axis": (
        {
            EDGE_KERNEL: "    v1, v2 = (1.0, 0.0) if abs(v[0]) >= abs(v[1]) else (0.0, 1.0)\n"
            "    return torch.tensor([[-v1 - v2, v1], [v2, 0.0]])"
        },
        {"edge-kernel-example": 1, "edge-kernel-directions": 2},
    ),
    # two independent mistakes on different checks: the size of v's components as weights (right in
    # the first quadrant only) and a box blur that is not normalised (brightens the image k^2 times)
    "edge-kernel-magnitudes-and-unnormalised-blur": (
        {
            EDGE_KERNEL: "    v1, v2 = abs(float(v[0])), abs(float(v[1]))\n"
            "    return torch.tensor([[-v1 - v2, v1], [v2, 0.0]])",
            BOX_BLUR: "    return torch.ones((k, k))",
        },
        {"edge-kernel-directions": 2, "blur-kernel": 1, "blur-kernel-sizes": 1},
    ),
    # true convolution (flipped kernel) instead of cross-correlation: every corr2d-based
    # answer follows the student's own corr2d, so only the corr2d checks lose points
    "true-convolution": (
        {"def corr2d(X, K):\n    h, w = K.shape": TRUE_CONVOLUTION},
        {
            "corr2d-example": 1,
            "corr2d-non-square": 2,
            "y-diag": 1,
            "y-diag-transposed-image": 1,
            "y-diag-transposed-kernel": 1,
        },
    ),
    "column-major-W": (
        {"W[i * ow + j] = block.reshape(-1)": "W[i * ow + j] = block.T.reshape(-1)"},
        {"conv-matrix-example": 1, "conv-matrix-reproduces-corr2d": 2},
    ),
    "swapped-height-and-width": (
        {
            "    nh, nw = in_shape\n    kh, kw = K.shape\n    oh, ow = nh - kh + 1, nw - kw + 1\n    W": "    nw, nh = in_shape\n    kh, kw = K.shape\n    oh, ow = nh - kh + 1, nw - kw + 1\n    W"
        },
        {"conv-matrix-reproduces-corr2d": 2},
    ),
    "negated-second-derivative": (
        {"torch.tensor([[1.0, -2.0, 1.0]])": "torch.tensor([[-1.0, 2.0, -1.0]])"},
        {"second-derivative-kernel": 2},
    ),
    "kernel-size-d": ({"    return d + 1": "    return d"}, {"min-kernel-size": 1}),
    "averaging-integral": ({"return torch.ones((1, n))": "return torch.ones((1, n)) / n"}, {"integral-kernel": 1}),
    "wrong-sign-derivative": (
        {"float((-1) ** (d - k) * math.comb(d, k))": "float((-1) ** k * math.comb(d, k))"},
        {"derivative-kernel-orders": 1},
    ),
    "horizontal-edge-only": (
        {"X_diag = torch.tril(torch.ones(6, 6))": "X_diag = torch.ones(6, 6); X_diag[:, 3:] = 0"},
        {"x-diag-has-diagonal-edge": 1},
    ),
    "kernel-not-transposed": (
        {"Y_diag_KT = corr2d(X_diag, K.T)": "Y_diag_KT = corr2d(X_diag, K)"},
        {"y-diag-transposed-kernel": 1},
    ),
    "error-not-caught": (
        {"except Exception as err:\n    conv2d_error = err": "except Exception as err:\n    conv2d_error = str(err)"},
        {"conv2d-gradient-error": 2},
    ),
}


# ---------------------------------------------------------------- contract details
def test_missing_name_and_raising_cell_are_explained(grader, rubrics, tmp_path):
    path = variant(
        NB,
        tmp_path,
        {
            "def conv_matrix(K, in_shape):": "def conv_matrix_draft(K, in_shape):",
            "K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])": "K_second_derivative = torch.tensor([[1.0, -2.0, 1.0]])\n1 / 0",
        },
    )
    result = grade(grader, rubrics, path)
    messages = {c.id: c.message for c in result.checks}
    assert messages["conv-matrix-example"] == "name `conv_matrix` is not defined in your notebook"
    assert {c.id: c.status for c in result.checks}["conv-matrix-reproduces-corr2d"] == "error"
    raised = [e for e in result.errors if e.kind == "cell-error"]
    assert len(raised) == 1 and raised[0].message.endswith("raised ZeroDivisionError: division by zero")
    assert raised[0].message == f"cell {raised[0].cell} raised ZeroDivisionError: division by zero"
    # the raising cell stopped before defining integral_kernel & co, and their checks say so
    assert messages["integral-kernel"] == (
        f"name `integral_kernel` is not defined in your notebook: cell {raised[0].cell}, which defines it, "
        "raised ZeroDivisionError: division by zero"
    )
    assert messages["conv-matrix-example"] == "name `conv_matrix` is not defined in your notebook"  # renamed: no cause
    assert lost(result) == {
        "conv-matrix-example": 1,
        "conv-matrix-reproduces-corr2d": 2,
        "integral-kernel": 1,
        "min-kernel-size": 1,
        "derivative-kernel-d2": 1,
        "derivative-kernel-orders": 1,
    }


def test_shape_and_value_messages(grader, rubrics, tmp_path):
    flat = variant(
        NB,
        tmp_path,
        {
            "    return (torch.stack(rows) @ K.reshape(-1)).reshape(oh, ow)": "    return (torch.stack(rows) @ K.reshape(-1))"
        },
        name="flat.ipynb",
    )
    off = variant(
        NB,
        tmp_path,
        {
            "    return (torch.stack(rows) @ K.reshape(-1)).reshape(oh, ow)": "    out = (torch.stack(rows) @ K.reshape(-1)).reshape(oh, ow)\n    out[0, 1] += 1\n    return out"
        },
        name="off.ipynb",
    )
    # first line: what differs; second line: the inputs of this public call, to rerun it
    inputs = (
        "called as corr2d_matmul([[0., 1., 2.], [3., 4., 5.], [6., 7., 8.]] (shape (3, 3), float32), "
        "[[0., 1.], [2., 3.]] (shape (2, 2), float32))"
    )
    messages = {c.id: c.message for c in grade(grader, rubrics, flat).checks}
    assert messages["corr2d-matmul-example"] == "corr2d_matmul returned shape (4,), expected (2, 2)\n" + inputs
    messages = {c.id: c.message for c in grade(grader, rubrics, off).checks}
    assert (
        messages["corr2d-matmul-example"]
        == "corr2d_matmul: values differ at [0, 1]: got 26, expected 25 (rtol 1e-05, atol 1e-05)\n" + inputs
    )


def test_hidden_checks_never_show_inputs_or_expected_values(grader, rubrics, tmp_path):
    from grader.reporters import renderers

    path = variant(NB, tmp_path, {"def corr2d(X, K):\n    h, w = K.shape": TRUE_CONVOLUTION})
    result = grade(grader, rubrics, path)
    hidden = [c for c in result.checks if c.hidden and c.status == "failed"]
    assert hidden and all(
        c.message == "hidden check failed (its inputs and expected values are not shown)" for c in hidden
    )
    text = renderers()["text"](result, width=200)  # one line per row: the description, then why
    rows = text.split("corr2d-non-square (hidden)")[1].split("ex1")[0]
    assert "hidden check failed" in rows and "called as" not in rows and "[" not in rows


def test_public_call_messages_name_the_call(grader, rubrics, tmp_path):
    result = grade(grader, rubrics, variant(NB, tmp_path, {"    return d + 1": "    return d"}))
    assert {c.id: c.message for c in result.checks}["min-kernel-size"] == (
        "min_kernel_size(1) is 1, expected 2\n"  # the call and its inputs, then the known mistake it is
        "d taps are one too few: a finite difference of order d needs d + 1 taps (the first derivative needs two, [1, -1])."
    )


@pytest.mark.parametrize(
    "name, strip_metadata, cells, expected",
    [
        ("conv-layer.ipynb", True, None, "conv-layer"),  # the book's own file name
        ("my homework.ipynb", True, None, "conv-layer"),  # the names it defines
        ("scratch.ipynb", True, ["x = 1"], None),  # nothing to go by
    ],
)
def test_assignment_detection(tmp_path, name, strip_metadata, cells, expected):
    import subprocess
    import sys

    from nbfactory import from_cells

    if cells is None:
        path = variant(NB, tmp_path, name=name, keep_metadata=not strip_metadata)
    else:
        path = from_cells(tmp_path, cells, name=name)
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", path, "--format", "json"], capture_output=True, text=True, timeout=300
    )
    if expected is None:
        assert proc.returncode == 2
        # every assignment of the course, in order (the list grows with the course: not spelled out)
        listed = proc.stderr.split("pass --assignment with one of: ")[1].strip().split(", ")
        assert listed == sorted(listed)
        assert {"channels", "conv-layer", "lenet", "padding-and-strides", "pooling", "why-conv"} <= set(listed)
    else:
        import json

        assert json.loads(proc.stdout)["assignment"] == expected


DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "true-convolution": {
        "corr2d-example": "This is true convolution",
        "y-diag": "Y_diag is what a corr2d that flips its kernel gives",
        "y-diag-transposed-image": "Y_diag_XT is what a corr2d that flips its kernel gives",
        "y-diag-transposed-kernel": "Y_diag_KT is what a corr2d that flips its kernel gives",
    },
    "column-major-W": {"conv-matrix-example": "column by column (column-major)"},
    "kernel-size-d": {"min-kernel-size": "d taps are one too few"},
    "kernel-not-transposed": {"y-diag-transposed-kernel": "the kernel was not transposed"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "conv-layer",
    NB,
    25,
    ["ex1-observations", "ex2-explanation", "ex3-form", "ex4-kernels", "v1-ex2-kernels"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
