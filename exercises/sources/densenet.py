"""Source of exercises/densenet.ipynb and reference/densenet.ipynb (d2l 7.7; d2l v1.0: 8.7)."""

from grader.content import answer, code, md

ASSIGNMENT = "densenet"
NOTEBOOK = "densenet.ipynb"

CELLS = [
    md("""
# 7.7 Densely Connected Networks (DenseNet) — exercises

This notebook follows section 7.7 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 8.7 in d2l v1.0, with the same five exercises). The exercises are restated
in our own words. Define the names each exercise asks for; the grader looks them up by name,
so keep the names exactly as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check densenet.ipynb`.

**How the networks are graded.** Nothing here is trained. The grader calls your functions
and classes under `torch.device("meta")` (tensors with shapes but no data, so even
DenseNet-264 costs nothing to build), runs them once on an input of the stated shape and
compares parameter counts, multiply-accumulates (MACs), output shapes and the order of the
layers with its own reference networks. Keep full-size networks inside functions, and in your
own cells build them under `with torch.device('meta'):` as the cells below do.
"""),
    code("""
import torch
from torch import nn


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
## Section code — the blocks

Write the section's three building blocks:

* `conv_block(input_channels, num_channels)`: batch normalisation of the `input_channels`
  input, ReLU, then a 3x3 convolution to `num_channels` with padding 1 (an `nn.Sequential`);
* a class `DenseBlock(num_convs, input_channels, num_channels)`: `num_convs` conv blocks; each
  one gets the block's input concatenated (on the channel dimension) with the outputs of all
  the conv blocks before it, and adds `num_channels` new channels (the *growth rate*). So the
  block's output has `input_channels + num_convs * num_channels` channels and the same height
  and width as its input;
* `transition_block(input_channels, num_channels)`: batch normalisation, ReLU, a 1x1
  convolution to `num_channels` and 2x2 average pooling with stride 2, which halves the height
  and width.

Keep `nn.Conv2d`'s default bias, as in the book (the parameter counts depend on it). The
grader checks the layers of `conv_block(3, 10)`, the output shape and parameter count of
`DenseBlock(2, 3, 10)` and `DenseBlock(4, 3, 5)` on a `(4, 3, 8, 8)` input, the number of input
channels of each convolution of a dense block, and `transition_block(23, 10)` on a
`(4, 23, 8, 8)` input.
"""),
    code(
        """
def conv_block(input_channels, num_channels):
    ...


class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super().__init__()
        ...

    def forward(self, X):
        ...


def transition_block(input_channels, num_channels):
    ...
""",
        """
def conv_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super().__init__()
        # conv block i sees the input and the i outputs before it
        self.net = nn.Sequential(*[conv_block(input_channels + i * num_channels, num_channels)
                                   for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


def transition_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))
""",
    ),
    code(
        """
# Y = DenseBlock(2, 3, 10)(torch.randn(4, 3, 8, 8)); Y.shape, transition_block(23, 10)(Y).shape
""",
        """
Y = DenseBlock(2, 3, 10)(torch.randn(4, 3, 8, 8))
Y.shape, transition_block(23, 10)(Y).shape
""",
    ),
    md("""
## Section code — the network

Write `densenet(input_channels=1, num_classes=10)` returning the section's DenseNet as an
`nn.Sequential`:

* the stem of ResNet: 7x7 convolution to 64 channels (stride 2, padding 3), batch norm, ReLU,
  3x3 max pooling (stride 2, padding 1);
* four dense blocks of 4 conv blocks each, growth rate 32; between two dense blocks (not after
  the last) a transition block that halves the number of channels (integer division);
* batch norm, ReLU, global average pooling (`nn.AdaptiveAvgPool2d((1, 1))`), `nn.Flatten()`
  and a linear layer to `num_classes`.

Keep the convolutions' default bias. On a `(1, 1, 96, 96)` input it has 758,226 parameters and
costs about 0.13 GMAC.
"""),
    code(
        """
def densenet(input_channels=1, num_classes=10):
    ...
""",
        """
def densenet(input_channels=1, num_classes=10):
    b1 = nn.Sequential(
        nn.Conv2d(input_channels, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    return nn.Sequential(
        b1, *blks,
        nn.BatchNorm2d(num_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Linear(num_channels, num_classes))
""",
    ),
    code(
        """
# with torch.device('meta'):
#     net = densenet()
# print_shapes(net, (1, 1, 96, 96)); count_parameters(net)
""",
        """
with torch.device('meta'):
    net = densenet()
print_shapes(net, (1, 1, 96, 96))
count_parameters(net)
""",
    ),
    md("""
## Exercise 1 (7.7, ex. 1) — average pooling in the transition layer

Why does the transition layer use average pooling and not max pooling?
"""),
    answer(
        "ex1-average-pooling",
        """
The transition layer's job is to shrink the feature maps that the dense block has accumulated,
and every one of those channels is a feature some later layer may reuse. Average pooling keeps
a bit of every position of each window (it is a smooth, linear downsampling that passes the
gradient to all inputs), so no feature is thrown away; max pooling would keep only the
strongest response of each window and discard the rest of the concatenated features. It also
fits the 1x1 convolution before it: both are linear, so the transition is a cheap linear
compression of the block's output (after the BN and ReLU).
""",
    ),
    md("""
## Exercise 2 (7.7, ex. 2) — why so few parameters?

The DenseNet paper points out that DenseNet needs fewer parameters than ResNet (here: 758,226
against 11,178,378 for the section's ResNet-18). Where does the difference come from?
"""),
    answer(
        "ex2-fewer-parameters",
        """
Every convolution in a dense block only produces a few new channels (the growth rate, 32 here)
instead of 64-512, because it can reuse all earlier feature maps through the concatenation
instead of having to recompute and carry them forward. Its number of weights is
in_channels x growth x 9, and the transitions (1x1 convolutions halving the channels) keep the
inputs small. ResNet's 3x3 convolutions map 256 or 512 channels to 256 or 512 channels
(512 x 512 x 9 = 2.4 M weights for one layer), and the sum forces each block to keep the full
width. With bottleneck 1x1 layers and compression (DenseNet-BC) the savings are larger still.
""",
    ),
    md("""
## Exercise 3 (7.7, ex. 3) — memory

DenseNet is often criticised for using a lot of memory.

1. Is that so? Compare the memory the section's DenseNet and ResNet need for one training
   step at 224x224 (on a GPU if you have one, e.g. with `torch.cuda.max_memory_allocated()`;
   on a CPU, by adding up the sizes of the activations that are kept for the backward pass).
2. How could the memory be reduced, and what would the framework have to offer for it?
"""),
    answer(
        "ex3-memory",
        """
1. Yes, although its parameters are few. Every layer of a dense block concatenates all earlier
   feature maps: a naive implementation stores a new concatenated tensor (and its BN output)
   for every layer, so the activation memory of a block grows quadratically with its number
   of layers. At 224x224 the activations, not the weights, dominate, and the section's
   DenseNet needs about as much or more memory for one training step than ResNet-18, which has
   15 times more parameters.
2. Keep only the feature maps the block really produces and recompute the concatenation, batch
   norm and ReLU in the backward pass instead of storing them (the "memory-efficient DenseNet":
   shared memory buffers for the concatenation, gradient checkpointing with
   torch.utils.checkpoint). The framework must let us free intermediate results and recompute
   them on demand during backpropagation, and let several layers write into one preallocated
   buffer.
""",
    ),
    md("""
## Exercise 4 (7.7, ex. 4) — the DenseNets of the paper

Table 1 of the DenseNet paper (Huang et al., 2017) describes the ImageNet networks
DenseNet-121, -169, -201 and -264. Write
`densenet_imagenet(num_convs_in_dense_blocks, growth_rate=32, num_classes=1000,
input_channels=3)`:

* stem: a 7x7 convolution to `2 * growth_rate` channels (stride 2, padding 3), batch norm,
  ReLU, 3x3 max pooling (stride 2, padding 1);
* dense blocks with `num_convs_in_dense_blocks[i]` layers each; each layer is a *bottleneck*:
  batch norm, ReLU, 1x1 convolution to `4 * growth_rate` channels, batch norm, ReLU, 3x3
  convolution (padding 1) to `growth_rate` channels, whose output is concatenated as before;
* between two dense blocks a transition (batch norm, ReLU, 1x1 convolution, 2x2 average
  pooling with stride 2) that *compresses* the channels by half (integer division);
* batch norm, ReLU, global average pooling, flattening and a linear layer to `num_classes`.

The block counts are (6, 12, 24, 16) for DenseNet-121, (6, 12, 32, 32) for -169,
(6, 12, 48, 32) for -201 and (6, 12, 64, 48) for -264. The paper's convolutions have no bias
(`bias=False`): DenseNet-121 then has 7,978,856 parameters on a `(1, 3, 224, 224)` input, as
`torchvision.models.densenet121()` does. The grader accepts convolutions with or without bias
(it compares the counts without the convolutions' biases). For DenseNet-121 it also compares
the output shape and the multiply-accumulates (about 2.83 GMAC); for the deeper three it counts
the parameters of the modules your function defines. Write your own code — the grader
checks layers, not where they come from, but the point is to build it.
"""),
    code(
        """
def densenet_imagenet(num_convs_in_dense_blocks, growth_rate=32, num_classes=1000, input_channels=3):
    ...
""",
        """
def bottleneck_layer(input_channels, growth_rate):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, 4 * growth_rate, kernel_size=1, bias=False),
        nn.BatchNorm2d(4 * growth_rate), nn.ReLU(),
        nn.Conv2d(4 * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False))


class BottleneckDenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, growth_rate):
        super().__init__()
        self.layers = nn.ModuleList(bottleneck_layer(input_channels + i * growth_rate, growth_rate)
                                    for i in range(num_convs))

    def forward(self, X):
        for layer in self.layers:
            X = torch.cat((X, layer(X)), dim=1)
        return X


def densenet_imagenet(num_convs_in_dense_blocks, growth_rate=32, num_classes=1000, input_channels=3):
    num_channels = 2 * growth_rate
    layers = [nn.Conv2d(input_channels, num_channels, kernel_size=7, stride=2, padding=3, bias=False),
              nn.BatchNorm2d(num_channels), nn.ReLU(),
              nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        layers.append(BottleneckDenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            layers += [nn.BatchNorm2d(num_channels), nn.ReLU(),
                       nn.Conv2d(num_channels, num_channels // 2, kernel_size=1, bias=False),
                       nn.AvgPool2d(kernel_size=2, stride=2)]
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
               nn.Linear(num_channels, num_classes)]
    return nn.Sequential(*layers)


with torch.device('meta'):
    for depth, blocks in ((121, (6, 12, 24, 16)), (169, (6, 12, 32, 32)),
                          (201, (6, 12, 48, 32)), (264, (6, 12, 64, 48))):
        print(f'DenseNet-{depth}: {count_parameters(densenet_imagenet(blocks)):,} parameters')
""",
    ),
    md("""
## Exercise 5 (7.7, ex. 5) — a dense MLP for house prices

Carry the DenseNet idea over to a multilayer perceptron. Write a class
`DenseMLP(num_inputs, num_layers, growth, num_outputs=1)`:

* `num_layers` hidden layers, each a linear layer with `growth` outputs followed by ReLU;
  hidden layer i gets the input features concatenated with the outputs of all the hidden
  layers before it (so it has `num_inputs + i * growth` inputs);
* a final linear layer from all of them (`num_inputs + num_layers * growth` features) to
  `num_outputs`.

The grader checks the parameter count, the output shape and the inputs of every linear layer
of `DenseMLP(20, 3, 8)` and `DenseMLP(20, 4, 16, 2)` on a `(6, 20)` input.

Then train it on the Kaggle house-price data of section 4.10 on your own machine (it needs a
download, so keep that out of the notebook you submit; here a small synthetic regression task
stands in) and compare it with the plain MLP of that section.
"""),
    code(
        """
class DenseMLP(nn.Module):
    ...
""",
        """
class DenseMLP(nn.Module):
    def __init__(self, num_inputs, num_layers, growth, num_outputs=1):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(num_inputs + i * growth, growth) for i in range(num_layers))
        self.out = nn.Linear(num_inputs + num_layers * growth, num_outputs)

    def forward(self, X):
        for layer in self.hidden:
            X = torch.cat((X, torch.relu(layer(X))), dim=1)
        return self.out(X)


# a synthetic stand-in for the house prices: 20 features, a nonlinear target
torch.manual_seed(0)
features = torch.randn(128, 20)
target = (features[:, :5].sum(1, keepdim=True) + 0.5 * features[:, 5:10].pow(2).sum(1, keepdim=True)) / 4
model = DenseMLP(20, 3, 16)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(30):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(features), target)
    loss.backward()
    optimizer.step()
loss.item()
""",
    ),
    answer(
        "ex5-house-prices",
        """
On the synthetic task the dense MLP fits quickly (the final linear layer sees the raw features
too, so the linear part of the target is learnt at once). On the Kaggle house prices (log-RMSE
with K-fold validation as in section 4.10) a dense MLP with 3 hidden layers of 16-32 units,
weight decay and a learning rate around 1e-2 (Adam) reaches about the same validation error as
the plain MLP (around 0.13-0.15) and is a little less sensitive to the depth, because the
output layer always has direct access to the inputs and to every hidden layer. With so few
examples (1460) it overfits easily: weight decay or dropout matter more than the architecture.
""",
    ),
]
