"""Source of exercises/nin.ipynb and reference/nin.ipynb (d2l 7.3; d2l v1.0 8.3)."""

from grader.content import answer, code, md

ASSIGNMENT = "nin"
NOTEBOOK = "nin.ipynb"

CELLS = [
    md("""
# 7.3 Network in Network (NiN) — exercises

This notebook follows section 7.3 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; it is section 8.3 in d2l v1.0). The exercises are restated in our own words, and
the ones only d2l v1.0 asks are included at the end. Define the names each exercise asks for;
the grader looks them up by name, so keep the names exactly as written and run the notebook
top to bottom before you submit.

Check your work at any time with `grader check nin.ipynb`.

**Networks are graded by their structure, not by training.** NiN on 224x224 images is far too
slow to train on the grading machine, so every network here is asked for as a **factory
function** that returns a fresh `nn.Module` (`def nin(): return nn.Sequential(...)`). The
grader calls your factories under `torch.device("meta")`: the modules get parameters with
shapes but no memory, and a meta tensor runs through them without computing anything. It then
counts parameters and multiply-accumulates and compares the layers and shapes with its own
networks. Do the same in your own cells: never build a full-size network with real weights
here; `with torch.device("meta"):` costs nothing.
"""),
    md("""
## Tools

`layer_shapes(net, shape)` runs a meta tensor through the top-level layers of an
`nn.Sequential` and prints each one's output shape; `num_parameters(net)` counts parameters
(meta parameters have shapes, so this works on the meta device too).
"""),
    code("""
import torch
from torch import nn


def layer_shapes(net, shape):
    X = torch.zeros(shape, device='meta')
    net = net.to('meta')
    for layer in net:
        X = layer(X)
        print(f'{layer.__class__.__name__:>18}  output shape {tuple(X.shape)}')


def num_parameters(net):
    return sum(p.numel() for p in net.parameters())
"""),
    md("""
## Section code — the NiN block and the network

Write the section's network as two functions (one input channel, 10 classes, 224x224 inputs):

* `nin_block(in_channels, out_channels, kernel_size, strides, padding)` returns an
  `nn.Sequential` of a convolution with the given window, stride and padding, then **two**
  1x1 convolutions with `out_channels` channels; **every** convolution is followed by an
  `nn.ReLU()`.
* `nin()` returns a new `nn.Sequential`, in this order: a block with 96 channels, 11x11 window,
  stride 4, no padding; 3x3 max pooling with stride 2; a block with 256 channels, 5x5 window,
  padding 2; the same pooling; a block with 384 channels, 3x3 window, padding 1; the same
  pooling; `nn.Dropout(0.5)`; a block with 10 channels (one per class), 3x3 window, padding 1;
  `nn.AdaptiveAvgPool2d((1, 1))` (global average pooling); `nn.Flatten()`. It maps
  `(N, 1, 224, 224)` to `(N, 10)`.

The grader compares `nin()` with its own NiN (parameters, multiply-accumulates, layer by layer)
and `nin_block` on a small example.
"""),
    code(
        """
def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    ...


def nin():
    ...
""",
        """
def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )


def nin():
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )


with torch.device('meta'):
    net = nin()
layer_shapes(net, (1, 1, 224, 224))
num_parameters(net)
""",
    ),
    md("""
## Exercise 1 (7.3, ex. 1) — tuning NiN

Nothing to code here (training NiN is for your own machine, with a GPU and Fashion-MNIST).
Which hyper-parameters would you tune to make NiN classify more accurately (learning rate,
batch size, number of epochs, input resolution, dropout, initialisation, ...), and what do you
expect each to change?
"""),
    answer(
        "ex1-tuning",
        """
The learning rate matters most: the book's 0.1 with plain SGD starts slowly for NiN (no
fully connected layers, so the signal reaching the first blocks is weak); a somewhat smaller
rate with momentum, or Xavier/Kaiming initialisation, gets it off the plateau sooner. More
epochs help because the loss is still falling after the book's 10. The input can be smaller
than 224x224 (Fashion-MNIST is 28x28 originally) if the strides are reduced, which makes
every epoch much cheaper. The dropout rate and the batch size trade regularisation against
speed; batch normalisation (7.5) would make the learning rate far less delicate.
""",
    ),
    md("""
## Exercise 2 (7.3, ex. 2) — one or three 1x1 convolutions per block

Why does a NiN block have two 1x1 convolutions? Change the number and look at what changes.
Define two factories, each returning the section's NiN with only the number of 1x1
convolutions in **every** block changed (each still followed by a ReLU; everything else as in
`nin()`):

* `nin_one()`: one 1x1 convolution per block;
* `nin_three()`: three 1x1 convolutions per block.

A helper like `nin_block_n(..., num_1x1)` that both use is a good idea. The grader compares
their parameter counts, multiply-accumulates, layers and shapes with its own variants.
"""),
    code(
        """
def nin_one():
    ...


def nin_three():
    ...
""",
        """
def nin_block_n(in_channels, out_channels, kernel_size, strides, padding, num_1x1=2, inner_kernel=1):
    # the first convolution, then num_1x1 convolutions of window inner_kernel (padded to keep the shape)
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU()]
    for _ in range(num_1x1):
        layers += [nn.Conv2d(out_channels, out_channels, inner_kernel, padding=inner_kernel // 2), nn.ReLU()]
    return nn.Sequential(*layers)


def nin_variant(num_1x1=2, inner_kernel=1, head='gap'):
    def block(*args):
        return nin_block_n(*args, num_1x1=num_1x1, inner_kernel=inner_kernel)

    layers = [
        block(1, 96, 11, 4, 0), nn.MaxPool2d(3, stride=2),
        block(96, 256, 5, 1, 2), nn.MaxPool2d(3, stride=2),
        block(256, 384, 3, 1, 1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        block(384, 10, 3, 1, 1),
    ]
    if head == 'gap':
        layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()]
    else:  # a fully connected layer on the last block's 10 x 5 x 5 output (an extra exercise below)
        layers += [nn.Flatten(), nn.Linear(10 * 5 * 5, 10)]
    return nn.Sequential(*layers)


def nin_one():
    return nin_variant(num_1x1=1)


def nin_three():
    return nin_variant(num_1x1=3)


with torch.device('meta'):
    print([num_parameters(f()) for f in (nin_one, nin, nin_three)])
""",
    ),
    md("Why two 1x1 convolutions? What changes with one, and with three?"),
    answer(
        "ex2-why-two",
        """
A 1x1 convolution followed by a ReLU is a small fully connected layer applied at every pixel
(the "network in the network"); two of them make that per-pixel network a two-layer MLP,
which can compute non-linear combinations of the channels, not just one. With one 1x1
convolution per block NiN has 1,769,112 parameters instead of 1,992,166 and about 12% fewer
operations; it trains a little faster per epoch and usually reaches a slightly lower
accuracy. With three it has 2,215,220 parameters, costs about 12% more, and gains little:
deeper per-pixel networks are harder to train without batch normalisation.
""",
    ),
    md("""
## Exercise 3 (7.3, ex. 3) — the resources NiN uses

Work out NiN's resource usage for **one** `1 x 224 x 224` image (you may count by hand or
with code, e.g. forward hooks on a meta network). Store plain Python integers:

* `nin_params`: the number of parameters (weights and biases) of `nin()`;
* `nin_macs`: the number of multiply-accumulate operations of its convolutions for one image
  — a convolution does `in_channels * k_h * k_w` of them for every value of its output
  (biases and the pooling layers are not counted);
* `nin_activations`: the number of values that the layers output for one image: for every
  leaf layer call, in the order they run (each `Conv2d`, `ReLU`, `MaxPool2d`, `Dropout`,
  `AdaptiveAvgPool2d` and `Flatten`), the number of values of its output, summed.

Then answer the memory questions below.
"""),
    code(
        """
nin_params = ...
nin_macs = ...
nin_activations = ...
""",
        """
def leaf_outputs(net, shape):
    # (layer, output shape) of every leaf layer call, on the meta device
    calls = []
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append((m, o.shape)))
             for m in net.modules() if not list(m.children())]
    net(torch.zeros(shape, device='meta'))
    for h in hooks:
        h.remove()
    return calls


with torch.device('meta'):
    net = nin()
calls = leaf_outputs(net, (1, 1, 224, 224))
nin_params = num_parameters(net)
nin_macs = sum(out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
               for m, out in calls if isinstance(m, nn.Conv2d))
nin_activations = sum(out.numel() for m, out in calls)
nin_params, nin_macs, nin_activations
""",
    ),
    md("""
How much memory does NiN need during training, and during prediction? Use your counts
(4 bytes per float32 value) and say what you count.
"""),
    answer(
        "ex3-memory",
        """
Parameters: 1,992,166 x 4 B = about 8 MB. Computation: about 0.76 G multiply-accumulates per
image (1.5 GFLOP). Prediction needs the weights plus, at any moment, the input and output of
the layer that runs (the largest are the first block's 96 x 54 x 54 maps, about 1.1 MB each),
so a few tens of MB at most. Training also keeps every layer's output of the forward pass for
the backward pass: about 3.17 M values = 12.7 MB per image, so about 1.6 GB of activations
for a minibatch of 128, plus gradients of the same size as the parameters (8 MB) and the
optimiser's state (8 MB more with momentum). The activations dominate.
""",
    ),
    md("""
## Exercise 4 (7.3, ex. 4) — from 384 channels to 10 in one step

Nothing to code. What can go wrong when the last block turns the `384 x 5 x 5`
representation into a `10 x 5 x 5` one in a single step?
"""),
    answer(
        "ex4-one-step",
        """
The last block's first convolution squeezes 384 channels into 10, one per class, with a
single 3x3 layer: that is a severe bottleneck. Whatever the 384 channels know has to be
expressed as 10 class maps at once, and the following 1x1 layers cannot recover what was
lost. It leaves little capacity to combine features, and the gradient that reaches the
earlier blocks passes through only 10 channels, which can slow training. A gentler
reduction (e.g. 384 -> 128 -> 10) or a small classifier after the pooling would avoid it.
""",
    ),
    md("""
## Extra exercise (d2l v1.0 only) — 3x3 instead of 1x1 convolutions

Define `nin_3x3()`: the section's NiN with the two 1x1 convolutions of **every** block replaced
by 3x3 convolutions with padding 1 (so that the shapes stay the same), each followed by its
ReLU. The grader compares its parameters, multiply-accumulates and output with its own.
"""),
    code(
        """
def nin_3x3():
    ...
""",
        """
def nin_3x3():
    return nin_variant(inner_kernel=3)


with torch.device('meta'):
    print(num_parameters(nin_3x3()))
""",
    ),
    md("What changes when the 1x1 convolutions become 3x3?"),
    answer(
        "v1-ex2-3x3",
        """
The blocks become ordinary stacks of 3x3 convolutions, like VGG's: every pixel's features now
mix with their neighbours' in all three layers of a block, so the receptive field grows
faster. The cost grows ninefold in those layers: 5,549,094 parameters instead of 1,992,166
and about 2.24 G instead of 0.76 G multiply-accumulates. The network is slower and more prone
to overfit on a small data set; the per-pixel "network in network" idea is gone.
""",
    ),
    md("""
## Extra exercise (d2l v1.0 only) — a fully connected layer instead of global average pooling

Define `nin_fc()`: the section's NiN with the `nn.AdaptiveAvgPool2d((1, 1))` and the
`nn.Flatten()` at the end replaced by `nn.Flatten()` followed by one `nn.Linear` from the last
block's `10 x 5 x 5` output to the 10 classes. The grader compares its parameters, layers and
output with its own.
"""),
    code(
        """
def nin_fc():
    ...
""",
        """
def nin_fc():
    return nin_variant(head='fc')


with torch.device('meta'):
    layer_shapes(nin_fc(), (1, 1, 224, 224))
""",
    ),
    md("What does the fully connected layer change (speed, accuracy, number of parameters)?"),
    answer(
        "v1-ex3-fc",
        """
Here it adds only 2,510 parameters (250 x 10 weights + 10 biases) and a negligible amount of
computation, because the last block already reduced the maps to 10 channels of 5x5. Its
effect is on what the network computes: the class score now depends on where in the 5x5 map
a feature is, so the translation invariance of the average is lost, and the extra weights can
overfit. Had the fully connected layer been put on the 384 x 5 x 5 features (as in AlexNet),
it would have cost far more parameters. NiN's point is that global average pooling needs none.
""",
    ),
    md("""
## Extra exercise (d2l v1.0 only) — a family of NiN networks

VGG-11, VGG-16 and VGG-19 come from one design: blocks of 3x3 convolutions, the same channel
plan, more convolutions per block for a deeper network. Describe a family of NiN-like networks
built the same way (what varies, what stays fixed). You may write code for it, but it is not
graded.
"""),
    answer(
        "v1-ex6-family",
        """
Fix the stage plan (a spatial NiN block per resolution, max pooling between resolutions,
channels 96 -> 256 -> 384, a final block with one channel per class and global average
pooling) and vary the depth inside the blocks: NiN-A with one 1x1 convolution per block,
NiN-B with two (the book's), NiN-C with three, plus a deeper variant that repeats each
spatial block (two 3x3 convolutions instead of one 5x5, as VGG does) before its 1x1
convolutions. Depth and cost then grow in predictable steps, like VGG-11 -> 16 -> 19, and the
same training recipe applies to the whole family.
""",
    ),
]
