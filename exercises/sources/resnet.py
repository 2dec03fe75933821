"""Source of exercises/resnet.ipynb and reference/resnet.ipynb (d2l 7.6; d2l v1.0: 8.6)."""

from grader.content import answer, code, md

ASSIGNMENT = "resnet"
NOTEBOOK = "resnet.ipynb"

CELLS = [
    md("""
# 7.6 Residual Networks (ResNet) — exercises

This notebook follows section 7.6 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; it is section 8.6 in d2l v1.0, which also presents ResNeXt there — the exercises are
the same five). The exercises are restated in our own words. Define the names each exercise
asks for; the grader looks them up by name, so keep the names exactly as written and run the
notebook top to bottom before you submit.

Check your work at any time with `grader check resnet.ipynb`.

**How the networks are graded.** Nothing here is trained. The grader calls your network
functions under `torch.device("meta")` (tensors with shapes but no data, so a ResNet costs
nothing to build), runs them once on an input of the stated shape and compares parameter
counts, multiply-accumulates (MACs), output shapes and the order of the layers with its own
reference networks. Residual blocks are also run once on a small random input, to see where
the ReLUs and the shortcut are. Keep full-size networks inside functions, and in your own
cells build them under `with torch.device('meta'):` as the cells below do.

**Conventions** (the parameter counts depend on them): every convolution keeps `nn.Conv2d`'s
default bias, as in the book's code; a 1x1 shortcut convolution has no batch normalisation of
its own; ReLU may be `F.relu` or an `nn.ReLU()` module, as you like.
"""),
    code("""
import torch
from torch import nn
from torch.nn import functional as F


def count_parameters(net):
    return sum(p.numel() for p in net.parameters())


def print_shapes(net, shape):
    # run `net` (an nn.Sequential) on a meta tensor and print each top-level module's output shape
    with torch.device('meta'):
        X = torch.zeros(shape)
        for layer in net:
            X = layer(X)
            print(f'{layer.__class__.__name__:>20}  output shape {tuple(X.shape)}')
"""),
    md("""
## Section code — the residual block

Write the section's block as a class `Residual(input_channels, num_channels, use_1x1conv=False,
strides=1)` (an `nn.Module`):

* main path: a 3x3 convolution from `input_channels` to `num_channels` (padding 1, stride
  `strides`), batch normalisation, ReLU, a second 3x3 convolution (`num_channels` to
  `num_channels`, padding 1, stride 1), batch normalisation;
* shortcut: the input itself, or — when `use_1x1conv` is true — a 1x1 convolution from
  `input_channels` to `num_channels` with stride `strides`;
* output: the ReLU of (main path + shortcut).

The grader checks the parameter count and output shape of `Residual(3, 3)` and
`Residual(3, 6, use_1x1conv=True, strides=2)` on a `(4, 3, 6, 6)` input, the order of the
layers, and — on a real input — that each layer gets what it should and that the shortcut is
added before the last ReLU.
"""),
    code(
        """
class Residual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        # TODO: two 3x3 convolutions with batch norms; an optional 1x1 shortcut convolution
        ...

    def forward(self, X):
        # TODO: main path + shortcut, then ReLU
        ...
""",
        """
class Residual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return F.relu(Y + X)
""",
    ),
    md("""
A block without the 1x1 convolution keeps the shape; with it (and stride 2) it can change the
number of channels and halve the height and width.
"""),
    code(
        """
# X = torch.rand(4, 3, 6, 6)
# Residual(3, 3)(X).shape, Residual(3, 6, use_1x1conv=True, strides=2)(X).shape
""",
        """
X = torch.rand(4, 3, 6, 6)
Residual(3, 3)(X).shape, Residual(3, 6, use_1x1conv=True, strides=2)(X).shape
""",
    ),
    md("""
## Section code — ResNet-18

Write `resnet18(input_channels=1, num_classes=10)` returning the section's network as an
`nn.Sequential`:

* the stem: 7x7 convolution to 64 channels (stride 2, padding 3), batch normalisation, ReLU,
  3x3 max pooling (stride 2, padding 1);
* four stages of two residual blocks each, with 64, 128, 256 and 512 channels. The first stage
  keeps the 64 channels and the size; every later stage starts with a block that has the 1x1
  shortcut convolution and stride 2 (doubling the channels, halving height and width);
* global average pooling (`nn.AdaptiveAvgPool2d((1, 1))`), `nn.Flatten()` and a linear layer
  to `num_classes`.

On a `(1, 1, 96, 96)` input it has 11,178,378 parameters and costs about 0.32 GMAC.
"""),
    code(
        """
def resnet18(input_channels=1, num_classes=10):
    # TODO
    ...
""",
        """
def stem(input_channels):
    return nn.Sequential(
        nn.Conv2d(input_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return nn.Sequential(*blk)


def resnet18(input_channels=1, num_classes=10):
    return nn.Sequential(
        stem(input_channels),
        resnet_block(64, 64, 2, first_block=True),
        resnet_block(64, 128, 2),
        resnet_block(128, 256, 2),
        resnet_block(256, 512, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes))
""",
    ),
    code(
        """
# with torch.device('meta'):
#     net = resnet18()
# print_shapes(net, (1, 1, 96, 96)); count_parameters(net)
""",
        """
with torch.device('meta'):
    net = resnet18()
print_shapes(net, (1, 1, 96, 96))
count_parameters(net)
""",
    ),
    md("""
## Exercise 1 (7.6, ex. 1) — Inception block versus residual block

Compare the Inception block of section 7.4 with the residual block: how do they differ, and
what do you get if you drop branches of the Inception block? Consider the computation, the
accuracy you would expect and the class of functions each can represent.
"""),
    answer(
        "ex1-inception-vs-residual",
        """
An Inception block runs several branches in parallel (1x1, 3x3, 5x5 convolutions, pooling) and
concatenates their outputs on the channels; a residual block has one main path and adds its
output to its input (or a 1x1 projection of it). Remove all branches but one and add an
identity branch, and summing instead of concatenating turns Inception into a residual block:
both are multi-branch blocks, ResNet's with two branches, one of them the identity. The
residual block is cheaper and simpler to stack (no choice of channels per branch); the identity
branch lets gradients flow through deep stacks and makes the identity map trivially
representable, so adding blocks can only enlarge the function class (nested classes). That is
why ResNets can be made much deeper and tend to reach better accuracy; Inception's width gives
multi-scale features per block at a higher design and memory cost.
""",
    ),
    md("""
## Exercise 2 (7.6, ex. 2) — other depths from Table 1 of the ResNet paper

Table 1 of the ResNet paper (He et al., 2016) describes networks of 18, 34, 50, 101 and 152
layers. The shallower two differ only in the number of residual blocks per stage: 2, 2, 2, 2
for ResNet-18 and 3, 4, 6, 3 for ResNet-34.

Write `resnet(num_residuals, input_channels=1, num_classes=10)` where `num_residuals` is a
list of four block counts, one per stage, and everything else is as in `resnet18`. So
`resnet([2, 2, 2, 2])` is your ResNet-18 and `resnet([3, 4, 6, 3])` is ResNet-34 in the book's
setting. The grader compares the parameter count, MACs and output shape of
`resnet([3, 4, 6, 3])` on a `(1, 1, 96, 96)` input with its own, and checks other block counts,
input channels and classes too.
"""),
    code(
        """
def resnet(num_residuals, input_channels=1, num_classes=10):
    ...
""",
        """
def resnet(num_residuals, input_channels=1, num_classes=10):
    stages, channels = [], 64
    for i, (num_channels, count) in enumerate(zip((64, 128, 256, 512), num_residuals)):
        stages.append(resnet_block(channels, num_channels, count, first_block=(i == 0)))
        channels = num_channels
    return nn.Sequential(
        stem(input_channels), *stages,
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes))


with torch.device('meta'):
    print(count_parameters(resnet([2, 2, 2, 2])), count_parameters(resnet([3, 4, 6, 3])))
""",
    ),
    md("""
## Exercise 3 (7.6, ex. 3) — the bottleneck block

The deeper ResNets (50 layers and more) use a *bottleneck* block to keep the cost down. Write a
class `Bottleneck(input_channels, num_channels, use_1x1conv=False, strides=1, expansion=4)`:

* main path: a 1x1 convolution from `input_channels` to `num_channels`, batch norm, ReLU; a 3x3
  convolution `num_channels` to `num_channels` (padding 1), batch norm, ReLU; a 1x1 convolution
  from `num_channels` to `expansion * num_channels`, batch norm. The stride `strides` goes on
  the 3x3 convolution (as torchvision does; the original paper puts it on the first 1x1
  convolution — the grader accepts either);
* shortcut: the input, or with `use_1x1conv` a 1x1 convolution from `input_channels` to
  `expansion * num_channels` with stride `strides`;
* output: ReLU(main path + shortcut). Its output has `expansion * num_channels` channels.

Then write `bottleneck_resnet(num_residuals, input_channels=1, num_classes=10)`: the stem of
`resnet18`, four stages of bottleneck blocks with 64, 128, 256, 512 bottleneck channels (so
256, 512, 1024, 2048 output channels), then pooling, flattening and the linear layer. The
**first** block of every stage has the 1x1 shortcut convolution (stride 1 in the first stage,
stride 2 in the others); the other blocks have identity shortcuts. `bottleneck_resnet([3, 4, 6,
3])` is ResNet-50 in the book's setting.

The grader checks `Bottleneck(256, 64)` and `Bottleneck(256, 128, use_1x1conv=True, strides=2)`
(parameters, output shape, order of the layers), the wiring of a block on a real input, and
ResNet-50's parameter count and output shape.
"""),
    code(
        """
class Bottleneck(nn.Module):
    ...


def bottleneck_resnet(num_residuals, input_channels=1, num_classes=10):
    ...
""",
        """
class Bottleneck(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, expansion=4):
        super().__init__()
        out_channels = expansion * num_channels
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv3 = nn.Conv2d(num_channels, out_channels, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = (nn.Conv2d(input_channels, out_channels, kernel_size=1, stride=strides)
                         if use_1x1conv else None)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.shortcut is not None:
            X = self.shortcut(X)
        return F.relu(Y + X)


def bottleneck_resnet(num_residuals, input_channels=1, num_classes=10):
    stages, channels = [], 64
    for i, (num_channels, count) in enumerate(zip((64, 128, 256, 512), num_residuals)):
        blocks = []
        for j in range(count):
            if j == 0:
                blocks.append(Bottleneck(channels, num_channels, use_1x1conv=True, strides=1 if i == 0 else 2))
            else:
                blocks.append(Bottleneck(4 * num_channels, num_channels))
        stages.append(nn.Sequential(*blocks))
        channels = 4 * num_channels
    return nn.Sequential(
        stem(input_channels), *stages,
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes))


print(Bottleneck(256, 64)(torch.rand(2, 256, 8, 8)).shape)
with torch.device('meta'):
    print(count_parameters(bottleneck_resnet([3, 4, 6, 3])))
""",
    ),
    md("""
## Exercise 4 (7.6, ex. 4) — pre-activation ("ResNet v2")

In a follow-up paper (He et al., 2016, "Identity Mappings in Deep Residual Networks", Figure 1)
the authors move batch normalisation and the activation *in front of* each convolution. Write a
class `PreActResidual(input_channels, num_channels, use_1x1conv=False, strides=1)`:

* main path: batch norm (of the `input_channels` input), ReLU, 3x3 convolution to
  `num_channels` (padding 1, stride `strides`), batch norm, ReLU, 3x3 convolution (padding 1);
* shortcut: the input, or with `use_1x1conv` a strided 1x1 convolution (of the input, or of the
  output of the first batch norm and ReLU, as some implementations do — either is accepted);
* output: main path + shortcut, with **nothing** after the addition.

Then write `preact_resnet18(input_channels=1, num_classes=10)`: the stem of `resnet18`, four
stages of two `PreActResidual` blocks (same channels, shortcuts and strides as `resnet18`),
then — since no block ends with an activation any more — batch norm (512) and ReLU, then
pooling, flattening and the linear layer.

The grader checks the order of the layers inside each `PreActResidual` of your network (it
finds them by their class name), the wiring of a block on a real input, and the parameter count
and output shape of `preact_resnet18()`.
"""),
    code(
        """
class PreActResidual(nn.Module):
    ...


def preact_resnet18(input_channels=1, num_classes=10):
    ...
""",
        """
class PreActResidual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None

    def forward(self, X):
        Y = self.conv1(F.relu(self.bn1(X)))
        Y = self.conv2(F.relu(self.bn2(Y)))
        if self.conv3 is not None:
            X = self.conv3(X)
        return Y + X


def preact_resnet18(input_channels=1, num_classes=10):
    stages, channels = [], 64
    for i, num_channels in enumerate((64, 128, 256, 512)):
        first = (PreActResidual(channels, num_channels) if i == 0
                 else PreActResidual(channels, num_channels, use_1x1conv=True, strides=2))
        stages.append(nn.Sequential(first, PreActResidual(num_channels, num_channels)))
        channels = num_channels
    return nn.Sequential(
        stem(input_channels), *stages,
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes))


with torch.device('meta'):
    print(count_parameters(preact_resnet18()))
""",
    ),
    md("""
What does the pre-activation order change for the signal that travels along the shortcuts, and
for training very deep networks?
"""),
    answer(
        "ex4-why-preactivation",
        """
With the ReLU after the addition, every block's output is clipped, so the shortcut path is not
a pure identity: the signal from block l to block L passes through L - l ReLUs. With
pre-activation the addition is the last operation, so x_L = x_l + sum of the residual
branches: the input of any block reaches any later block (and the gradient flows back)
unchanged. Batch norm also normalises every branch's input. The paper reports easier
optimisation and less overfitting, e.g. a 1001-layer ResNet on CIFAR trains well with
pre-activation but not with the original order.
""",
    ),
    md("""
## Exercise 5 (7.6, ex. 5) — why not ever more complex function classes?

Nested function classes guarantee that a larger class is at least as expressive as a smaller
one. Why can we still not make the function class more and more complex without limit?
"""),
    answer(
        "ex5-unbounded-complexity",
        """
Expressiveness is not the only cost. A richer class needs more data to pin down a good member
(it overfits a fixed training set: the variance of the estimate grows), more computation and
memory to train and to run, and is harder to optimise (more parameters, deeper networks,
instabilities); nestedness only says the best member is no worse, not that our training
procedure finds it. So the complexity has to match the data and the compute budget, and
regularisation or validation decides where to stop.
""",
    ),
]
