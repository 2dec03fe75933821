"""Source of exercises/vgg.ipynb and reference/vgg.ipynb (d2l 7.2; d2l v1.0: 8.2)."""

from grader.content import answer, code, md

ASSIGNMENT = "vgg"
NOTEBOOK = "vgg.ipynb"

CELLS = [
    md("""
# 7.2 Networks Using Blocks (VGG) — exercises

This notebook follows section 7.2 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 8.2 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order. Define the names each exercise asks for; the grader looks them up by name, so keep the
names exactly as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check vgg.ipynb`.

**Structure, not training.** VGG-11 has 129 million parameters and needs 7.5 billion
multiply-accumulates (MACs) per 224x224 image; one training step on a CPU takes tens of seconds.
So everything here is graded by its structure: you write *factory functions* that return a
network, and the grader builds them on PyTorch's `meta` device (shapes only: no memory, no
arithmetic), counts their parameters and MACs and follows the shapes through every layer. Do the
same in this notebook: build full-size networks under `with torch.device('meta'):` when you only
need their shapes or sizes, and never download a data set here (the grader runs offline).
"""),
    md("""
## Section code — VGG blocks and the VGG factory

Write `vgg_block(num_convs, in_channels, out_channels)`, returning an `nn.Sequential` of
`num_convs` 3x3 convolutions with padding 1, each followed by a ReLU (the first takes
`in_channels`, every one outputs `out_channels`), and then 2x2 max pooling with stride 2.

Then write `vgg(conv_arch)`, returning the section's VGG for single-channel 224x224 images and
10 classes: one block per `(num_convs, out_channels)` pair of `conv_arch` (the first block takes
1 channel), then flattening and fully connected layers `out_channels x 7 x 7 -> 4096 -> 4096 -> 10`
(`out_channels` of the last block) with a ReLU and an `nn.Dropout(p=0.5)` after each hidden one.
Write it for any `conv_arch`: Exercise 4 builds VGG-16 and VGG-19 with it.

`conv_arch` below is VGG-11's (8 convolutions in 5 blocks). The grader checks a block, then
VGG-11 built with your `vgg`: its 128,806,154 parameters, its MACs, its output shape and its
numbers of convolutional, fully connected and dropout layers.
"""),
    code(
        """
import torch
from torch import nn

conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs, in_channels, out_channels):
    # TODO: num_convs 3x3 convolutions (padding 1) with ReLUs, then 2x2 max pooling (stride 2)
    ...


def vgg(conv_arch):
    # TODO: the blocks of conv_arch, then the three fully connected layers
    ...
""",
        """
import torch
from torch import nn

conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch):
    blocks, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10),
    )
""",
    ),
    md("""
The shape after each top-level part of VGG-11, on the meta device (no memory is allocated for
its 129 million weights):
"""),
    code(
        """
# with torch.device('meta'):
#     net = vgg(conv_arch)
#     X = torch.zeros((1, 1, 224, 224))
#     for part in net:
#         X = part(X)
#         print(f'{part.__class__.__name__:>10}  output shape {tuple(X.shape)}')
""",
        """
with torch.device('meta'):
    net = vgg(conv_arch)
    X = torch.zeros((1, 1, 224, 224))
    for part in net:
        X = part(X)
        print(f'{part.__class__.__name__:>10}  output shape {tuple(X.shape)}')
print(f'{sum(p.numel() for p in net.parameters()):,} parameters')
""",
    ),
    md("""
## Exercise 1 (7.2, ex. 1; v1.0 ex. 2) — eight results for eleven layers

Printing the shapes shows the five blocks and the layers after them, although VGG-11 is named
for its 11 layers. Count for yourself and define:

* `vgg11_conv_layers`: how many convolutional layers VGG-11 has;
* `vgg11_fc_layers`: how many fully connected layers it has;
* `vgg11_block_shapes`: the output shape of each of its five blocks for **one** 224x224 image,
  as a list of five shapes `[batch, channels, height, width]` (lists or tuples).

Then explain where the other layers went.
"""),
    code(
        """
vgg11_conv_layers = ...
vgg11_fc_layers = ...
vgg11_block_shapes = ...
""",
        """
with torch.device('meta'):
    net = vgg(conv_arch)
    vgg11_conv_layers = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    vgg11_fc_layers = sum(isinstance(m, nn.Linear) for m in net.modules())
    vgg11_block_shapes, X = [], torch.zeros((1, 1, 224, 224))
    for block in net[:len(conv_arch)]:
        X = block(X)
        vgg11_block_shapes.append(list(X.shape))
vgg11_conv_layers, vgg11_fc_layers, vgg11_block_shapes
""",
    ),
    answer(
        "ex1-missing-layers",
        """
The loop prints one line per top-level part of the network, and each VGG block is one part:
the eight convolutions are grouped in five blocks, so the three blocks with two convolutions
each hide one of their layers (and every block's ReLUs and pooling) inside a single line.
5 block lines stand for 8 convolutional layers; with the 3 fully connected layers that is 11
weight layers. (The ReLU, dropout and flatten lines have no weights and do not count.)
""",
    ),
    md("""
## Exercise 2 (7.2, ex. 2; v1.0 ex. 1) — why VGG is slower than AlexNet

Compare VGG-11 with section 7.1's AlexNet (given below), both for one 224x224 single-channel
image and 10 classes, and define:

* `vgg_alexnet_param_ratio`: VGG-11's number of parameters divided by AlexNet's;
* `vgg_alexnet_mac_ratio`: VGG-11's multiply-accumulates per image divided by AlexNet's (a
  convolution does `C_in x k_h x k_w` MACs for each element of its output, a fully connected
  layer `in_features` for each output; everything else counts 0);
* `vgg_conv_mac_share`: the fraction of VGG-11's MACs done by its convolutions (between 0 and 1).

The grader computes all three from its own copies of the networks; it accepts 1% relative error
on the ratios and 0.005 on the share.
"""),
    code("""
def alexnet():
    # section 7.1's AlexNet for 1 input channel and 10 classes (given)
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10),
    )
"""),
    code(
        """
vgg_alexnet_param_ratio = ...
vgg_alexnet_mac_ratio = ...
vgg_conv_mac_share = ...
""",
        """
def counts(net, shape=(1, 1, 224, 224)):
    macs = {'Conv2d': 0, 'Linear': 0}

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            macs['Conv2d'] += output.numel() * module.in_channels * k_h * k_w
        elif isinstance(module, nn.Linear):
            macs['Linear'] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    net(torch.zeros(shape))
    for handle in handles:
        handle.remove()
    return sum(p.numel() for p in net.parameters()), macs


with torch.device('meta'):
    vgg_params, vgg_macs = counts(vgg(conv_arch))
    alex_params, alex_macs = counts(alexnet())
vgg_alexnet_param_ratio = vgg_params / alex_params
vgg_alexnet_mac_ratio = sum(vgg_macs.values()) / sum(alex_macs.values())
vgg_conv_mac_share = vgg_macs['Conv2d'] / sum(vgg_macs.values())
vgg_alexnet_param_ratio, vgg_alexnet_mac_ratio, vgg_conv_mac_share
""",
    ),
    md("""
Why is VGG so much slower than AlexNet, and why does it need more memory? Where do its
parameters sit, where does its computation happen, and how could the cost of the fully
connected layers be reduced?
"""),
    answer(
        "ex2-why-slower",
        """
VGG-11 has 2.75 times AlexNet's parameters and needs about 8 times its MACs. The computation is
in the convolutions (98.5%): VGG keeps the full 224x224 resolution for its first block and only
halves it with each 2x2 pooling, where AlexNet shrinks the image to 54x54 at once with its
stride-4 11x11 convolution, and VGG's deeper layers carry up to 512 channels. The same large
early feature maps must be stored for the backward pass, so training needs much more memory for
activations. The parameters are mostly in the fully connected layers (the first alone has
512 x 7 x 7 x 4096 = 103 million weights); they could be cut with fewer or narrower fully
connected layers, or by replacing them with global average pooling and a single small
classifier (as NiN and GoogLeNet do).
""",
    ),
    md("""
## Exercise 3 (7.2, ex. 3; v1.0 ex. 4) — 96x96 instead of 224x224

Resizing Fashion-MNIST's 28x28 images to 224x224 is wasteful. Write `vgg96()`, returning VGG-11
(the same five blocks, the same three fully connected layers) adapted to **96x96** single-channel
images: its first fully connected layer must take exactly the features the blocks leave of a
96x96 image. It maps `(1, 1, 96, 96)` to `(1, 10)`. (You may generalise your `vgg` for this, as
long as `vgg(conv_arch)` still builds the 224x224 network.) Then think about what the smaller
input changes in training.
"""),
    code(
        """
def vgg96():
    # TODO: VGG-11 for 96x96 inputs
    ...
""",
        """
def vgg96():
    net = vgg(conv_arch)
    net[6] = nn.Linear(512 * 3 * 3, 4096)  # at 96x96 the five blocks leave 512 x 3 x 3
    return net


with torch.device('meta'):
    net96 = vgg96()
    print(net96(torch.zeros((1, 1, 96, 96))).shape, f'{sum(p.numel() for p in net96.parameters()):,} parameters')
""",
    ),
    answer(
        "ex3-smaller-input",
        """
The blocks leave 3x3 instead of 7x7 feature maps, so the first fully connected layer shrinks
from 103 to 19 million weights (45 instead of 129 million parameters in all) and every
convolution does (96/224)^2 = 18% of its work: an epoch is about five times faster and needs
far less memory. The accuracy on Fashion-MNIST stays about the same, because the 28x28 images
carry no more detail at 224x224. Going much smaller stops working: five 2x2 poolings need at
least 32x32 inputs.
""",
    ),
    md("""
## Exercise 4 (7.2, ex. 4; v1.0 ex. 3) — VGG-16 and VGG-19

From Table 1 of the VGG paper (Simonyan & Zisserman, 2014), write the `conv_arch` of the two
best-known configurations, in the same notation as VGG-11's above:

* `vgg16_arch`: VGG-16, configuration D (13 convolutions in five blocks);
* `vgg19_arch`: VGG-19, configuration E (16 convolutions in five blocks).

The grader checks both against the paper's table, then builds `vgg(vgg16_arch)` and
`vgg(vgg19_arch)` with **your** `vgg` and compares them with its own VGG-16 and VGG-19
(parameters, MACs, output, numbers of layers).
"""),
    code(
        """
vgg16_arch = ...
vgg19_arch = ...
""",
        """
vgg16_arch = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
vgg19_arch = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))

with torch.device('meta'):
    for arch in (vgg16_arch, vgg19_arch):
        print(f'{sum(p.numel() for p in vgg(arch).parameters()):,} parameters')
""",
    ),
]
