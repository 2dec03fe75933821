"""Reference solutions for d2l 7.2 "Networks Using Blocks (VGG)" (PyTorch).

Run only in the grader process; never sent to a kernel. Networks are FUNCTIONS that build an
nn.Module, so the structure checks build them under `torch.device("meta")`: VGG-11 has 128.8
million parameters and VGG-19 139.6 million (for 1 channel and 10 classes), and none of them is
ever allocated or trained here.

Every figure the rubric expects is computed from these networks in the grader, through
`grader.content.describe_network`, as the structure checks measure them (parameters and
multiply-accumulates per layer, counted in the grader on the meta device). VGG-11 (1 input channel, 10 classes, 224x224): 128,806,154 parameters and
7,547,232,256 MACs per image, against AlexNet's 46,764,746 and 938,146,176; VGG-16 (D)
134,300,362 and VGG-19 (E) 139,610,058 parameters; VGG-11 at 96x96 44,920,074.
"""

from functools import cache

import torch
from torch import nn

from grader.content import describe_network

IMAGE = (1, 1, 224, 224)

# (number of 3x3 convolutions, output channels) of each block: configurations A, B, D and E of
# Table 1 in Simonyan & Zisserman (2014). Configuration C (a 1x1 convolution as the last layer of
# blocks 3-5) cannot be written with this notation; "VGG-16" means D.
VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
VGG13_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512))
VGG16_ARCH = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
VGG19_ARCH = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def vgg_block(num_convs, in_channels, out_channels):
    """`num_convs` 3x3 convolutions (padding 1, each followed by a ReLU), then 2x2 max pooling
    with stride 2: the channels change, the height and width halve."""
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch, in_channels=1, num_classes=10, side=7):
    """The section's VGG: one block per (num_convs, out_channels) of `conv_arch`, then fully
    connected layers (last channels x side x side) -> 4096 -> 4096 -> num_classes with
    dropout 0.5 after each hidden one. `side` is what the blocks leave of the image's height and
    width: 224 / 2**5 = 7 for the book's input, 96 / 32 = 3 for exercise 3's."""
    blocks = []
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks,
        nn.Flatten(),
        nn.Linear(in_channels * side * side, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes),
    )


def vgg11():
    return vgg(VGG11_ARCH)


def vgg16():
    return vgg(VGG16_ARCH)


def vgg19():
    return vgg(VGG19_ARCH)


def vgg96():
    """Exercise 3: VGG-11 for 96x96 images; the blocks leave 512 x 3 x 3 features."""
    return vgg(VGG11_ARCH, side=3)


def alexnet():
    """The section 7.1 AlexNet (1 input channel, 10 classes), for the comparison of exercise 2."""
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10),
    )


# ------------------------------------------------------------------ counting
@cache
def _measured(name):
    """A reference network by name, as the structure checks measure it
    (grader.content.describe_network; computed once per grader process, never mutated)."""
    return describe_network(globals()[name], IMAGE)


def _total(name, what):
    return getattr(_measured(name), what)


# ------------------------------------------------------------------ exercise 1: the printed shapes
def vgg11_conv_layers():
    """The convolutional layers of VGG-11 (8: the blocks hold 1 + 1 + 2 + 2 + 2)."""
    return sum(n for n, _ in VGG11_ARCH)


def vgg11_fc_layers():
    """Its fully connected layers (3)."""
    with torch.device("meta"):
        return sum(isinstance(m, nn.Linear) for m in vgg11().modules())


def vgg11_block_shapes():
    """The output shape of each of VGG-11's five blocks for one 224x224 image."""
    net = _measured("vgg11")
    blocks = [m.path for m in net.modules if m.type == "Sequential" and m.path.count(".") == 0 and m.path]
    return [net.within(block)[-1].output for block in blocks]


# Known wrong answers (value-check diagnoses).
def vgg11_blocks():
    """The number of blocks (5), the usual wrong count of convolutional layers."""
    return len(VGG11_ARCH)


def vgg11_weight_layers():
    """All of VGG-11's weight layers (11), counted as convolutions."""
    return vgg11_conv_layers() + vgg11_fc_layers()


def vgg11_hidden_fc_layers():
    """Only the hidden fully connected layers (2), the output layer forgotten."""
    return vgg11_fc_layers() - 1


def vgg11_block_shapes_without_batch():
    return [shape[1:] for shape in vgg11_block_shapes()]


def vgg11_block_shapes_before_pooling():
    """The shapes after each block's last convolution, before its pooling halves them."""
    return [[1, c, 2 * h, 2 * w] for _, c, h, w in vgg11_block_shapes()]


# ------------------------------------------------------------------ exercise 2: VGG against AlexNet
def param_ratio():
    """VGG-11's parameters over AlexNet's (2.754)."""
    return _total("vgg11", "parameters") / _total("alexnet", "parameters")


def mac_ratio():
    """VGG-11's MACs over AlexNet's, per 224x224 image (8.045)."""
    return _total("vgg11", "macs") / _total("alexnet", "macs")


def conv_mac_share():
    """The fraction of VGG-11's MACs done by its convolutions (0.985)."""
    net = _measured("vgg11")
    return net.macs_of("Conv2d") / net.macs


def inverse_param_ratio():
    return 1 / param_ratio()


def inverse_mac_ratio():
    return 1 / mac_ratio()


def conv_mac_share_percent():
    return 100 * conv_mac_share()


def fc_mac_share():
    return 1 - conv_mac_share()
