"""Source of exercises/alexnet.ipynb and reference/alexnet.ipynb (d2l 7.1; d2l v1.0: 8.1)."""

from grader.content import answer, code, md

ASSIGNMENT = "alexnet"
NOTEBOOK = "alexnet.ipynb"

CELLS = [
    md("""
# 7.1 Deep Convolutional Neural Networks (AlexNet) — exercises

This notebook follows section 7.1 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 8.1 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order; the v1.0-only questions come last. Define the names each exercise asks for; the grader
looks them up by name, so keep the names exactly as written and run the notebook top to bottom
before you submit.

Check your work at any time with `grader check alexnet.ipynb`.

**What the grader can and cannot do.** AlexNet has almost 47 million parameters and needs close
to a billion multiply-accumulates per 224x224 image: training it is a job for a GPU and an hour,
not for a grader. So the networks here are graded by their **structure**: you write *factory
functions* that return a network (`def alexnet(): return nn.Sequential(...)`), and the grader
builds them on PyTorch's `meta` device (shapes only, no memory, no arithmetic) to count their
parameters and operations and to follow the shapes through every layer. Only the small 28x28
network of Exercise 2 is trained, for a few steps, on a synthetic batch.

Keep this notebook light as well: build the full-size networks under `with torch.device('meta'):`
when you only want their shapes or sizes, and never download a data set here (the grader runs
offline). A tiny synthetic data set shaped like Fashion-MNIST is provided for experiments.
"""),
    md("""
## Offline data and a small training loop

`synthetic_image_batches(num_examples, batch_size, seed)` makes a list of `(X, y)` minibatches
shaped like Fashion-MNIST (`X` is `(batch, 1, 28, 28)`, labels `0..9`): each class is a fixed
blocky pattern plus noise, and a different `seed` draws other examples of the same classes.
`train(net, train_iter, num_epochs, lr)` is plain minibatch SGD on the cross-entropy and
returns the average loss of each epoch; `accuracy(net, data_iter)` is the share of examples
classified correctly. They are given, not graded.
"""),
    code("""
import math
import torch
from torch import nn
import torch.nn.functional as F


def synthetic_image_batches(num_examples, batch_size, seed=0, num_classes=10):
    # the class patterns are always the same; `seed` only changes which examples are drawn
    patterns = F.interpolate(torch.rand(num_classes, 1, 7, 7, generator=torch.Generator().manual_seed(2021)),
                             size=28, mode='nearest')
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (num_examples,), generator=gen)
    X = patterns[y] + 0.3 * torch.randn(num_examples, 1, 28, 28, generator=gen)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, num_examples, batch_size)]


def train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    epoch_losses = []
    for _ in range(num_epochs):
        net.train()
        total, count = 0.0, 0
        for X, y in train_iter:
            optimizer.zero_grad()
            loss = F.cross_entropy(net(X), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
        epoch_losses.append(total / count)
    return epoch_losses


def accuracy(net, data_iter):
    net.eval()
    right, total = 0, 0
    with torch.no_grad():
        for X, y in data_iter:
            right += (net(X).argmax(dim=1) == y).sum().item()
            total += len(y)
    return right / total


train_iter = synthetic_image_batches(256, 32, seed=1)
test_iter = synthetic_image_batches(256, 64, seed=2)
"""),
    md("""
## Section code — AlexNet as a factory

Write `alexnet()`, a function that **returns** the section's AlexNet for single-channel
224x224 images (Fashion-MNIST resized, as the book does) and 10 classes:

* a convolution with 96 channels, an 11x11 window and stride 4 (the book pads it by 1), then
  3x3 max pooling with stride 2;
* a 5x5 convolution with 256 channels and padding 2, then the same max pooling;
* three 3x3 convolutions with padding 1 and 384, 384 and 256 channels, then the same max
  pooling;
* flattening (the features are 256 x 5 x 5 = 6400 numbers per image), then fully connected
  layers 6400 -> 4096 -> 4096 -> 10, with an `nn.Dropout(p=0.5)` layer after each of the two
  hidden ones;
* a ReLU after every convolution and after each hidden fully connected layer.

The grader checks, on a `(1, 1, 224, 224)` input: the number of input channels and classes, the
book's 46,764,746 parameters, its multiply-accumulates (MACs) and output shape, and the two
dropout layers. Build it from `torch.nn` layers (an `nn.Sequential` is simplest), so the grader
can recognise them. The cell below prints the shape after every layer **on the meta device**:
no memory is allocated for the 47 million weights.
"""),
    code(
        """
def alexnet():
    # TODO: return the section's AlexNet (1 input channel, 10 classes) as an nn.Module
    ...
""",
        """
def alexnet():
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


with torch.device('meta'):
    net = alexnet()
    X = torch.zeros((1, 1, 224, 224))
    for layer in net:
        X = layer(X)
        print(f'{layer.__class__.__name__:>10}  output shape {tuple(X.shape)}')
print(f'{sum(p.numel() for p in net.parameters()):,} parameters')
""",
    ),
    md("""
## Exercise 1 (7.1, ex. 1; v1.0 ex. 4) — more epochs

Train AlexNet for more epochs than the section does (on a machine with a GPU, with the book's
Fashion-MNIST loader; or, here, the 28x28 network of Exercise 2 on the synthetic data). How do
the results differ from LeNet's, and why?
"""),
    answer(
        "ex1-more-epochs",
        """
With more epochs AlexNet's training loss keeps falling and its test accuracy climbs to about
92% on Fashion-MNIST, several points above LeNet, which levels off near 80-85% however long it
trains: LeNet is too small (and its sigmoids too slow) to fit more, while AlexNet has far more
capacity and ReLUs that keep gradients alive. The price is time per epoch (about 40 times
LeNet's operations per image at 224x224) and a growing gap between training and test accuracy
that dropout only partly closes.
""",
    ),
    md("""
## Exercise 2 (7.1, ex. 2; v1.0 ex. 5) — AlexNet is too big for Fashion-MNIST

**2.1 — a simpler AlexNet.** Write `alexnet_small()`, returning a simplified AlexNet for the
same `(N, 1, 224, 224)` inputs that trains faster: it must map `(1, 1, 224, 224)` to `(1, 10)`,
need **at most half** of the book's AlexNet's multiply-accumulates per image, and have fewer
parameters. (Fewer channels, fewer or smaller layers, narrower fully connected layers...) The
grader measures both networks itself.

**2.2 — an AlexNet for 28x28 images.** Resizing 28x28 images to 224x224 multiplies the work of
every convolution by 64 without adding information. Write `alexnet28()`, returning an
AlexNet-style network that works directly on `(N, 1, 28, 28)` images and outputs `(N, 10)`.
The grader checks the shapes, that it needs fewer multiply-accumulates per image than the book's
AlexNet at 224x224, and that it can learn: it builds a **fresh** network with your `alexnet28()`
(its own initialisation), trains it for 40 steps of Adam (learning rate 1e-3) on one fixed
synthetic batch of 32 images (in training mode, so your dropout is on), then requires the loss
on that batch, in evaluation mode, to be below 1.15 (half of ln 10, the loss of guessing) and
below half of the loss before training. Like every network here it must output raw scores
(logits) for the cross-entropy, not probabilities. Keep it small enough for those 40 steps to
take a second or two on a CPU.
"""),
    code(
        """
def alexnet_small():
    # TODO: a cheaper AlexNet for 224x224 inputs
    ...


def alexnet28():
    # TODO: an AlexNet-style network for 28x28 inputs
    ...
""",
        """
def alexnet_small():
    # every convolution with half the channels, 1024-wide hidden layers
    return nn.Sequential(
        nn.Conv2d(1, 48, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(48, 128, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(128, 192, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 192, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 128, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(128 * 5 * 5, 1024), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(1024, 10),
    )


def alexnet28():
    # AlexNet's pattern (five 3x3 convolutions, max pooling, two dropout layers) at 28x28
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),                      # 14x14
        nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),                      # 7x7
        nn.Conv2d(64, 96, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 96, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(96, 64, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),                      # 3x3
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 256), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(256, 10),
    )


small = alexnet28()
print(train(small, train_iter, num_epochs=1, lr=0.05), accuracy(small, test_iter))
""",
    ),
    md("How much faster does your simplified network train, and how much accuracy does it lose (if any)?"),
    answer(
        "ex2-simpler",
        """
Halving every convolution's channels cuts its MACs by about four (both its inputs and its
outputs halve) and narrowing the hidden layers to 1024 cuts the fully connected parameters by
about ten: the simplified network needs a quarter of the book's operations and a ninth of its
parameters, so an epoch takes roughly a quarter of the time. On Fashion-MNIST its accuracy is
within a point of the full AlexNet's, because 10 classes of small grey images do not need
AlexNet's capacity. The 28x28 network is about 70 times cheaper still and reaches about 90%.
""",
    ),
    md("""
## Exercise 3 (7.1, ex. 3; v1.0 ex. 6) — the batch size

Change the batch size (on a GPU at home, e.g. 32, 128, 512) and watch the accuracy, the time per
epoch (throughput in images per second) and the GPU memory. What happens, and why?
"""),
    answer(
        "ex3-batch-size",
        """
The memory used grows about linearly with the batch size, because every layer's activations
are kept for each example until the backward pass (the weights' memory does not change). The
throughput rises with the batch size until the GPU is fully busy, then stays flat. Accuracy
after a fixed number of epochs tends to drop for large batches at the same learning rate,
because there are fewer updates per epoch; a larger learning rate compensates in part. Small
batches give noisier gradients, which regularise a little but use the GPU poorly.
""",
    ),
    md("""
## Exercise 4 (7.1, ex. 4; v1.0 ex. 1) — where the memory and the computation go

Analyse the section's AlexNet (on one 224x224 image, 1 input channel, 10 classes):

* `fc_param_share`: the **fraction** of all its parameters (weights and biases) that belong to
  the three fully connected layers, a number between 0 and 1;
* `conv_mac_share`: the **fraction** of all its multiply-accumulates that the five
  convolutions do (a convolution does `C_in x k_h x k_w` MACs for each element of its output;
  a fully connected layer `in_features` for each output; pooling, ReLU and dropout count as 0).

Give both as plain Python numbers (e.g. computed in the notebook, or rounded to three decimals);
the grader computes them from its own copy of the network and accepts an error of 0.005.
Counting parameters works on the meta device; for the MACs you need each layer's output shape
(printed above, or recorded with forward hooks on a meta tensor).
"""),
    code(
        """
fc_param_share = ...
conv_mac_share = ...
""",
        """
def share_counts(net, shape):
    params, macs = {}, {}

    def hook(module, inputs, output):
        kind = type(module).__name__
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            macs[kind] = macs.get(kind, 0) + output.numel() * module.in_channels * k_h * k_w
        elif isinstance(module, nn.Linear):
            macs[kind] = macs.get(kind, 0) + output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    net(torch.zeros(shape))
    for handle in handles:
        handle.remove()
    for m in net:
        kind = type(m).__name__
        params[kind] = params.get(kind, 0) + sum(p.numel() for p in m.parameters())
    return params, macs


with torch.device('meta'):
    params, macs = share_counts(alexnet(), (1, 1, 224, 224))
fc_param_share = params['Linear'] / sum(params.values())
conv_mac_share = macs['Conv2d'] / sum(macs.values())
print(params, macs)
fc_param_share, conv_mac_share
""",
    ),
    md("""
Which part dominates the memory needed for the parameters, and which dominates the computation?
And what about memory bandwidth: how much data has to move to compute one result, and how does
that differ between training and inference?
"""),
    answer(
        "ex4-memory-and-compute",
        """
The fully connected layers hold about 92% of the 46.8 million parameters (about 172 of the 187
MB in float32), the first one alone 26 million; the convolutions do about 95% of the 0.94
billion MACs, because each of their few weights is reused at thousands of positions. So the
convolutions are limited by arithmetic, the fully connected layers by memory bandwidth: each of
their weights is read for a single multiply-add per image, which is why inference at batch size
1 spends most of its time streaming the 170 MB of fully connected weights. Larger batches reuse
each weight for several images. Training also reads and writes gradients and optimiser state of
the same size, and keeps every activation for the backward pass, so it needs several times the
memory and bandwidth of inference.
""",
    ),
    md("""
## Exercise 5 (7.1, ex. 5; v1.0 ex. 7) — dropout and ReLU in LeNet

Write `lenet_relu_dropout()`, returning section 6.6's LeNet (for 28x28 inputs: 5x5 convolutions
with 6 and 16 channels, the first padded by 2, 2x2 average pooling with stride 2, fully
connected layers 400 -> 120 -> 84 -> 10) with every sigmoid replaced by a ReLU and `nn.Dropout`
layers added where you think they help (for instance after the hidden fully connected layers).
It keeps LeNet's 61,706 parameters and maps `(N, 1, 28, 28)` to `(N, 10)`. Train it against the
original if you like, and say what you see.
"""),
    code(
        """
def lenet_relu_dropout():
    # TODO: LeNet with ReLU activations and dropout
    ...
""",
        """
def lenet_relu_dropout():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(120, 84), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(84, 10),
    )


lenet = lenet_relu_dropout()
print(train(lenet, train_iter, num_epochs=2, lr=0.1), accuracy(lenet, test_iter))
""",
    ),
    answer(
        "ex5-lenet-dropout",
        """
ReLU is the bigger change: it removes the sigmoid LeNet's long plateau at the start of training,
so the network learns in the first epoch and ends a few points more accurate. Dropout on its own
slows training down a little and helps only once the network starts to overfit (the gap between
training and test accuracy shrinks). Preprocessing that uses the images' invariances (random
crops or shifts of a pixel or two, horizontal flips for clothing, normalising the pixel values)
adds varied training examples for free and improves the test accuracy further.
""",
    ),
    md("""
## Questions only d2l v1.0 asks (8.1, ex. 2, 3 and 8)

Answer these in a few sentences each.

**v1.0 ex. 2.** As a chip designer you trade computation against memory bandwidth: more
arithmetic units and more memory pins both cost area and power. How would you decide?
"""),
    answer(
        "v1-ex2-chip-design",
        """
Look at the arithmetic intensity (operations per byte moved) of the workloads the chip is for.
Convolutions reuse each weight many times and are limited by arithmetic; fully connected layers
and small batches are limited by bandwidth. Balance the two so that neither sits idle for the
target workloads (the roofline model), and add on-chip memory (caches, SRAM) so that more of the
data is reused close to the arithmetic units instead of crossing the expensive pins.
""",
    ),
    md("**v1.0 ex. 3.** Why do engineers no longer report performance benchmarks on AlexNet?"),
    answer(
        "v1-ex3-benchmarks",
        """
AlexNet no longer represents what people run: modern networks (ResNets, Transformers) have a
very different mix of operations (small 3x3 and 1x1 convolutions, batch normalisation,
attention) and far better accuracy per operation, and AlexNet is so small for today's hardware
that its timings mostly measure overheads and its large fully connected layers' bandwidth.
""",
    ),
    md("**v1.0 ex. 8.** Can you make AlexNet overfit? Which feature would you remove or change to break training?"),
    answer(
        "v1-ex8-overfit",
        """
Yes: remove dropout (and any data augmentation) and train on a small subset for many epochs; the
training accuracy goes to 100% while the test accuracy falls behind. Training breaks if the
ReLUs are replaced by sigmoids (vanishing gradients in the deep stack), the learning rate is
too large, or the weights are initialised badly (all zeros, or too large a scale).
""",
    ),
]
