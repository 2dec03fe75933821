"""7.6 resnet: the reference scores 100%, alternative correct answers pass, and each plausible
wrong answer loses exactly the points of the checks that should catch it.

Networks are graded by structure (meta device) and blocks also by tracing one forward pass on
the grader's input, so the alternatives vary what a structure cannot see the same way twice:
ReLU as modules or functions, the shortcut computed first or last, in-place addition, the
stride on either convolution of the bottleneck, the pre-activation shortcut's input.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests

NB = "resnet.ipynb"


test_missing_names_are_reported_not_crashed = missing_names_test(
    "resnet",
    {
        "residual-wiring": "Residual",
        "resnet18": "resnet18",
    },
)


# ---------------------------------------------------------------- texts of the solved notebook
RESIDUAL_INIT = """        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)
"""
RESIDUAL_FORWARD = """        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return F.relu(Y + X)"""
BOTTLENECK_MAIN = """        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)"""
BOTTLENECK_FORWARD = """        Y = self.bn3(self.conv3(Y))
        if self.shortcut is not None:
            X = self.shortcut(X)
        return F.relu(Y + X)"""
PREACT_FORWARD = """        Y = self.conv1(F.relu(self.bn1(X)))
        Y = self.conv2(F.relu(self.bn2(Y)))
        if self.conv3 is not None:
            X = self.conv3(X)
        return Y + X"""
PREACT_INIT = """        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)"""
PREACT_TAIL = """        stem(input_channels), *stages,
        nn.BatchNorm2d(channels), nn.ReLU(),"""
RESNET_STAGES = "stages.append(resnet_block(channels, num_channels, count, first_block=(i == 0)))"
RESNET_HEAD = """def resnet(num_residuals, input_channels=1, num_classes=10):
    stages, channels = [], 64"""

# ---------------------------------------------------------------- correct in another way
RESIDUAL_AS_SEQUENTIALS = """        self.main = nn.Sequential(
            nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides),
            nn.BatchNorm2d(num_channels), nn.ReLU(),
            nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(num_channels))
        self.shortcut = (nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
                         if use_1x1conv else nn.Identity())
        self.relu = nn.ReLU()
"""
RESIDUAL_SHORTCUT_FIRST = """        shortcut = self.shortcut(X)
        return self.relu(self.main(X) + shortcut)"""

BOOK_IN_PLACE = """        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)"""

PREACT_SHORTCUT_OF_PREACTIVATION = """        P = F.relu(self.bn1(X))
        Y = self.conv2(F.relu(self.bn2(self.conv1(P))))
        return Y + (self.conv3(P) if self.conv3 is not None else X)"""

ALTERNATIVES = {
    # ReLU modules, main path in an nn.Sequential, the shortcut (nn.Identity or conv) computed first
    "residual-as-sequentials-shortcut-first": {
        RESIDUAL_INIT: RESIDUAL_AS_SEQUENTIALS,
        RESIDUAL_FORWARD: RESIDUAL_SHORTCUT_FIRST,
    },
    # the book's own forward: `Y += X` in place on the batch norm's output, `if self.conv3:`;
    # and the bottleneck's stride on its first 1x1 convolution, as in the original paper
    "book-in-place-add-and-stride-on-first-1x1": {
        RESIDUAL_FORWARD: BOOK_IN_PLACE,
        BOTTLENECK_MAIN: BOTTLENECK_MAIN.replace("kernel_size=1)", "kernel_size=1, stride=strides)").replace(
            "padding=1, stride=strides)", "padding=1)"
        ),
    },
    # pre-activation: the projection shortcut takes the pre-activated input (ReLU(BN(X)))
    "preact-shortcut-of-the-preactivation": {PREACT_FORWARD: PREACT_SHORTCUT_OF_PREACTIVATION},
}

# ---------------------------------------------------------------- plausible wrong answers
WRONG = {
    "shortcut-added-after-the-final-relu": (
        {RESIDUAL_FORWARD: RESIDUAL_FORWARD.replace("return F.relu(Y + X)", "return F.relu(Y) + X")},
        {"residual-wiring": 2},
    ),
    "no-relu-between-the-convolutions": (
        {
            RESIDUAL_FORWARD: RESIDUAL_FORWARD.replace(
                "Y = F.relu(self.bn1(self.conv1(X)))", "Y = self.bn1(self.conv1(X))"
            )
        },
        {"residual-wiring": 2},
    ),
    # use_1x1conv ignored: every block whose shape changes fails to run
    "no-1x1-convolution-on-the-shortcut": (
        {RESIDUAL_INIT: RESIDUAL_INIT.replace("if use_1x1conv else None", "if False else None")},
        {
            "residual-shapes": 1,
            "residual-order": 1,
            "residual-wiring": 2,
            "resnet18": 2,
            "resnet34": 2,
            "resnet-any-depth": 1,
        },
    ),
    # the first stage also opens with a strided block with a 1x1 shortcut (only resnet18 is hit:
    # resnet() builds its stages itself)
    "resnet18-first-stage-downsamples": (
        {"resnet_block(64, 64, 2, first_block=True)": "resnet_block(64, 64, 2)"},
        {"resnet18": 2},
    ),
    # three unrelated mistakes in one notebook, each caught by its own check only:
    # resnet() ignores its block counts; the bottleneck adds the shortcut after its last ReLU;
    # the pre-activation network forgets the final batch norm and ReLU
    "fixed-depth-late-shortcut-and-no-final-bn": (
        {
            RESNET_STAGES: RESNET_STAGES.replace("count, first_block", "2, first_block"),
            BOTTLENECK_FORWARD: BOTTLENECK_FORWARD.replace("return F.relu(Y + X)", "return F.relu(Y) + X"),
            PREACT_TAIL: "        stem(input_channels), *stages,",
        },
        {"resnet34": 2, "resnet-any-depth": 1, "bottleneck-wiring": 1, "preact-resnet18": 2},
    ),
    # resnet() hard-codes one input channel and ten classes; the pre-activation block ends with a
    # ReLU after the addition (as the original block does)
    "fixed-classes-and-relu-after-the-addition": (
        {
            RESNET_HEAD: RESNET_HEAD.replace(
                "stages, channels = [], 64", "input_channels, num_classes = 1, 10\n    stages, channels = [], 64"
            ),
            PREACT_FORWARD: PREACT_FORWARD.replace("return Y + X", "return F.relu(Y + X)"),
        },
        {"resnet-any-depth": 1, "preact-wiring": 2},
    ),
    # the bottleneck forgets the expansion of its last convolution: no block runs that has an
    # identity shortcut, and the order check sees the wrong channels
    "bottleneck-without-expansion": (
        {"        out_channels = expansion * num_channels\n": "        out_channels = num_channels\n"},
        {"bottleneck-shapes": 1, "bottleneck-order": 1, "bottleneck-wiring": 1, "resnet50": 2},
    ),
    # the first block of ResNet-50's first stage has an identity shortcut: 64 channels cannot be
    # added to 256
    "resnet50-first-block-without-projection": (
        {"use_1x1conv=True, strides=1 if i == 0 else 2": "use_1x1conv=(i != 0), strides=1 if i == 0 else 2"},
        {"resnet50": 2},
    ),
    # the pre-activation block keeps the original order: convolution first, batch norm after
    "preact-keeps-the-original-order": (
        {
            PREACT_INIT: PREACT_INIT.replace(
                "self.bn1 = nn.BatchNorm2d(input_channels)", "self.bn1 = nn.BatchNorm2d(num_channels)"
            ),
            PREACT_FORWARD: PREACT_FORWARD.replace(
                "Y = self.conv1(F.relu(self.bn1(X)))\n        Y = self.conv2(F.relu(self.bn2(Y)))",
                "Y = F.relu(self.bn1(self.conv1(X)))\n        Y = F.relu(self.bn2(self.conv2(Y)))",
            ),
        },
        {"preact-order": 1, "preact-wiring": 2, "preact-resnet18": 2},
    ),
}

DIAGNOSED = {
    "shortcut-added-after-the-final-relu": {"residual-wiring": "the shortcut is added after the final ReLU"},
    "no-relu-between-the-convolutions": {"residual-wiring": "the ReLU between them is missing"},
    "fixed-depth-late-shortcut-and-no-final-bn": {"bottleneck-wiring": "the shortcut is added after the final ReLU"},
    "fixed-classes-and-relu-after-the-addition": {"preact-wiring": "a ReLU after the addition"},
    "preact-keeps-the-original-order": {"preact-order": "This is the original order"},
    "no-1x1-convolution-on-the-shortcut": {"residual-wiring": "the shortcut must be a 1x1 convolution"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "resnet",
    NB,
    19,
    ["ex1-inception-vs-residual", "ex4-why-preactivation", "ex5-unbounded-complexity"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
