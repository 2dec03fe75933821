"""6.5 pooling: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it."""

from __future__ import annotations

from assignment_suite import standard_tests
from nbfactory import lost, variant

NB = "pooling.ipynb"


def test_probe_restores_pytorch(grader, rubrics, tmp_path):
    """The probe switches pooling/max/mean off only while it runs: a cell that runs after
    the harness is not graded, so check from inside a graded function instead."""
    path = variant(
        NB,
        tmp_path,
        append=[
            """
def min_pool2d(X, pool_size):
    # runs after with_pooling_disabled in plan order: relies on torch.max and F.max_pool2d
    assert torch.max(torch.tensor([1.0, 3.0])) == 3.0 and X.mean() == X.mean()
    return -F.max_pool2d(-X, pool_size)
"""
        ],
    )
    assert lost(grade(grader, rubrics, path)) == {}


UNFOLD_AVG = """
def avg_pool_via_conv(X, pool_size):
    # the same convolution written by hand: im2col, then one kernel of equal weights
    p_h, p_w = pool_size
    windows = X.unfold(1, p_h, p_h).unfold(2, p_w, p_w)
    kernel = torch.full((p_h * p_w,), 1.0 / (p_h * p_w))
    return windows.reshape(*windows.shape[:3], -1) @ kernel


def _unused_avg(X, pool_size):
    p_h, p_w = pool_size
    channels = X.shape[0]"""

MODULE_MAX = """
def max_pool_via_conv_relu(X):
    # nn.Conv2d with fixed selector weights, and max(a, b) = relu(a - b) + b
    C = X.shape[0]
    pick = nn.Conv2d(C, 4 * C, kernel_size=2, stride=2, groups=C, bias=False)
    with torch.no_grad():
        pick.weight.zero_()
        for k in range(4):
            pick.weight[k::4, 0, k // 2, k % 2] = 1.0
        out = pick(X.unsqueeze(0)).squeeze(0)
    entries = out.reshape(C, 4, *out.shape[1:])
    m1 = F.relu(entries[:, 0] - entries[:, 1]) + entries[:, 1]
    m2 = F.relu(entries[:, 2] - entries[:, 3]) + entries[:, 3]
    return F.relu(m1 - m2) + m2


def _unused_max(X):
    a, b, c, d = (_window_entry(X, i, j) for i in (0, 1) for j in (0, 1))"""

NAIVE_STABLE_SOFTMAX = """
def softmax_pool(X, pool_size, tau):
    p_h, p_w = pool_size
    cols = F.unfold(X.unsqueeze(0), pool_size, stride=pool_size)
    cols = cols.reshape(X.shape[0], p_h * p_w, -1)
    z = cols / tau
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)  # shift by the max by hand
    out = (e * cols).sum(dim=1) / e.sum(dim=1)
    return out.reshape(X.shape[0], X.shape[1] // p_h, X.shape[2] // p_w)


def _unused_softmax(X, pool_size, tau):
    p_h, p_w = pool_size"""

MAX_3X3 = """def max_pool3x3_via_conv_relu(X):
    values = _window_entries(X, 3)"""

# one convolution picks all nine entries; max(a, b) = (a + b + |a - b|) / 2 with |x| = relu(x) + relu(-x);
# the counts from the closed forms
SELECTOR_3X3 = """def max_pool3x3_via_conv_relu(X):
    C = X.shape[0]
    pick = torch.zeros((9 * C, 1, 3, 3))
    for k in range(9):
        pick[k::9, 0, k // 3, k % 3] = 1.0
    out = F.conv2d(X.unsqueeze(0), pick, stride=3, groups=C).squeeze(0)
    values = list(out.reshape(C, 9, *out.shape[1:]).unbind(1))

    def mx(a, b):
        return (a + b + F.relu(a - b) + F.relu(b - a)) / 2

    while len(values) > 1:
        values = [mx(values[0], values[1])] + values[2:]
    return values[0]


def max_pool_relu_counts(p):
    import math
    n = p * p
    return 3 * (n // 2) + 2 * (n % 2), math.ceil(math.log2(n))


def _unused_3x3(X):
    values = _window_entries(X, 3)"""

ALTERNATIVES = {
    "selector-conv-3x3-closed-form-counts": {MAX_3X3: SELECTOR_3X3},
    "unfold-avg-pool": {
        "def avg_pool_via_conv(X, pool_size):\n    p_h, p_w = pool_size\n    channels = X.shape[0]": UNFOLD_AVG
    },
    "conv-module-max-pool": {
        "def max_pool_via_conv_relu(X):\n    a, b, c, d = (_window_entry(X, i, j) for i in (0, 1) for j in (0, 1))": MODULE_MAX
    },
    "min-pool-via-module": {"return -F.max_pool2d(-X, pool_size)": "return -nn.MaxPool2d(pool_size)(-X)"},
    "pool-cost-from-padded-size": {
        "    o_h = (h + 2 * p_h - p_h) // s_h + 1\n    o_w = (w + 2 * p_w - p_w) // s_w + 1": "    o_h = len(range(0, h + 2 * p_h - p_h + 1, s_h))\n    o_w = len(range(0, w + 2 * p_w - p_w + 1, s_w))"
    },
    "softmax-by-hand": {"def softmax_pool(X, pool_size, tau):\n    p_h, p_w = pool_size": NAIVE_STABLE_SOFTMAX},
    "pool2d-builtin-reductions": {
        "out[row, col] = window.max() if mode == 'max' else window.mean()": "out[row, col] = torch.amax(window) if mode == 'max' else window.sum() / window.numel()"
    },
}


WRONG = {
    # v1.0 exercise 3: the tournament drops the value left without a partner (the ninth entry)
    "max3x3-drops-the-odd-value": (
        {"        values = paired + values[len(paired) * 2:]": "        values = paired"},
        {"max-relu-3x3-example": 1, "max-relu-3x3-negative-values": 2, "max-relu-3x3-is-convolutions": 1},
    ),
    # two mistakes on different checks: 3x3 pooling by the pooling layer itself, and counts of a
    # chain (one more entry per layer: 3 units, n - 1 layers) instead of the tournament
    "max3x3-by-pooling-and-chain-counts": (
        {
            "        values = paired + values[len(paired) * 2:]\n    return values[0]": "        values = paired + values[len(paired) * 2:]\n    return F.max_pool2d(X, 3)",
            "    return max(widths), len(widths)": "    return 3, p * p - 1",
        },
        {"max-relu-3x3-is-convolutions": 1, "max-relu-counts": 1, "max-relu-counts-larger": 1},
    ),
    # section code
    "pool2d-avg-sums": (
        {"else window.mean()": "else window.sum()"},
        {"pool2d-example": 1, "pool2d-non-square": 1},
    ),
    "pool2d-swapped-window": (
        {"    p_h, p_w = pool_size\n    out = torch.zeros": "    p_w, p_h = pool_size\n    out = torch.zeros"},
        {"pool2d-non-square": 1},
    ),
    # exercise 1
    "avg-conv-mixes-channels": (
        {
            "K = torch.full((channels, 1, p_h, p_w), 1.0 / (p_h * p_w))\n    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=channels)": "K = torch.full((channels, channels, p_h, p_w), 1.0 / (p_h * p_w))\n    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w))"
        },
        {"avg-conv-channels": 2},
    ),
    "avg-conv-stride-one": (
        {"stride=(p_h, p_w), groups=channels": "stride=1, groups=channels"},
        {"avg-conv-example": 1, "avg-conv-channels": 2, "avg-conv-is-a-convolution": 1},
    ),
    "avg-conv-calls-avg-pool": (
        {
            "    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=channels).squeeze(0)": "    return F.avg_pool2d(X, pool_size)"
        },
        {"avg-conv-is-a-convolution": 1},
    ),
    "avg-conv-mean-of-unfold": (
        {
            "    return F.conv2d(X.unsqueeze(0), K, stride=(p_h, p_w), groups=channels).squeeze(0)": "    return X.unfold(1, p_h, p_h).unfold(2, p_w, p_w).mean(dim=(-1, -2))"
        },
        {"avg-conv-is-a-convolution": 1},
    ),
    # exercise 2
    "max-pool-said-to-be-conv": ({"max_pool_is_conv = False": "max_pool_is_conv = True"}, {"max-pool-is-not-conv": 1}),
    "relu-identity-drops-negative-part": (
        {"return F.relu(a - b) + F.relu(b) - F.relu(-b)": "return F.relu(a - b) + F.relu(b)"},
        {"max-relu-negative-values": 2},
    ),
    "max-via-max-pool": (
        {"    return _relu_max(_relu_max(a, b), _relu_max(c, d))": "    return F.max_pool2d(X, 2)"},
        {"max-relu-is-convolutions": 1},
    ),
    "max-via-tensor-max": (
        {
            "def _relu_max(a, b):\n    return F.relu(a - b) + F.relu(b) - F.relu(-b)": "def _relu_max(a, b):\n    return torch.stack([a, b]).max(dim=0).values"
        },
        {"max-relu-is-convolutions": 1},
    ),
    # exercise 3
    "pool-cost-ignores-padding": (
        {
            "    o_h = (h + 2 * p_h - p_h) // s_h + 1\n    o_w = (w + 2 * p_w - p_w) // s_w + 1": "    o_h = (h - p_h) // s_h + 1\n    o_w = (w - p_w) // s_w + 1"
        },
        {"pool-cost-example": 1, "pool-cost-general": 2},
    ),
    # the book's convention (padding p in all) where this notebook pads p on each side: 240, not 360
    "pool-cost-total-padding": (
        {
            "    o_h = (h + 2 * p_h - p_h) // s_h + 1\n    o_w = (w + 2 * p_w - p_w) // s_w + 1": "    o_h = (h + p_h - p_h) // s_h + 1\n    o_w = (w + p_w - p_w) // s_w + 1"
        },
        {"pool-cost-example": 1, "pool-cost-general": 2},
    ),
    "pool-cost-swapped-strides": (
        {
            "    o_h = (h + 2 * p_h - p_h) // s_h + 1\n    o_w = (w + 2 * p_w - p_w) // s_w + 1": "    o_h = (h + 2 * p_h - p_h) // s_w + 1\n    o_w = (w + 2 * p_w - p_w) // s_h + 1"
        },
        {"pool-cost-general": 2},
    ),
    "pool-cost-forgets-channels": (
        {"return c * o_h * o_w * p_h * p_w": "return o_h * o_w * p_h * p_w"},
        {"pool-cost-example": 1, "pool-cost-general": 2},
    ),
    # exercise 5
    "min-pool-via-reciprocals": (
        {"return -F.max_pool2d(-X, pool_size)": "return 1 / F.max_pool2d(1 / X, pool_size)"},
        {"min-pool-negative-values": 2},
    ),
    "min-pool-forgets-outer-negation": (
        {"return -F.max_pool2d(-X, pool_size)": "return F.max_pool2d(-X, pool_size)"},
        {"min-pool-example": 1, "min-pool-negative-values": 2},
    ),
    # exercise 6
    "softmax-naive-exp-overflows": (
        {
            "    weights = torch.softmax(windows / tau, dim=-1)  # torch.softmax subtracts the max: stable": "    e = torch.exp(windows / tau)\n    weights = e / e.sum(dim=-1, keepdim=True)"
        },
        {"softmax-pool-small-tau": 1},
    ),
    "softmax-multiplies-by-tau": (
        {"torch.softmax(windows / tau, dim=-1)": "torch.softmax(windows * tau, dim=-1)"},
        {"softmax-pool-large-tau": 1, "softmax-pool-small-tau": 1, "softmax-pool-intermediate": 2},
    ),
    "softmax-of-negated-entries": (
        {"torch.softmax(windows / tau, dim=-1)": "torch.softmax(-windows / tau, dim=-1)"},
        {"softmax-pool-tau-one": 1, "softmax-pool-small-tau": 1, "softmax-pool-intermediate": 2},
    ),
    "softmax-returns-weights-only": (
        {"return (weights * windows).sum(dim=-1)": "return weights.max(dim=-1).values"},
        {
            "softmax-pool-tau-one": 1,
            "softmax-pool-large-tau": 1,
            "softmax-pool-small-tau": 1,
            "softmax-pool-intermediate": 2,
        },
    ),
}


DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "pool2d-avg-sums": {"pool2d-example": "sums each window"},
    "pool-cost-ignores-padding": {"pool-cost-example": "left out of the output size"},
    "pool-cost-total-padding": {"pool-cost-example": "counted once (the book's total-padding convention)"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "pooling",
    NB,
    28,
    ["ex1-kernel", "ex2-why-not-conv", "ex4-max-vs-avg", "ex5-min-pool", "ex6-softmax-pool", "v1-ex3-counts"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
