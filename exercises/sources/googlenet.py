"""Source of exercises/googlenet.ipynb and reference/googlenet.ipynb (d2l 7.4; d2l v1.0 8.4)."""

from grader.content import answer, code, md

ASSIGNMENT = "googlenet"
NOTEBOOK = "googlenet.ipynb"

CELLS = [
    md("""
# 7.4 Networks with Parallel Concatenations (GoogLeNet) — exercises

This notebook follows section 7.4 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; it is section 8.4 in d2l v1.0). The exercises are restated in our own words, and
the ones only d2l v1.0 asks are included at the end. Define the names each exercise asks for;
the grader looks them up by name, so keep the names exactly as written and run the notebook
top to bottom before you submit.

Check your work at any time with `grader check googlenet.ipynb`.

**Networks are graded by their structure, not by training.** Every network here is asked for
as a **factory function** (or a class) that returns a fresh `nn.Module`. The grader builds it
under `torch.device("meta")` — parameters with shapes but no memory; a meta tensor runs through
without computing anything — then counts parameters and multiply-accumulates itself and
compares the layers and shapes with its own networks. Do the same in your own cells: build
full-size networks only inside `with torch.device("meta"):`.
"""),
    md("""
## Tools

`layer_shapes(net, shape)` prints the output shape of each top-level layer of an
`nn.Sequential` for a meta input; `num_parameters(net)` counts parameters.
"""),
    code("""
import torch
from torch import nn
import torch.nn.functional as F


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
## Section code — the Inception block and GoogLeNet

**The block.** Write a class `Inception(nn.Module)` whose constructor takes
`(in_channels, c1, c2, c3, c4)`, where `c2` and `c3` are pairs. It has four paths on the same
input; every convolution is followed by a ReLU (`F.relu` in `forward`, or `nn.ReLU` layers):

1. a 1x1 convolution to `c1` channels;
2. a 1x1 convolution to `c2[0]` channels, then a 3x3 convolution (padding 1) to `c2[1]`;
3. a 1x1 convolution to `c3[0]` channels, then a 5x5 convolution (padding 2) to `c3[1]`;
4. 3x3 max pooling (stride 1, padding 1), then a 1x1 convolution to `c4` channels.

`forward` concatenates the four outputs along the channels **in this order** (path 1 first),
so the block keeps the height and width and outputs `c1 + c2[1] + c3[1] + c4` channels. The
grader builds your class with its own channel numbers and also reads which path each output
channel comes from.

**The network.** Write `googlenet()`, returning a new `nn.Sequential` of five stages and a
linear layer, for one input channel and 10 classes (the book trains it on 96x96 images):

* stage 1: 7x7 convolution to 64 channels (stride 2, padding 3), ReLU, 3x3 max pooling
  (stride 2, padding 1);
* stage 2: 1x1 convolution to 64 channels, ReLU, 3x3 convolution to 192 channels (padding 1),
  ReLU, the same max pooling;
* stage 3: `Inception(192, 64, (96, 128), (16, 32), 32)`, `Inception(256, 128, (128, 192), (32, 96), 64)`,
  the same max pooling;
* stage 4: `Inception(480, 192, (96, 208), (16, 48), 64)`,
  `Inception(512, 160, (112, 224), (24, 64), 64)`, `Inception(512, 128, (128, 256), (24, 64), 64)`,
  `Inception(512, 112, (144, 288), (32, 64), 64)`, `Inception(528, 256, (160, 320), (32, 128), 128)`,
  the same max pooling;
* stage 5: `Inception(832, 256, (160, 320), (32, 128), 128)`,
  `Inception(832, 384, (192, 384), (48, 128), 128)`, `nn.AdaptiveAvgPool2d((1, 1))`, `nn.Flatten()`;
* `nn.Linear(1024, 10)`.
"""),
    code(
        """
class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        ...

    def forward(self, x):
        ...


def googlenet():
    ...
""",
        """
class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def stem():
    # stages 1 and 2
    return [
        nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                      nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
    ]


def body(block=Inception):
    # stages 3, 4 and 5 (up to the global average pooling), with the book's channel numbers
    return [
        nn.Sequential(block(192, 64, (96, 128), (16, 32), 32),
                      block(256, 128, (128, 192), (32, 96), 64),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(block(480, 192, (96, 208), (16, 48), 64),
                      block(512, 160, (112, 224), (24, 64), 64),
                      block(512, 128, (128, 256), (24, 64), 64),
                      block(512, 112, (144, 288), (32, 64), 64),
                      block(528, 256, (160, 320), (32, 128), 128),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        nn.Sequential(block(832, 256, (160, 320), (32, 128), 128),
                      block(832, 384, (192, 384), (48, 128), 128)),
    ]


def head():
    return [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024, 10)]


def googlenet():
    return nn.Sequential(*stem(), *body(), *head())


with torch.device('meta'):
    net = googlenet()
layer_shapes(net, (1, 1, 96, 96))
num_parameters(net)
""",
    ),
    md("""
## Exercise 1 (7.4, ex. 1) — later versions of GoogLeNet

GoogLeNet was improved several times. Try some of the improvements:

**(a) Batch normalisation.** Define `googlenet_bn()`: the section's GoogLeNet with an
`nn.BatchNorm2d` right after **every** convolution (the stem's and those inside the Inception
blocks), before its ReLU. You may drop the convolutions' biases (`bias=False`), since the
normalisation removes them anyway, or keep them. The grader checks that every convolution is
directly followed by a batch normalisation over its channels and that the output is `(N, 10)`.
(Section 7.5 explains batch normalisation.)
"""),
    code(
        """
def googlenet_bn():
    ...
""",
        """
def conv_bn(in_channels, out_channels, kernel_size, **kwargs):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, bias=False, **kwargs),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class InceptionBN(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1 = conv_bn(in_channels, c1, 1)
        self.p2 = nn.Sequential(conv_bn(in_channels, c2[0], 1), conv_bn(c2[0], c2[1], 3, padding=1))
        self.p3 = nn.Sequential(conv_bn(in_channels, c3[0], 1), conv_bn(c3[0], c3[1], 5, padding=2))
        self.p4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn(in_channels, c4, 1))

    def forward(self, x):
        return torch.cat((self.p1(x), self.p2(x), self.p3(x), self.p4(x)), dim=1)


def googlenet_bn():
    pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    return nn.Sequential(
        nn.Sequential(conv_bn(1, 64, 7, stride=2, padding=3), pool()),
        nn.Sequential(conv_bn(64, 64, 1), conv_bn(64, 192, 3, padding=1), pool()),
        *body(InceptionBN), *head(),
    )


with torch.device('meta'):
    print(num_parameters(googlenet_bn()))
""",
    ),
    md("""
**(b) Label smoothing.** Instead of the one-hot target, train against a smoothed one: with
`K` classes and smoothing `eps`, the target puts `1 - eps + eps / K` on the true class and
`eps / K` on every other class (the convention of PyTorch's
`nn.CrossEntropyLoss(label_smoothing=eps)`). Write `smooth_cross_entropy(logits, y, eps)` for
logits of shape `(N, K)` and integer labels `y` of shape `(N,)`: the cross-entropy between the
smoothed targets and `softmax(logits)`, averaged over the `N` examples (a scalar). Compute it
yourself from `log_softmax`; you may compare with PyTorch's loss.
"""),
    code(
        """
def smooth_cross_entropy(logits, y, eps):
    ...
""",
        """
def smooth_cross_entropy(logits, y, eps):
    K = logits.shape[1]
    target = torch.full_like(logits, eps / K)
    target[torch.arange(len(y)), y] += 1 - eps
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


logits, y = torch.randn(4, 5), torch.tensor([0, 3, 1, 4])
smooth_cross_entropy(logits, y, 0.1), nn.CrossEntropyLoss(label_smoothing=0.1)(logits, y)
""",
    ),
    md("""
**(c) A cheaper Inception block.** Later versions replace large windows by stacks of small
ones. Write a class `InceptionFactorized(nn.Module)` with the same constructor arguments and
the same paths as `Inception`, except that path 3's 5x5 convolution becomes **two** 3x3
convolutions (padding 1), each followed by a ReLU: the first from `c3[0]` to `c3[0]`
channels, the second from `c3[0]` to `c3[1]`. Same receptive field and output shape, fewer
weights. The grader compares its parameters, multiply-accumulates and output with its own.
"""),
    code(
        """
class InceptionFactorized(nn.Module):
    ...
""",
        """
class InceptionFactorized(Inception):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__(in_channels, c1, c2, c3, c4)
        self.p3_2 = nn.Sequential(nn.Conv2d(c3[0], c3[0], kernel_size=3, padding=1), nn.ReLU(),
                                  nn.Conv2d(c3[0], c3[1], kernel_size=3, padding=1))


with torch.device('meta'):
    print(num_parameters(Inception(480, 192, (96, 208), (16, 48), 64)),
          num_parameters(InceptionFactorized(480, 192, (96, 208), (16, 48), 64)))
""",
    ),
    md("""
**(d) Residual connections** come in section 7.6 (ResNet); Inception-ResNet adds the block's
input to its output. Nothing to code here.

What did each change do (or what do you expect it to do), if you trained the variants on
your own machine?
"""),
    answer(
        "ex1-variants",
        """
Batch normalisation makes GoogLeNet train much faster and tolerate a larger learning rate
(the book's version needs many epochs at lr 0.1); it adds 2 x 57 x channels parameters only.
Label smoothing stops the network from pushing the logits towards infinity for the training
labels, which regularises it and improves calibration and usually test accuracy slightly.
Factorising the 5x5 convolution into two 3x3 keeps the receptive field, adds a non-linearity
and needs 9 * 16 * 16 + 9 * 16 * 48 = 9,216 instead of 25 * 16 * 48 = 19,200 weights in the
first stage-4 block. Residual connections (Inception-ResNet) make much deeper versions
trainable and converge faster.
""",
    ),
    md("""
## Exercise 2 (7.4, ex. 2) — the smallest image GoogLeNet accepts

Here "works" means: the network maps a `1 x 1 x s x s` input to an output of shape `(1, 10)`
without an error. Find the smallest such side `s` for two networks and store each as an `int`:

* `min_side`: for the section's GoogLeNet (with its global average pooling);
* `min_side_paper_head`: for the section's GoogLeNet with `nn.AdaptiveAvgPool2d((1, 1))`
  replaced by `nn.AvgPool2d(7)`, a fixed 7x7 average pooling as in the original paper (which
  gives 1x1 at the paper's 224x224 input).

Reason it out from the layers, or try sizes on the meta device. The grader **runs your claim**
on its own networks: each must work at your size and fail at one pixel less.
"""),
    code(
        """
min_side = ...
min_side_paper_head = ...
""",
        """
def paper_head_googlenet():
    return nn.Sequential(*stem(), *body(), nn.AvgPool2d(7), nn.Flatten(), nn.Linear(1024, 10))


def works(factory, side):
    with torch.device('meta'):
        net = factory()
    try:
        return tuple(net(torch.zeros(1, 1, side, side, device='meta')).shape) == (1, 10)
    except RuntimeError:
        return False


# every stage halves the side, rounding up (padding keeps at least one pixel):
# any side >= 1 works with global pooling; a 7x7 pooling needs a final map of 7, i.e. ceil(s / 32) >= 7
min_side = next(s for s in range(1, 300) if works(googlenet, s))
min_side_paper_head = 32 * 6 + 1
assert works(paper_head_googlenet, min_side_paper_head) and not works(paper_head_googlenet, min_side_paper_head - 1)
min_side, min_side_paper_head
""",
    ),
    md("Why these two sizes?"),
    answer(
        "ex2-why",
        """
Every stride-2 layer (the 7x7 convolution and four max poolings) maps a side s to
ceil(s / 2), because of the padding, and the global average pooling accepts any map, so even
a 1x1 image goes through: min_side = 1 (the result is meaningless, but the network runs). With
a fixed 7x7 average pooling the last map must be at least 7x7; five halvings give
ceil(s / 32) >= 7, so s >= 193. (It also stops working above 416, where the map reaches 14x14
and the pooling outputs 2x2.)
""",
    ),
    md("""
## Exercise 3 (7.4, ex. 3) — the parameters of AlexNet, VGG, NiN and GoogLeNet

Store a dict `param_counts` with the number of parameters (weights and biases) of the book's
networks as defined for one input channel and 10 classes: keys `'alexnet'` (7.1, for 224x224
inputs), `'vgg11'` (7.2, VGG-11 at full width, `conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))`,
224x224), `'nin'` (7.3) and `'googlenet'` (this section). Build them on the meta device to count.
"""),
    code(
        """
param_counts = {'alexnet': ..., 'vgg11': ..., 'nin': ..., 'googlenet': ...}
""",
        """
def alexnet():
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def vgg11(conv_arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))):
    layers, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def nin():
    def block(in_channels, out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())
    return nn.Sequential(
        block(1, 96, 11, 4, 0), nn.MaxPool2d(3, stride=2),
        block(96, 256, 5, 1, 2), nn.MaxPool2d(3, stride=2),
        block(256, 384, 3, 1, 1), nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
        block(384, 10, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


with torch.device('meta'):
    param_counts = {name: num_parameters(factory())
                    for name, factory in [('alexnet', alexnet), ('vgg11', vgg11), ('nin', nin),
                                          ('googlenet', googlenet)]}
param_counts
""",
    ),
    md("How do NiN and GoogLeNet get by with so many fewer parameters?"),
    answer(
        "ex3-why-fewer",
        """
AlexNet (46.8 M) and VGG-11 (128.8 M) spend almost all their parameters on the fully
connected layers at the end (VGG-11's first one alone has 25088 x 4096 = 102.8 M). NiN
(2.0 M) and GoogLeNet (6.0 M) have no such layers: a global average pooling turns the last
feature maps into one number per channel, and at most one small linear layer follows. They
also use 1x1 convolutions to reduce the number of channels before the expensive 3x3 and 5x5
convolutions (GoogLeNet's paths 2 and 3), so the convolutions themselves stay cheap.
""",
    ),
    md("""
## Extra exercise (d2l v1.0 only) — GoogLeNet at 28x28

Fashion-MNIST's images are 28x28. Design `googlenet_28()`, a variant of GoogLeNet for
`(N, 1, 28, 28)` inputs with 10 outputs. Keep the nine Inception blocks (instances of your
`Inception` class, with the book's channel numbers or your own), and change the stem, the
downsampling or the head so that **every Inception block works on a feature map of at least
3x3** (what the book's last blocks see at 96x96; the section's network on 28x28 shrinks the
map to 1x1 before stage 5). The grader checks exactly that, on a 28x28 input.
"""),
    code(
        """
def googlenet_28():
    ...
""",
        """
def googlenet_28():
    # stem without downsampling (28x28), then only three halvings: 14, 7 and 4 pixels for stages 3-5
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 64, kernel_size=3, padding=1), nn.ReLU()),
        nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                      nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        *body(), *head())


with torch.device('meta'):
    layer_shapes(googlenet_28(), (1, 1, 28, 28))
""",
    ),
    md("How did you change the stem, the body and the head, and why?"),
    answer(
        "v1-ex3-28",
        """
The stem is what shrinks the image most (7x7 stride-2 convolution plus pooling: a factor 4),
which is right for 224x224 photos but throws away too much of a 28x28 image. A 3x3
convolution with stride 1 and no pooling in stage 1 keeps 28x28; stage 2's pooling and the
poolings after stages 3 and 4 then give 14, 7 and 4 pixels. The body (the Inception blocks)
needs no change, and neither does the head, because the global average pooling accepts any
map size. The cost per image rises (bigger maps in the early stages), the parameters barely
change.
""",
    ),
    md("""
## Extra exercise (d2l v1.0 only) — the computation of GoogLeNet and AlexNet

Store a dict `macs_224` with the multiply-accumulates of the convolutions and fully connected
layers (a convolution does `in_channels * k_h * k_w` per output value, a linear layer
`in_features` per output value; biases not counted) for **one** `1 x 224 x 224` image, for
the book's AlexNet (key `'alexnet'`) and the section's GoogLeNet (key `'googlenet'`; its
global pooling lets it run at 224 as it does at 96).
"""),
    code(
        """
macs_224 = {'alexnet': ..., 'googlenet': ...}
""",
        """
def count_macs(net, shape):
    total = 0

    def hook(m, inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features

    hooks = [m.register_forward_hook(hook) for m in net.modules()]
    net(torch.zeros(shape, device='meta'))
    for h in hooks:
        h.remove()
    return total


with torch.device('meta'):
    macs_224 = {name: count_macs(factory(), (1, 1, 224, 224))
                for name, factory in [('alexnet', alexnet), ('googlenet', googlenet)]}
macs_224
""",
    ),
    md("""
What do the two networks' parameters and computation mean for a chip built to run them
(memory size, memory bandwidth, cache, arithmetic, specialised operations)?
"""),
    answer(
        "v1-ex5-accelerator",
        """
GoogLeNet needs about 1.6 times AlexNet's arithmetic (1.50 G against 0.94 G multiply-
accumulates at 224x224) with an eighth of its parameters (6.0 M against 46.8 M). AlexNet's
cost is dominated by fully connected layers that use each weight once per image: it needs
large memory and high bandwidth to stream weights (memory-bound), unless images are batched.
GoogLeNet's weights fit in a few tens of MB of on-chip memory or cache and each is reused at
every pixel, so it is compute-bound: a chip for it wants many multiply-accumulate units, fast
1x1 convolutions (matrix multiplication), and enough on-chip buffer for the activations of
the parallel paths, whose concatenation it should handle without copying.
""",
    ),
]
