"""7.2 vgg: the reference scores 100%, alternative correct answers pass, and each plausible
wrong answer loses exactly the points of the checks that should catch it.

Every network is graded by structure (built on the meta device): nothing is trained.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests

NB = "vgg.ipynb"


test_missing_names_are_reported_not_crashed = missing_names_test(
    "vgg",
    {
        "vgg-block": "vgg_block",
        "vgg16-arch": "vgg16_arch",
    },
    all_errors=False,
)


# ---------------------------------------------------------------- texts of the solved notebook
VGG_DEF = "def vgg(conv_arch):\n    blocks, in_channels = [], 1"
VGG_HEAD = "        nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(p=0.5),\n        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),"
COUNTS = "vgg11_conv_layers = sum(isinstance(m, nn.Conv2d) for m in net.modules())\n    vgg11_fc_layers = sum(isinstance(m, nn.Linear) for m in net.modules())"
SHAPES = "        vgg11_block_shapes.append(list(X.shape))"
RATIOS = (
    "vgg_alexnet_param_ratio = vgg_params / alex_params\n"
    "vgg_alexnet_mac_ratio = sum(vgg_macs.values()) / sum(alex_macs.values())\n"
    "vgg_conv_mac_share = vgg_macs['Conv2d'] / sum(vgg_macs.values())"
)
VGG96 = "    net[6] = nn.Linear(512 * 3 * 3, 4096)  # at 96x96 the five blocks leave 512 x 3 x 3"
ARCHS = (
    "vgg16_arch = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))\n"
    "vgg19_arch = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))"
)

GENERAL_VGG = """def vgg(conv_arch, in_channels=1, num_classes=10, input_size=224):
    # one function for every input size: the blocks halve the side five times
    side = input_size // 2 ** len(conv_arch)
    layers = []
    for num_convs, out_channels in conv_arch:
        layers += [vgg_block(num_convs, in_channels, out_channels)]
        in_channels = out_channels
    layers += [nn.Flatten(), nn.Linear(in_channels * side * side, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5)]
    layers += [nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, num_classes)]
    return nn.Sequential(*layers)


def _unused(conv_arch):
    blocks, in_channels = [], 1"""

BLOCK_BY_COMPREHENSION = """def vgg_block(num_convs, in_channels, out_channels):
    convs = [
        layer
        for i in range(num_convs)
        for layer in (nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), nn.ReLU())
    ]
    return nn.Sequential(*convs, nn.MaxPool2d(2))


def _unused_block(num_convs, in_channels, out_channels):
    layers = []"""

ALTERNATIVES = {
    "general-vgg-and-block-by-comprehension": {
        VGG_DEF: GENERAL_VGG,
        "def vgg_block(num_convs, in_channels, out_channels):\n    layers = []": BLOCK_BY_COMPREHENSION,
        "def vgg96():\n    net = vgg(conv_arch)\n" + VGG96: "def vgg96():\n    return vgg(conv_arch, input_size=96)",
    },
    "answers-typed-by-hand": {
        COUNTS: "vgg11_conv_layers = 8\n    vgg11_fc_layers = 3",
        SHAPES: "        pass\nvgg11_block_shapes = [(1, 64, 112, 112), (1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14), (1, 512, 7, 7)]",
        RATIOS: "vgg_alexnet_param_ratio = 2.75\nvgg_alexnet_mac_ratio = 8.04\nvgg_conv_mac_share = 0.984",
        ARCHS: "vgg16_arch = [[2, 64], [2, 128], [3, 256], [3, 512], [3, 512]]\n"
        "vgg19_arch = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]",
    },
    "vgg96-as-a-class-of-its-own": {
        "def vgg96():\n    net = vgg(conv_arch)\n" + VGG96 + "\n    return net": """class VGG96(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = vgg(conv_arch)[:5]
        self.classifier = nn.Sequential(
            nn.Linear(4608, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 10))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def vgg96():
    return VGG96()"""
    },
}

WRONG = {
    # section code
    "block-without-relu": (
        {"        layers.append(nn.ReLU())\n": ""},
        {"vgg-block": 1},
    ),
    "no-dropout": (
        {VGG_HEAD: VGG_HEAD.replace(", nn.Dropout(p=0.5)", "")},
        {"vgg11-macs-and-layers": 1},
    ),
    "first-fc-layer-without-bias": (
        {
            VGG_HEAD: VGG_HEAD.replace(
                "nn.Linear(in_channels * 7 * 7, 4096)", "nn.Linear(in_channels * 7 * 7, 4096, bias=False)"
            )
        },
        {"vgg11-parameters": 1, "vgg16-built": 1, "vgg19-built": 1},
    ),
    # exercise 1
    "blocks-counted-as-layers-shapes-without-batch": (
        {
            COUNTS: "vgg11_conv_layers = len(conv_arch)\n    vgg11_fc_layers = 2",
            SHAPES: "        vgg11_block_shapes.append(list(X.shape)[1:])",
        },
        {"vgg11-conv-layers": 1, "vgg11-fc-layers": 1, "vgg11-block-shapes": 1},
    ),
    "all-weight-layers-shapes-before-pooling": (
        {
            COUNTS: "vgg11_conv_layers = 11\n    vgg11_fc_layers = 3",
            SHAPES: "        vgg11_block_shapes.append([1, X.shape[1], 2 * X.shape[2], 2 * X.shape[3]])",
        },
        {"vgg11-conv-layers": 1, "vgg11-block-shapes": 1},
    ),
    # exercise 2
    "ratios-upside-down-share-in-percent": (
        {
            RATIOS: "vgg_alexnet_param_ratio = alex_params / vgg_params\n"
            "vgg_alexnet_mac_ratio = sum(alex_macs.values()) / sum(vgg_macs.values())\n"
            "vgg_conv_mac_share = 100 * vgg_macs['Conv2d'] / sum(vgg_macs.values())"
        },
        {"vgg-alexnet-param-ratio": 1, "vgg-alexnet-mac-ratio": 1, "vgg-conv-mac-share": 1},
    ),
    "share-of-the-fc-layers": (
        {RATIOS: RATIOS.replace("vgg_macs['Conv2d'] / sum", "vgg_macs['Linear'] / sum")},
        {"vgg-conv-mac-share": 1},
    ),
    # exercise 3
    "vgg96-pools-back-to-7x7": (
        {VGG96: "    net.insert(5, nn.AdaptiveAvgPool2d((7, 7)))  # keeps the 224 network's first linear layer"},
        {"vgg96-fc-input": 1},
    ),
    "vgg96-is-the-224-network": (
        {VGG96: "    pass"},
        {"vgg96-output": 1, "vgg96-fc-input": 1},
    ),
    # exercise 4: configurations mixed up
    "vgg16-is-vgg19-and-vgg19-has-vgg16s-third-block": (
        {
            ARCHS: "vgg16_arch = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))\n"
            "vgg19_arch = ((2, 64), (2, 128), (3, 256), (4, 512), (4, 512))"
        },
        {"vgg16-arch": 1, "vgg16-built": 1, "vgg19-arch": 1, "vgg19-built": 1},
    ),
}

DIAGNOSED = {
    "blocks-counted-as-layers-shapes-without-batch": {
        "vgg11-conv-layers": "5 is the number of blocks",
        "vgg11-fc-layers": "The output layer (4096 -> 10) is a fully connected layer too",
        "vgg11-block-shapes": "leave out the batch dimension",
    },
    "all-weight-layers-shapes-before-pooling": {
        "vgg11-conv-layers": "11 counts every weight layer",
        "vgg11-block-shapes": "before each block's max pooling",
    },
    "ratios-upside-down-share-in-percent": {
        "vgg-alexnet-param-ratio": "This is AlexNet's parameters over VGG-11's",
        "vgg-alexnet-mac-ratio": "This is AlexNet's MACs over VGG-11's",
        "vgg-conv-mac-share": "This is a percentage",
    },
    "share-of-the-fc-layers": {"vgg-conv-mac-share": "the fully connected layers' share of the MACs"},
    "vgg96-pools-back-to-7x7": {"vgg96-fc-input": "25,088 = 512 x 7 x 7 is what they leave of a 224x224 image"},
    "vgg16-is-vgg19-and-vgg19-has-vgg16s-third-block": {
        "vgg16-arch": "This is VGG-19 (E) of the paper's Table 1",
        "vgg19-arch": "19 = 16 convolutions + 3 fully connected layers; this one has 15 convolutions",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "vgg",
    NB,
    15,
    ["ex1-missing-layers", "ex2-why-slower", "ex3-smaller-input"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
