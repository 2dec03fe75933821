"""Reference networks for d2l 7.7 "Densely Connected Networks (DenseNet)" (PyTorch), written afresh.

Run only in the grader: the `structure` checks build these under `torch.device("meta")` and
compare parameter counts, MACs and shapes with the student's networks. Known wrong versions
(a transition that keeps the channels, the growth rate applied to the input channels, no
bottleneck) are built here too, so that the property checks in rubrics/densenet_checks.py
can name the mistake a wrong count comes from.

Reference numbers (recomputed by tests/unit/test_resnet_densenet_content.py): the book's
DenseNet for 1 input channel and 10 classes has 758,226 parameters and 0.13 GMAC on a 96x96
input. The paper's ImageNet DenseNets (growth rate 32, bottleneck, compression 0.5, no
convolution biases) have 7,978,856 (121), 14,149,480 (169), 20,013,928 (201) and 33,337,704
(264) parameters; the first three are torchvision's densenet121/169/201 counts.
"""

from __future__ import annotations

import torch
from torch import nn

BOOK_BLOCKS = (4, 4, 4, 4)
PAPER_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32), 264: (6, 12, 64, 48)}


# ------------------------------------------------------------------ the section's blocks
def conv_block(input_channels, num_channels, bias=True):
    """BN -> ReLU -> 3x3 convolution (padding 1): the book's "pre-activation" unit."""
    return nn.Sequential(
        nn.BatchNorm2d(input_channels),
        nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, bias=bias),
    )


class DenseBlock(nn.Module):
    """`num_convs` units; unit i sees the block's input and the outputs of units 0..i-1,
    concatenated on the channels, and adds `num_channels` (the growth rate) channels."""

    def __init__(self, num_convs, input_channels, num_channels, unit=conv_block):
        super().__init__()
        self.units = nn.ModuleList(unit(input_channels + i * num_channels, num_channels) for i in range(num_convs))

    def forward(self, X):
        for unit in self.units:
            X = torch.cat((X, unit(X)), dim=1)
        return X


def transition_block(input_channels, num_channels, bias=True):
    """BN -> ReLU -> 1x1 convolution to `num_channels` -> 2x2 average pooling (stride 2)."""
    return nn.Sequential(
        nn.BatchNorm2d(input_channels),
        nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1, bias=bias),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )


def densenet(input_channels=1, num_classes=10, blocks=BOOK_BLOCKS, growth_rate=32, compress=True):
    """The book's DenseNet: the ResNet stem (64 channels), four dense blocks of four units
    (growth 32) with a transition halving channels, height and width between them, then
    BN, ReLU, global average pooling and a linear classifier.

    `compress=False` builds a known mistake: transitions that keep the channels."""
    layers = [
        nn.Conv2d(input_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    ]
    channels = 64
    for i, num_convs in enumerate(blocks):
        layers.append(DenseBlock(num_convs, channels, growth_rate))
        channels += num_convs * growth_rate
        if i != len(blocks) - 1:
            out = channels // 2 if compress else channels
            layers.append(transition_block(channels, out))
            channels = out
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()]
    layers.append(nn.Linear(channels, num_classes))
    return nn.Sequential(*layers)


def densenet_without_compression(input_channels=1, num_classes=10):
    return densenet(input_channels, num_classes, compress=False)


# ------------------------------------------------------------------ exercise 4: the paper's DenseNets
def bottleneck_unit(input_channels, growth_rate, bias=False):
    """BN -> ReLU -> 1x1 convolution to 4k channels -> BN -> ReLU -> 3x3 convolution to k."""
    return nn.Sequential(
        nn.BatchNorm2d(input_channels),
        nn.ReLU(),
        nn.Conv2d(input_channels, 4 * growth_rate, kernel_size=1, bias=bias),
        nn.BatchNorm2d(4 * growth_rate),
        nn.ReLU(),
        nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=bias),
    )


def densenet_imagenet(
    blocks=PAPER_BLOCKS[121],
    growth_rate=32,
    num_classes=1000,
    input_channels=3,
    bias=False,
    bottleneck=True,
    compression=0.5,
):
    """The paper's ImageNet DenseNet-BC (Table 1): a 7x7/2 convolution to 2k channels, BN,
    ReLU, 3x3/2 max pooling; dense blocks of bottleneck units; transitions compressing the
    channels by `compression` (floor) with a 1x1 convolution and 2x2 average pooling; then
    BN, ReLU, global average pooling and a `num_classes`-way linear layer. `bias=False` is
    the paper's (and torchvision's) count; the other arguments build known mistakes."""
    stem_channels = 2 * growth_rate

    def unit(cin, k):
        return bottleneck_unit(cin, k, bias) if bottleneck else conv_block(cin, k, bias)

    layers = [
        nn.Conv2d(input_channels, stem_channels, kernel_size=7, stride=2, padding=3, bias=bias),
        nn.BatchNorm2d(stem_channels),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    ]
    channels = stem_channels
    for i, num_convs in enumerate(blocks):
        layers.append(DenseBlock(num_convs, channels, growth_rate, unit=unit))
        channels += num_convs * growth_rate
        if i != len(blocks) - 1:
            out = int(channels * compression)
            layers.append(transition_block(channels, out, bias))
            channels = out
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()]
    layers.append(nn.Linear(channels, num_classes))
    return nn.Sequential(*layers)


def densenet_imagenet_without_bottleneck(blocks=PAPER_BLOCKS[121], growth_rate=32, num_classes=1000):
    return densenet_imagenet(blocks, growth_rate, num_classes, bottleneck=False)


def densenet_imagenet_without_compression(blocks=PAPER_BLOCKS[121], growth_rate=32, num_classes=1000):
    return densenet_imagenet(blocks, growth_rate, num_classes, compression=1.0)


# ------------------------------------------------------------------ exercise 5: a dense MLP
class DenseMLP(nn.Module):
    """`num_layers` hidden layers Linear -> ReLU of `growth` units each; layer i sees the
    input features and every earlier layer's output, concatenated; a final linear layer
    maps all of them (num_inputs + num_layers * growth features) to `num_outputs`."""

    def __init__(self, num_inputs, num_layers, growth, num_outputs=1):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(num_inputs + i * growth, growth) for i in range(num_layers))
        self.out = nn.Linear(num_inputs + num_layers * growth, num_outputs)

    def forward(self, X):
        for layer in self.hidden:
            X = torch.cat((X, torch.relu(layer(X))), dim=1)
        return self.out(X)


# ------------------------------------------------------------------ counting
def conv_bias_parameters(net):
    """Parameters in the biases of the convolutions of a `grader.content.Network`."""
    return sum(
        shape[0]
        for m in net.modules
        if m.type in ("Conv2d", "Conv1d", "Conv3d")
        for key, shape in m.params.items()
        if key == "bias"
    )
