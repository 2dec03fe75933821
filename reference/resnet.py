"""Reference networks for d2l 7.6 "Residual Networks (ResNet)" (PyTorch), written afresh.

Run only in the grader: the `structure` checks build these under `torch.device("meta")`
and compare parameter counts, MACs and shapes with the student's networks; the property
checks in rubrics/resnet_checks.py use the block recipes below to say which layers a block
must call, and `block_output` to name wiring mistakes from the tensors a probe traced.

Conventions (the notebook states them): every convolution keeps nn.Conv2d's default bias,
as in the book's `Residual`; activations may be modules or functions (they hold no
parameters, so counts never depend on the choice).

Reference numbers (recomputed by the tests in tests/unit/test_resnet_densenet_content.py):
the book's ResNet-18 for 1 input channel and 10 classes has 11,178,378 parameters and
0.32 GMAC on a 96x96 input; with [3, 4, 6, 3] residuals per stage (ResNet-34) it has
21,286,538.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STAGE_CHANNELS = (64, 128, 256, 512)


# ------------------------------------------------------------------ the section's blocks
class Residual(nn.Module):
    """Conv3x3(stride) -> BN -> ReLU -> Conv3x3 -> BN, plus the shortcut (the input, or a
    strided 1x1 convolution of it), then ReLU."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, relu_first=False):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.shortcut = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.relu_first = relu_first  # a known mistake: ReLU of the main path, then the addition

    def forward(self, X):
        Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
        shortcut = X if self.shortcut is None else self.shortcut(X)
        return F.relu(Y) + shortcut if self.relu_first else F.relu(Y + shortcut)


def stem(input_channels=1):
    """The first module of the book's ResNet (and of GoogLeNet): 7x7/2 conv, BN, ReLU, 3x3/2 max pool."""
    return nn.Sequential(
        nn.Conv2d(input_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )


def resnet(num_residuals=(2, 2, 2, 2), input_channels=1, num_classes=10, relu_first=False):
    """The book's ResNet with `num_residuals[i]` residual blocks in stage i: stage 1 keeps
    64 channels and the size, every later stage opens with a strided block whose shortcut is
    a 1x1 convolution, doubling the channels and halving height and width."""
    layers = [stem(input_channels)]
    channels = 64
    for stage, (width, count) in enumerate(zip(STAGE_CHANNELS, num_residuals, strict=True)):
        blocks = []
        for i in range(count):
            if i == 0 and stage > 0:
                blocks.append(Residual(channels, width, use_1x1conv=True, strides=2, relu_first=relu_first))
            else:
                blocks.append(Residual(width, width, relu_first=relu_first))
            channels = width
        layers.append(nn.Sequential(*blocks))
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


def resnet18(input_channels=1, num_classes=10):
    return resnet((2, 2, 2, 2), input_channels, num_classes)


def resnet34(input_channels=1, num_classes=10):
    return resnet((3, 4, 6, 3), input_channels, num_classes)


# ------------------------------------------------------------------ exercise 3: bottleneck
class Bottleneck(nn.Module):
    """Conv1x1 -> BN -> ReLU -> Conv3x3(stride) -> BN -> ReLU -> Conv1x1(x expansion) -> BN,
    plus the shortcut (the input, or a strided 1x1 convolution), then ReLU."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, expansion=4):
        super().__init__()
        out = num_channels * expansion
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv3 = nn.Conv2d(num_channels, out, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = nn.Conv2d(input_channels, out, kernel_size=1, stride=strides) if use_1x1conv else None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        return F.relu(Y + (X if self.shortcut is None else self.shortcut(X)))


def bottleneck_resnet(num_residuals=(3, 4, 6, 3), input_channels=1, num_classes=10, expansion=4):
    """ResNet-50/101/152 layout in the book's setting: the stem, four stages of bottleneck
    blocks (64, 128, 256, 512 bottleneck channels, x4 out); the first block of every stage
    has a 1x1 shortcut convolution (stride 1 in stage 1, 2 after)."""
    layers = [stem(input_channels)]
    channels = 64
    for stage, (width, count) in enumerate(zip(STAGE_CHANNELS, num_residuals, strict=True)):
        blocks = []
        for i in range(count):
            first = i == 0
            blocks.append(
                Bottleneck(
                    channels, width, use_1x1conv=first, strides=2 if first and stage > 0 else 1, expansion=expansion
                )
            )
            channels = width * expansion
        layers.append(nn.Sequential(*blocks))
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------ exercise 4: pre-activation
class PreActResidual(nn.Module):
    """BN -> ReLU -> Conv3x3(stride) -> BN -> ReLU -> Conv3x3, plus the shortcut (the input,
    or a strided 1x1 convolution of it); nothing after the addition ("ResNet v2")."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.shortcut = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None

    def forward(self, X):
        Y = self.conv1(F.relu(self.bn1(X)))
        Y = self.conv2(F.relu(self.bn2(Y)))
        return Y + (X if self.shortcut is None else self.shortcut(X))


def preact_resnet18(input_channels=1, num_classes=10):
    """The book's stem, four stages of two pre-activation blocks, then the BN and ReLU that the
    last block no longer applies, global average pooling and the classifier."""
    layers = [stem(input_channels)]
    channels = 64
    for stage, width in enumerate(STAGE_CHANNELS):
        first = PreActResidual(channels, width, use_1x1conv=stage > 0, strides=2 if stage > 0 else 1)
        layers.append(nn.Sequential(first, PreActResidual(width, width)))
        channels = width
    layers += [
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(channels, num_classes),
    ]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------ recipes for the checks
def conv(cin, cout, k, stride=None):
    """A convolution the layer-order checks expect: (type, in, out, kernel, stride or None =
    any stride, padding keeps the size)."""
    return ("Conv2d", cin, cout, k, stride)


def bn(c):
    return ("BatchNorm2d", c)


def residual_recipe(input_channels, num_channels, use_1x1conv=False, strides=1):
    """(main path in call order, shortcut convolution or None) of the section's block."""
    main = [conv(input_channels, num_channels, 3, strides), bn(num_channels), conv(num_channels, num_channels, 3, 1)]
    main.append(bn(num_channels))
    return main, conv(input_channels, num_channels, 1, strides) if use_1x1conv else None


def bottleneck_recipe(input_channels, num_channels, use_1x1conv=False, strides=1, expansion=4):
    """The bottleneck's main path; the stride may sit on either of the first two convolutions
    (the paper puts it on the first 1x1, torchvision on the 3x3), so it is not prescribed."""
    out = num_channels * expansion
    main = [conv(input_channels, num_channels, 1), bn(num_channels), conv(num_channels, num_channels, 3)]
    main += [bn(num_channels), conv(num_channels, out, 1, 1), bn(out)]
    return main, conv(input_channels, out, 1, strides) if use_1x1conv else None


def preact_recipe(input_channels, num_channels, use_1x1conv=False, strides=1):
    main = [bn(input_channels), conv(input_channels, num_channels, 3, strides), bn(num_channels)]
    main.append(conv(num_channels, num_channels, 3, 1))
    return main, conv(input_channels, num_channels, 1, strides) if use_1x1conv else None


RECIPES = {"residual": residual_recipe, "bottleneck": bottleneck_recipe, "preact": preact_recipe}


# ------------------------------------------------------------------ what a block's output must be
def _t(x):
    return torch.as_tensor(x, dtype=torch.float64)


def block_output(kind, X, outputs):
    """The output a block of `kind` must produce from the input X and the traced outputs of
    its own layers (`outputs`: role -> tensor: "bn_last" the last main-path BN (residual,
    bottleneck) or "conv_last" the last main-path convolution (preact), and "shortcut" the
    shortcut convolution's output or None)."""
    shortcut = _t(X) if outputs.get("shortcut") is None else _t(outputs["shortcut"])
    if kind == "preact":
        return _t(outputs["conv_last"]) + shortcut
    return F.relu(_t(outputs["bn_last"]) + shortcut)


def block_mistakes(kind, X, outputs):
    """Known wrong outputs of a block of `kind`, each with what the mistake is."""
    shortcut = _t(X) if outputs.get("shortcut") is None else _t(outputs["shortcut"])
    if kind == "preact":
        last = _t(outputs["conv_last"])
        return [
            (F.relu(last + shortcut), "a ReLU after the addition: a pre-activation block adds the shortcut last"),
            (last, "the shortcut is never added"),
        ]
    last = _t(outputs["bn_last"])
    return [
        (
            F.relu(last) + shortcut,
            "the shortcut is added after the final ReLU: add it to the batch-normalised output first, "
            "then apply the ReLU to the sum",
        ),
        (last + shortcut, "no ReLU after the addition"),
        (F.relu(last), "the shortcut is never added"),
    ]
