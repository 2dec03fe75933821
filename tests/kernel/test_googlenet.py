"""7.4 googlenet: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it.

Every network is graded by structure (built on the meta device); the Inception block's path
order through a probe on a tiny block; the minimum sizes by running the claim in the grader.
"""

from __future__ import annotations

from assignment_suite import standard_tests

NB = "googlenet.ipynb"

INCEPTION_CLASS = """class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)"""

# ---------------------------------------------------------------- alternative correct answers
# Paths as nn.Sequential with nn.ReLU layers in a ModuleList; the factorised block written from
# scratch; label smoothing as (1 - eps) * NLL + eps * (mean of -log p over the classes).
SEQUENTIAL_PATHS = """class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.paths = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(in_channels, c2[0], 1), nn.ReLU(),
                          nn.Conv2d(c2[0], c2[1], 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(in_channels, c3[0], 1), nn.ReLU(),
                          nn.Conv2d(c3[0], c3[1], 5, padding=2), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(in_channels, c4, 1), nn.ReLU()),
        ])

    def forward(self, x):
        return torch.cat([path(x) for path in self.paths], dim=1)


class _Unused(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)"""

FACTORIZED_FROM_SCRATCH = """
class InceptionFactorized(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1 = nn.Conv2d(in_channels, c1, 1)
        self.b2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], 1), nn.ReLU(),
                                nn.Conv2d(c2[0], c2[1], 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], 1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[0], 3, padding=1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[1], 3, padding=1))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(in_channels, c4, 1))

    def forward(self, x):
        return torch.cat([F.relu(b(x)) for b in (self.b1, self.b2, self.b3, self.b4)], dim=1)


class _UnusedFactorized(Inception):"""

SMOOTH_BODY = """    K = logits.shape[1]
    target = torch.full_like(logits, eps / K)
    target[torch.arange(len(y)), y] += 1 - eps
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()"""

SMOOTH_AS_MIXTURE = """    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, y.unsqueeze(1)).squeeze(1)
    return ((1 - eps) * nll - eps * log_p.mean(dim=1)).mean()"""

# GoogLeNet as a module class that averages the last maps with .mean (no pooling layer); a
# 28x28 design that keeps the stride-1 7x7 stem and its pooling but drops stage 2's.
GOOGLENET_CLASS = """class GoogLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = nn.Sequential(*stem(), *body())
        self.fc = nn.Linear(1024, 10)

    def forward(self, x):
        return self.fc(self.stages(x).mean(dim=(2, 3)))


def googlenet():
    return GoogLeNet()"""

OTHER_28 = """def googlenet_28():
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, padding=3), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                      nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU()),
        *body(), *head())


def _unused_28():"""

ALTERNATIVES = {
    "sequential-paths-factorized-from-scratch-smoothing-as-mixture": {
        INCEPTION_CLASS: SEQUENTIAL_PATHS,
        "class InceptionFactorized(Inception):": FACTORIZED_FROM_SCRATCH.lstrip(),
        SMOOTH_BODY: SMOOTH_AS_MIXTURE,
    },
    "googlenet-class-with-mean-and-another-28-design": {
        "def googlenet():\n    return nn.Sequential(*stem(), *body(), *head())": GOOGLENET_CLASS,
        "layer_shapes(net, (1, 1, 96, 96))": "print(net(torch.zeros(1, 1, 96, 96, device='meta')).shape)",
        "def googlenet_28():": OTHER_28,
    },
    "bn-with-biases-pytorch-smoothing-answers-by-hand": {
        "nn.Conv2d(in_channels, out_channels, kernel_size, bias=False, **kwargs)": "nn.Conv2d(in_channels, out_channels, kernel_size, **kwargs)",
        SMOOTH_BODY: "    return F.cross_entropy(logits, y, label_smoothing=eps)",
        "min_side = next(s for s in range(1, 300) if works(googlenet, s))": "min_side = 1  # ceil(s / 2) five times never reaches 0",
        "macs_224 = {name: count_macs(factory(), (1, 1, 224, 224))\n"
        "                for name, factory in [('alexnet', alexnet), ('googlenet', googlenet)]}": "macs_224 = {'alexnet': 938_146_176, 'googlenet': 1_502_982_144}",
    },
}

# ---------------------------------------------------------------- plausible wrong answers
# The block redefined in the last cell, after everything else ran: the network factories keep the correct class
# (body()'s default argument), so only the checks of the block itself see the mistake.
PATH4_WITH_C1 = """
class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c1, kernel_size=1)  # copied from path 1

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)
"""

MACS_LOOP = (
    "            total += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]\n"
    "        elif isinstance(m, nn.Linear):\n"
    "            total += out.numel() * m.in_features"
)
MACS_DICT = (
    "macs_224 = {name: count_macs(factory(), (1, 1, 224, 224))\n"
    "                for name, factory in [('alexnet', alexnet), ('googlenet', googlenet)]}"
)

WRONG = {
    "paths-concatenated-in-another-order": (
        {"return torch.cat((p1, p2, p3, p4), dim=1)": "return torch.cat((p1, p3, p2, p4), dim=1)"},
        {"inception-path-order": 1},
    ),
    "path-4-with-c1-channels": (
        {MACS_DICT: MACS_DICT + "\n" + PATH4_WITH_C1},
        {"inception-block": 2, "inception-block-small": 1, "inception-path-order": 1},
    ),
    "no-pooling-in-path-4": (
        {"p4 = F.relu(self.p4_2(self.p4_1(x)))": "p4 = F.relu(self.p4_2(x))"},
        {"inception-block": 2, "googlenet-stages": 1},
    ),
    "fixed-average-pooling-head": (
        {
            "    return [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024, 10)]": "    return [nn.AvgPool2d(3), nn.Flatten(), nn.Linear(1024, 10)]"
        },
        {"googlenet-stages": 1, "min-side": 1, "macs-224": 1},
    ),
    # batch norm only in the stem; factorised path 3 as c3[0] -> c3[1] -> c3[1]; weights-only
    # counts; the book's network as the 28x28 design
    "bn-in-stem-only-factorized-widths-weights-only-book-net-at-28": (
        {
            "*body(InceptionBN), *head(),": "*body(), *head(),",
            "nn.Conv2d(c3[0], c3[0], kernel_size=3, padding=1), nn.ReLU(),\n"
            "                                  nn.Conv2d(c3[0], c3[1], kernel_size=3, padding=1)": "nn.Conv2d(c3[0], c3[1], kernel_size=3, padding=1), nn.ReLU(),\n"
            "                                  nn.Conv2d(c3[1], c3[1], kernel_size=3, padding=1)",
            "param_counts = {name: num_parameters(factory())": "param_counts = {name: sum(p.numel() for n, p in factory().named_parameters() if n.endswith('weight'))",
            "def googlenet_28():\n": "def googlenet_28():\n    return googlenet()\n\n\ndef _unused_28():\n",
        },
        {"googlenet-bn": 2, "inception-factorized": 1, "param-counts": 2, "googlenet-28": 1},
    ),
    # FLOPs for MACs; eps over the K - 1 other classes; sizes guessed from the strides and the paper
    "flops-smoothing-over-other-classes-guessed-sizes": (
        {
            MACS_LOOP: MACS_LOOP.replace("total += out", "total += 2 * out"),
            SMOOTH_BODY: SMOOTH_BODY.replace("eps / K)", "eps / (K - 1))").replace("+= 1 - eps", "= 1 - eps"),
            "min_side = next(s for s in range(1, 300) if works(googlenet, s))": "min_side = 32",
            "min_side_paper_head = 32 * 6 + 1\nassert works": "min_side_paper_head = 224\nworks",
        },
        {"macs-224": 1, "smooth-ce-example": 1, "smooth-ce-general": 1, "min-side": 1, "min-side-paper-head": 1},
    ),
    # GoogLeNet counted at its training size; the smoothed loss summed over the minibatch
    "googlenet-macs-at-96-summed-smoothing": (
        {
            MACS_DICT: "macs_224 = {'alexnet': count_macs(alexnet(), (1, 1, 224, 224)),\n"
            "                'googlenet': count_macs(googlenet(), (1, 1, 96, 96))}",
            ".sum(dim=1).mean()": ".sum(dim=1).sum()",
        },
        {"macs-224": 1, "smooth-ce-example": 1, "smooth-ce-general": 1},
    ),
}

DIAGNOSED = {  # wrong answer -> words its checks' messages must contain
    "paths-concatenated-in-another-order": {"inception-path-order": "the paths are concatenated in the order"},
    "path-4-with-c1-channels": {"inception-path-order": "with the wrong number of output channels"},
    "bn-in-stem-only-factorized-widths-weights-only-book-net-at-28": {
        "param-counts": "weights only",
        "googlenet-28": "every block should see at least 3x3",
        "googlenet-bn": "put an nn.BatchNorm2d right after every convolution",
    },
    "flops-smoothing-over-other-classes-guessed-sizes": {
        "macs-224": "(FLOPs)",
        "smooth-ce-example": "other K - 1 classes",
        "min-side": "is not the minimum",
        "min-side-paper-head": "is not the minimum",
    },
    "googlenet-macs-at-96-summed-smoothing": {
        "macs-224": "counted at 96x96",
        "smooth-ce-example": "summed over the examples",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "googlenet",
    NB,
    18,
    ["ex1-variants", "ex2-why", "ex3-why-fewer", "v1-ex3-28", "v1-ex5-accelerator"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
