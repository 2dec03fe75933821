"""7.3 nin: the reference scores 100%, alternative correct answers pass, and each plausible
wrong answer loses exactly the points of the checks that should catch it.

Every network is graded by structure (built on the meta device): nothing is trained.
"""

from __future__ import annotations

from assignment_suite import standard_tests

NB = "nin.ipynb"

# ---------------------------------------------------------------- alternative correct answers
# The section's NiN written out flat, with in-place ReLUs and a whole-map nn.AvgPool2d(5) as the
# global average pooling (the same operation at 224x224), inside a module class.
NIN_AS_CLASS = """
class NiN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nin_block(1, 96, 11, 4, 0), nn.MaxPool2d(3, 2),
            nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
            nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2),
            nn.Dropout(p=0.5),
            nin_block(384, 10, 3, 1, 1))
        self.pool = nn.AvgPool2d(kernel_size=5)
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.pool(self.features(x)))


def nin():
    return NiN()


def _unused_nin():
    return nn.Sequential("""

BLOCK_WITH_LOOP = """
def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=strides, padding=padding),
              nn.ReLU(inplace=True)]
    for _ in range(2):
        layers += [nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _unused_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential("""

# The variants made by editing the section's network: delete or insert 1x1 layers in place.
VARIANTS_BY_EDITING = """
def nin_one():
    net = nin()
    for i in (0, 2, 4, 7):
        del net[i][4:6]  # the second 1x1 convolution and its ReLU
    return net


def nin_three():
    net = nin()
    for i in (0, 2, 4, 7):
        channels = net[i][2].out_channels
        net[i].append(nn.Conv2d(channels, channels, kernel_size=1))
        net[i].append(nn.ReLU())
    return net"""

# Resource counts worked out by hand: output sizes from the formula, then block by block.
COUNTS_BY_HAND = """
def out_side(n, k, s, p):
    return (n + 2 * p - k) // s + 1


# (in, out, k, s, p) of each block; the two 1x1 convolutions keep the side
blocks = [(1, 96, 11, 4, 0), (96, 256, 5, 1, 2), (256, 384, 3, 1, 1), (384, 10, 3, 1, 1)]
side, nin_params, nin_macs, nin_activations = 224, 0, 0, 0
for number, (cin, cout, k, s, p) in enumerate(blocks):
    side = out_side(side, k, s, p)
    maps = cout * side * side
    nin_params += cin * cout * k * k + cout + 2 * (cout * cout + cout)
    nin_macs += maps * cin * k * k + 2 * maps * cout
    nin_activations += 6 * maps  # three convolutions and three ReLUs
    if number < 3:
        side = out_side(side, 3, 2, 0)
        nin_activations += cout * side * side  # max pooling
    if number == 2:
        nin_activations += cout * side * side  # dropout
nin_activations += 10 + 10  # global average pooling and flatten
"""
COUNTS_CODE = (
    "calls = leaf_outputs(net, (1, 1, 224, 224))\n"
    "nin_params = num_parameters(net)\n"
    "nin_macs = sum(out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]\n"
    "               for m, out in calls if isinstance(m, nn.Conv2d))\n"
    "nin_activations = sum(out.numel() for m, out in calls)\n"
)

ALTERNATIVES = {
    "nin-as-module-class-with-avgpool": {
        "def nin():\n    return nn.Sequential(": NIN_AS_CLASS,
        "layer_shapes(net, (1, 1, 224, 224))": "print(net(torch.zeros(1, 1, 224, 224, device='meta')).shape)",
    },
    "block-with-a-loop-and-inplace-relu": {
        "def nin_block(in_channels, out_channels, kernel_size, strides, padding):\n    return nn.Sequential(": BLOCK_WITH_LOOP
    },
    "variants-by-editing-and-counts-by-hand": {
        "def nin_one():\n    return nin_variant(num_1x1=1)\n\n\ndef nin_three():\n    return nin_variant(num_1x1=3)": VARIANTS_BY_EDITING,
        COUNTS_CODE: COUNTS_BY_HAND,
    },
}

# ---------------------------------------------------------------- plausible wrong answers
BLOCK_BODY = (
    "        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),\n"
    "        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),\n"
)
HEAD = "        nn.AdaptiveAvgPool2d((1, 1)),\n        nn.Flatten(),\n"
VARIANT_BLOCK = (
    "        layers += [nn.Conv2d(out_channels, out_channels, inner_kernel, padding=inner_kernel // 2), nn.ReLU()]\n"
    "    return nn.Sequential(*layers)"
)

WRONG = {
    # section: the 1x1 convolutions without their ReLU (the counts of nin() follow it)
    "no-relu-after-the-1x1-convolutions": (
        {
            BLOCK_BODY: "        nn.Conv2d(out_channels, out_channels, kernel_size=1),\n"
            "        nn.Conv2d(out_channels, out_channels, kernel_size=1),\n"
        },
        {"nin-block": 1, "nin-layers": 1, "nin-activations": 1},
    ),
    # section: a fully connected classifier instead of the global average pooling
    "flatten-and-linear-instead-of-global-pooling": (
        {HEAD: "        nn.Flatten(),\n        nn.Linear(10 * 5 * 5, 10),\n"},
        {"nin-size": 2, "nin-layers": 1, "nin-params": 1, "nin-activations": 1},
    ),
    # exercise 2 and v1 ex. 3: one ReLU at the end of each block instead of one per convolution
    "one-relu-per-block": (
        {
            VARIANT_BLOCK: "        layers += [nn.Conv2d(out_channels, out_channels, inner_kernel, padding=inner_kernel // 2)]\n"
            "    return nn.Sequential(*layers, nn.ReLU())"
        },
        {"nin-three": 1, "nin-fc": 1},
    ),
    # exercise 2: the last block (the classifier) keeps both 1x1 convolutions
    "nin-one-keeps-the-classifier-block": (
        {
            "def nin_one():\n    return nin_variant(num_1x1=1)": "def nin_one():\n    net = nin()\n"
            "    for i in (0, 2, 4):\n        del net[i][4:6]\n    return net"
        },
        {"nin-one-size": 1, "nin-one-layers": 1},
    ),
    # v1 ex. 2 and 3: 3x3 convolutions without padding; the classifier on the 384 x 5 x 5 features
    "v1-variants-unpadded-3x3-and-fc-on-384-channels": (
        {
            "padding=inner_kernel // 2": "padding=0",
            "def nin_fc():\n    return nin_variant(head='fc')": "def nin_fc():\n    net = nin()\n"
            "    return nn.Sequential(*net[:7], nn.Flatten(), nn.Linear(384 * 5 * 5, 10))",
        },
        {"nin-3x3": 1, "nin-fc": 1},
    ),
    # exercise 3: weights without biases, FLOPs instead of MACs, only the convolutions' outputs
    "counts-without-biases-as-flops-conv-outputs": (
        {
            "nin_params = num_parameters(net)": "nin_params = sum(p.numel() for n, p in net.named_parameters() if 'weight' in n)",
            "nin_macs = sum(out.numel()": "nin_macs = 2 * sum(out.numel()",
            "nin_activations = sum(out.numel() for m, out in calls)": "nin_activations = sum(out.numel() for m, out in calls if isinstance(m, nn.Conv2d))",
        },
        {"nin-params": 1, "nin-macs": 1, "nin-activations": 1},
    ),
    # exercise 3: counted on the one-1x1 variant, only k x k convolutions, in bytes
    "counts-of-nin-one-without-1x1-in-bytes": (
        {
            "nin_params = num_parameters(net)": "nin_params = num_parameters(nin_one())",
            "for m, out in calls if isinstance(m, nn.Conv2d))": "for m, out in calls if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))",
            "nin_activations = sum(out.numel() for m, out in calls)": "nin_activations = 4 * sum(out.numel() for m, out in calls)",
        },
        {"nin-params": 1, "nin-macs": 1, "nin-activations": 1},
    ),
}

DIAGNOSED = {  # wrong answer -> words its checks' messages must contain
    "no-relu-after-the-1x1-convolutions": {"nin-layers": "the 1x1 ones included, is followed by a ReLU"},
    "flatten-and-linear-instead-of-global-pooling": {"nin-layers": "where NiN has its global average pooling"},
    "counts-without-biases-as-flops-conv-outputs": {
        "nin-params": "without the biases",
        "nin-macs": "(FLOPs)",
        "nin-activations": "Only the convolutions' outputs are counted",
    },
    "counts-of-nin-one-without-1x1-in-bytes": {
        "nin-params": "one 1x1 convolution per block",
        "nin-macs": "Only the first convolution of each block is counted",
        "nin-activations": "in bytes",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "nin",
    NB,
    12,
    ["ex1-tuning", "ex2-why-two", "ex3-memory", "ex4-one-step", "v1-ex2-3x3", "v1-ex3-fc", "v1-ex6-family"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
