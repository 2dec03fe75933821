"""6.4 channels: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from assignment_suite import standard_tests

from grader.content import CheckFailed, PropertyContext

NB = "channels.ipynb"

COMPOSE = """    Kc = torch.zeros((a + c - 1, b + d - 1))
    for i in range(c):
        for j in range(d):
            Kc[i:i + a, j:j + b] += K2[i, j] * K1
    return Kc"""
MATMUL_COLUMNS = (
    "    columns = torch.stack([X[:, i:i + kh, j:j + kw].reshape(-1) for i in range(oh) for j in range(ow)], dim=1)"
)


def test_reference_costs_follow_the_stated_convention(rubrics):
    reference = rubrics["channels"].load_reference()
    assert reference.conv_cost(3, 8, 8, 2, 3, 3, 0, 0, 1, 1) == (2 * 6 * 6 * 27, 2 * 6 * 6 * 26)
    assert reference.conv_cost(2, 8, 8, 3, 3, 3, 0, 0, 3, 3) == (3 * 2 * 2 * 18, 3 * 2 * 2 * 17)  # floor: 2x2
    assert reference.conv_cost(1, 7, 7, 1, 3, 3, 1, 1, 2, 2) == (16 * 9, 16 * 8)  # per-side padding: 4x4
    c_i, h, w, c_o = 5, 6, 7, 3
    assert reference.conv_cost(c_i, h, w, c_o, 1, 1, 0, 0, 1, 1)[0] == c_o * c_i * h * w


def _context(rubrics, args):
    return PropertyContext(
        args=args,
        reference=rubrics["channels"].load_reference(),
        rng=np.random.default_rng(0),
        options={},
        what="compose_kernels",
    )


def test_composition_property_rejects_correlated_kernels(rubrics):
    """The property check itself: the true composition passes, the correlation of the
    kernels (same shape, wrong orientation) and a wrong shape fail."""
    prop = rubrics["channels"].load_checks().composes_two_kernels
    K1 = np.array([[1.0, 2.0], [0.0, -1.0]], dtype=np.float32)
    K2 = np.array([[1.0, -1.0, 3.0]], dtype=np.float32)
    good = rubrics["channels"].load_reference().compose_kernels(torch.tensor(K1), torch.tensor(K2)).numpy()
    prop(good, _context(rubrics, [K1, K2]))
    padded = np.pad(K1, ((0, 0), (2, 2)))
    correlated = np.array([[np.sum(padded[i : i + 1, j : j + 3] * K2) for j in range(4)] for i in range(2)])
    with pytest.raises(CheckFailed, match="differs from corr2d"):
        prop(correlated, _context(rubrics, [K1, K2]))
    with pytest.raises(CheckFailed, match="shape"):
        prop(good[:, :3], _context(rubrics, [K1, K2]))


BLOCK_CONV = """    W = torch.block_diag(*blocks)  # the (c, c) matrix, zeros off the diagonal blocks
    return corr2d_multi_in_out_1x1(X, W.reshape(c, c, 1, 1))"""
SHUFFLE = "    return X.reshape(b, c // b, h, w).transpose(0, 1).reshape(c, h, w)"

ALTERNATIVES = {
    # v1.0 exercise 7: a grouped F.conv2d, the closed form of the count, and another permutation that
    # mixes the groups (output group q takes entry j of input group (q + j) mod b)
    "grouped-conv-and-rotating-shuffle": {
        BLOCK_CONV: "    b, m, _ = blocks.shape\n    return F.conv2d(X[None], blocks.reshape(c, m, 1, 1), groups=b)[0]",
        "    return b * m * m  #": "    return c * c // b  #",
        SHUFFLE: "    m = c // b\n    return X[[((q + j) % b) * m + j for q in range(b) for j in range(m)]]",
    },
    # convolution commutes: sliding K2 copies of K1 or K1 copies of K2 gives the same kernel
    "compose-by-scattering-K1": {
        COMPOSE: """    Kc = torch.zeros((a + c - 1, b + d - 1))
    for i in range(a):
        for j in range(b):
            Kc[i:i + c, j:j + d] += K1[i, j] * K2
    return Kc"""
    },
    "compose-with-conv2d": {
        COMPOSE: "    return F.conv2d(F.pad(K1, (d - 1, d - 1, c - 1, c - 1))[None, None], K2.flip(0, 1)[None, None])[0, 0]"
    },
    "cost-as-list-with-float-floor": {
        "    o_h = (h + 2 * p_h - k_h) // s_h + 1\n    o_w = (w + 2 * p_w - k_w) // s_w + 1": "    import math\n    o_h = math.floor((h + 2 * p_h - k_h) / s_h) + 1\n    o_w = math.floor((w + 2 * p_w - k_w) / s_w) + 1",
        "    return outputs * per_output, outputs * (per_output - 1)": "    return [outputs * per_output, outputs * per_output - outputs]",
    },
    "factor-measured": {
        "cost_factor_double_channels = 4": "cost_factor_double_channels = conv_cost(6, 8, 8, 4, 3, 3, 1, 1, 1, 1)[0] / conv_cost(3, 8, 8, 2, 3, 3, 1, 1, 1, 1)[0]"
    },
    # the pinned grading environment really shows the difference on the seeded example
    "equality-observed": {"Y1_equals_Y2_exactly = False": "Y1_equals_Y2_exactly = torch.equal(Y1, Y2)"},
    "equality-as-bool-tensor": {"Y1_equals_Y2_exactly = False": "Y1_equals_Y2_exactly = (Y1 == Y2).all()"},
    "matmul-with-F-unfold": {MATMUL_COLUMNS: "    columns = F.unfold(X[None], (kh, kw))[0]"},
    "matmul-with-tensor-unfold": {
        MATMUL_COLUMNS: "    columns = X.unfold(1, kh, 1).unfold(2, kw, 1).permute(0, 3, 4, 1, 2).reshape(c_i * kh * kw, oh * ow)"
    },
}


WRONG = {
    # full cross-correlation of the kernels (K2 not flipped): right shape, wrong kernel
    "compose-correlates-kernels": (
        {COMPOSE: "    return corr2d(F.pad(K1, (d - 1, d - 1, c - 1, c - 1)), K2)"},
        {"compose-kernels-example": 1, "compose-kernels-shapes": 2},
    ),
    # the public kernels are square: reading K2's width from its height fails the hidden ones
    "compose-square-K2-assumed": (
        {"    (a, b), (c, d) = K1.shape, K2.shape": "    (a, b), (c, _) = K1.shape, K2.shape\n    d = c"},
        {"compose-kernels-shapes": 2},
    ),
    # padding read as the total of both sides (public cases have no padding)
    "cost-padding-as-total": (
        {
            "    o_h = (h + 2 * p_h - k_h) // s_h + 1\n    o_w = (w + 2 * p_w - k_w) // s_w + 1": "    o_h = (h + p_h - k_h) // s_h + 1\n    o_w = (w + p_w - k_w) // s_w + 1"
        },
        {"conv-cost-padding-stride": 2},
    ),
    # a partial last step counted (public cases have stride 1)
    "cost-ceil-instead-of-floor": (
        {
            "    o_h = (h + 2 * p_h - k_h) // s_h + 1\n    o_w = (w + 2 * p_w - k_w) // s_w + 1": "    o_h = -(-(h + 2 * p_h - k_h) // s_h) + 1\n    o_w = -(-(w + 2 * p_w - k_w) // s_w) + 1"
        },
        {"conv-cost-padding-stride": 2},
    ),
    # one addition per product (accumulating from zero) instead of the stated convention
    "cost-additions-equal-multiplications": (
        {
            "    return outputs * per_output, outputs * (per_output - 1)": "    return outputs * per_output, outputs * per_output"
        },
        {"conv-cost-example": 1, "conv-cost-padding-stride": 2, "conv-cost-1x1": 1},
    ),
    "factor-two": (
        {"cost_factor_double_channels = 4": "cost_factor_double_channels = 2"},
        {"cost-factor-double-channels": 1},
    ),
    # "equal up to tolerance" is not "exactly equal"
    "equality-from-allclose": (
        {"Y1_equals_Y2_exactly = False": "Y1_equals_Y2_exactly = torch.allclose(Y1, Y2, rtol=1e-5, atol=1e-5)"},
        {"y1-equals-y2-exactly": 1},
    ),
    "equality-as-text": (
        {"Y1_equals_Y2_exactly = False": "Y1_equals_Y2_exactly = 'False'"},
        {"y1-equals-y2-exactly": 1},
    ),
    # window flattened position-major while the kernel is flattened channel-major
    "matmul-mismatched-flattening": (
        {
            MATMUL_COLUMNS: MATMUL_COLUMNS.replace(
                "X[:, i:i + kh, j:j + kw].reshape(-1)", "X[:, i:i + kh, j:j + kw].permute(1, 2, 0).reshape(-1)"
            )
        },
        {"matmul-example": 1, "matmul-shapes": 2},
    ),
    # the public kernel is square: k_w read from k_h fails the hidden non-square ones
    "matmul-square-kernel-assumed": (
        {"    c_o, _, kh, kw = K.shape": "    c_o, _, kh, _ = K.shape\n    kw = kh"},
        {"matmul-shapes": 2},
    ),
}


WRONG.update(
    {
        # v1.0 exercise 7: each block applied transposed (rows and columns of the blocks swapped)
        "block-diagonal-transposed-blocks": (
            {"    W = torch.block_diag(*blocks)": "    W = torch.block_diag(*blocks.transpose(1, 2))"},
            {"block-diagonal-example": 1, "block-diagonal-shapes": 2},
        ),
        # two mistakes on different checks: the cost of one block only, and a reshape without the
        # transpose (the channels come back in their order: no group is mixed)
        "block-diagonal-one-block-cost-and-no-shuffle": (
            {
                "    return b * m * m  #": "    return m * m  #",
                SHUFFLE: "    return X.reshape(b, c // b, h, w).reshape(c, h, w)",
            },
            {"block-diagonal-mults": 1, "channel-shuffle": 1},
        ),
    }
)

DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "cost-additions-equal-multiplications": {
        "conv-cost-example": "one addition per product",
        "conv-cost-1x1": "one addition per product",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "channels",
    NB,
    17,
    ["ex1-proof", "ex2-memory", "ex3-padding", "ex5-why", "v1-ex6-strips", "v1-ex7-blocks"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
