"""Source of exercises/lenet.ipynb and reference/lenet.ipynb (d2l 6.6; d2l v1.0: 7.6)."""

from grader.content import answer, code, md

ASSIGNMENT = "lenet"
NOTEBOOK = "lenet.ipynb"

CELLS = [
    md("""
# 6.6 Convolutional Neural Networks (LeNet) — exercises

This notebook follows section 6.6 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.6 in d2l v1.0). The exercises are restated in our own words; each heading
also gives the exercise's number in v1.0, and the parts only v1.0 asks are marked as such.
Define the names each exercise asks for; the grader looks them up by name, so keep the names
exactly as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check lenet.ipynb`.

**No download, anywhere.** The grader runs your notebook offline and never loads
Fashion-MNIST or MNIST: it checks your networks and your training loop on small synthetic
tensors of its own. This notebook therefore comes with a tiny synthetic data set so that
every cell runs offline. To try a real data set on your own machine, see Exercise 3 — and
leave the download out of the notebook you submit.
"""),
    md("""
## Offline data

`synthetic_image_batches(num_examples, batch_size, seed)` makes a list of `(X, y)` minibatches
shaped like Fashion-MNIST: `X` is `(batch, 1, 28, 28)`, `y` holds labels `0..9`. Each class is
a fixed random blocky pattern plus noise, so a network can learn it in a few epochs; a
different `seed` draws different examples of the same classes (a test set). A list of batches
works anywhere a `DataLoader` does in a `for X, y in train_iter` loop.
"""),
    code("""
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


def accuracy(net, data_iter):
    # fraction of examples whose largest output is the true label
    net.eval()
    right, total = 0, 0
    with torch.no_grad():
        for X, y in data_iter:
            right += (net(X).argmax(dim=1) == y).sum().item()
            total += y.numel()
    return right / total


train_iter = synthetic_image_batches(256, 32, seed=1)
test_iter = synthetic_image_batches(256, 64, seed=2)
len(train_iter), train_iter[0][0].shape
"""),
    md("""
## The section's network

LeNet as the section builds it for 28x28 inputs: two convolution blocks (5x5 convolution,
sigmoid, 2x2 average pooling with stride 2; the first convolution pads by 2), then three
fully connected layers 400 -> 120 -> 84 -> 10 with sigmoids between them. It is given, not
graded. The loop prints the shape after every layer.
"""),
    code("""
net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10),
)

X = torch.zeros((1, 1, 28, 28))
for layer in net:
    X = layer(X)
    print(f'{layer.__class__.__name__:>10}  output shape {tuple(X.shape)}')
"""),
    md("""
## Exercise 3 (6.6, ex. 3; v1.0 ex. 3) — a training loop that takes its data

*(First, because the other exercises use it.)* The book's training function is tied to the
Fashion-MNIST loader. To run the same code on MNIST — or on anything else — write
`train(net, train_iter, num_epochs, lr)` that gets its data **only** from its argument:

* each epoch, loop `for X, y in train_iter` (do not use `len(train_iter)` or a global data set);
* for every minibatch take **one** step of `torch.optim.SGD(net.parameters(), lr=lr)` (no
  momentum, no weight decay) on `nn.CrossEntropyLoss()` (the mean over the minibatch);
* do **not** re-initialise the weights inside `train` (initialise them before calling it if you
  want to, e.g. with Xavier as the book does);
* return a list of `num_epochs` numbers: for each epoch, the average loss per example over the
  minibatches of that epoch (the losses computed in the forward passes of that epoch).

The grader calls your `train` on a tiny network with a list of batches and with a `DataLoader`,
and replays minibatch SGD to compare the parameters step for step.

**Trying MNIST on your own machine.** If you have `torchvision` and a network connection, a
loader like the following plugs straight into your `train`. Keep it out of the notebook you
submit (the grader is offline):

```python
from torchvision import datasets, transforms
mnist = datasets.MNIST('../data', train=True, download=True, transform=transforms.ToTensor())
mnist_iter = torch.utils.data.DataLoader(mnist, batch_size=256, shuffle=True)
train(my_net, mnist_iter, num_epochs=10, lr=0.9)
```
"""),
    code(
        """
def train(net, train_iter, num_epochs, lr):
    # TODO: minibatch SGD on the mean cross-entropy; return the average loss of each epoch
    ...
""",
        """
def train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    epoch_losses = []
    for epoch in range(num_epochs):
        net.train()
        total, count = 0.0, 0
        for X, y in train_iter:
            optimizer.zero_grad()
            l = loss(net(X), y)
            l.backward()
            optimizer.step()
            total += l.item() * y.numel()
            count += y.numel()
        epoch_losses.append(total / count)
    return epoch_losses
""",
    ),
    md("""
## Exercise 1 (6.6, ex. 1; v1.0 ex. 1.1) — max pooling instead of average pooling

Build `lenet_maxpool`, an `nn.Sequential` that is the section's LeNet with **only** its two
average pooling layers replaced by max pooling with a 2x2 window and stride 2. Everything else
stays: same convolutions, sigmoids, fully connected layers, so the same shapes and the same
61,706 parameters. Then train it and the original on the same data and compare.
"""),
    code(
        """
lenet_maxpool = ...
""",
        """
lenet_maxpool = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
    nn.Linear(120, 84), nn.Sigmoid(),
    nn.Linear(84, 10),
)
sum(p.numel() for p in lenet_maxpool.parameters())
""",
    ),
    md("Train both networks a few epochs (on the synthetic data here, or on a real data set at home) and compare."),
    code(
        """
# for model in (net, lenet_maxpool):
#     print(train(model, train_iter, num_epochs=2, lr=0.9), accuracy(model, test_iter))
""",
        """
for model in (net, lenet_maxpool):
    print(train(model, train_iter, num_epochs=2, lr=0.9), accuracy(model, test_iter))
""",
    ),
    md("What happens when the average pooling is replaced by max pooling?"),
    answer(
        "ex1-what-happens",
        """
Nothing changes in the shapes or the number of parameters, because pooling has none. Max
pooling passes on the strongest response of each window and the gradient only to that entry,
so the sigmoid network tends to leave its initial plateau a little sooner and to reach a
slightly higher accuracy in the same number of epochs; the difference is small compared with
changing the activation (on the synthetic data here both sigmoid networks are still on the
plateau after 2 epochs).
""",
    ),
    md("""
## v1.0 Exercise 1.2 (7.6, d2l v1.0 only) — max pooling and ReLU

d2l v1.0 modernises LeNet one step further. Build `lenet_modern`, an `nn.Sequential` made of
`torch.nn` layers: `lenet_maxpool` with **every** sigmoid (the two after the convolutions and
the two between the fully connected layers) replaced by `nn.ReLU()`. Nothing else changes: the
same layers in the same order, the same shapes, the same 61,706 parameters. (The grader
compares the layers it runs, their output shapes and the parameter count with its own.)
"""),
    code(
        """
lenet_modern = ...
""",
        """
lenet_modern = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # stride = window by default
    nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10),
)
# at home: print(train(lenet_modern, train_iter, num_epochs=2, lr=0.1), accuracy(lenet_modern, test_iter))
sum(p.numel() for p in lenet_modern.parameters())
""",
    ),
    md("What changes in training when the sigmoids go as well?"),
    answer(
        "v1-ex1-relu",
        """
The ReLU network leaves the initial plateau at once: the sigmoid saturates and its derivative
is at most 1/4, so gradients shrink layer by layer and the sigmoid LeNet needs a large
learning rate (0.9) and several epochs before the loss moves. With ReLUs the gradient passes
unchanged wherever a unit is active, the loss falls in the first epoch, a much smaller
learning rate (about 0.1) works and is needed (0.9 makes it diverge), and the accuracy after
a few epochs is clearly higher. Max pooling alone changes far less than the activation.
""",
    ),
    md("""
## Exercise 2 (6.6, ex. 2; v1.0 ex. 2) — a better LeNet

Design `improved_lenet`, a network based on LeNet that learns better. Things to try: the
convolution window sizes, the number of output channels, the activation (ReLU), the number of
convolution and fully connected layers, batch normalisation; and, when training, the learning
rate, the initialisation and the number of epochs.

What the grader checks: `improved_lenet` maps `(N, 1, 28, 28)` to `(N, 10)`; its architecture
differs from the book's LeNet; and a copy of it, re-initialised with PyTorch's default
initialisation (`reset_parameters`), fits a fixed synthetic batch of 32 images: after 30 steps
of Adam (learning rate 3e-3) its loss on the batch must be below 1.15 (half of ln 10, the loss
of guessing) and below half of its initial loss. The book's sigmoid LeNet stays near 2.3
under that budget. Keep the network small enough for those 30 steps to take a few seconds.
"""),
    code(
        """
improved_lenet = ...
""",
        """
improved_lenet = nn.Sequential(
    nn.Conv2d(1, 16, kernel_size=5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Conv2d(16, 32, kernel_size=5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Flatten(),
    nn.Linear(32 * 5 * 5, 120), nn.ReLU(),
    nn.Linear(120, 84), nn.ReLU(),
    nn.Linear(84, 10),
)
print(train(improved_lenet, train_iter, num_epochs=3, lr=0.1), accuracy(improved_lenet, test_iter))
""",
    ),
    md("Which changes did you make, and what did each of them do?"),
    answer(
        "ex2-improvements",
        """
ReLU instead of sigmoid removes the long plateau at the start of training; batch
normalisation after each convolution lets a larger learning rate work (0.1 is plenty with
SGD); max pooling keeps the strongest responses; 16 and 32 channels instead of 6 and 16 give
the convolutions more features for little extra cost. Together they typically reach about
90% test accuracy on Fashion-MNIST in 10 epochs, where the book's LeNet is at about 80%.
""",
    ),
    md("""
Now run the baseline and your improved network on MNIST (at home, with the loader shown in
Exercise 3 — the training function is the same) and report what you see below.
"""),
    answer(
        "ex3-mnist",
        """
On MNIST both networks do much better than on Fashion-MNIST, because digits are easier to tell
apart than clothes: expect roughly 97-98% test accuracy for the sigmoid LeNet after 10 epochs
at lr 0.9 and about 99% for the improved network. The gap between them is smaller than on
Fashion-MNIST.
""",
    ),
    md("""
## Exercise 4 (6.6, ex. 4; v1.0 ex. 4) — what the first two blocks respond to

Write `get_activations(net, X)` for a network laid out like the section's LeNet (indices
0-2 are the first block: convolution, activation, pooling; 3-5 the second block). Return a
pair `(A1, A2)`:

* `A1`: the output of the **first block's activation, before its pooling** — shape
  `(N, 6, 28, 28)`;
* `A2`: the output of the **second block's activation, before its pooling** (computed from the
  pooled `A1`) — shape `(N, 16, 10, 10)`.

Use the layers of the `net` you are given (its own weights, activation and pooling), so that
it works for the section's `net` as well as for `lenet_maxpool`, and only read the network:
do not change its weights. The grader recomputes both from the network's weights with a
tolerance of 1e-6.
"""),
    code(
        """
def get_activations(net, X):
    ...
""",
        """
def get_activations(net, X):
    A1 = net[1](net[0](X))
    A2 = net[4](net[3](net[2](A1)))
    return A1, A2


X, y = train_iter[0]
A1, A2 = get_activations(net, X)
A1.shape, A2.shape
""",
    ),
    md("""
Compare the activations for inputs of two different classes (on Fashion-MNIST, say a sweater
and a coat; here two synthetic classes). At home you can show each channel as an image, for
instance with `matplotlib`'s `imshow` on `A1[i, c]`.
"""),
    code(
        """
# e.g. per-channel mean activation for two examples of different classes
""",
        """
first, second = 0, int((y != y[0]).nonzero()[0])
with torch.no_grad():
    A1, A2 = get_activations(net, X[[first, second]])
A1.mean(dim=(2, 3)), A2.mean(dim=(2, 3))
""",
    ),
    answer(
        "ex4-activations",
        """
The first block's channels are edge and blob detectors: each looks like a filtered copy of the
input, bright where its 5x5 pattern matches, so for a sweater and a coat they show similar
outlines that differ mostly at the collar and the opening. The second block's 10x10 maps are
coarser and more abstract; similar garments give similar patterns there, which is why the two
classes are easily confused.
""",
    ),
    md("""
## v1.0 Exercise 5 (7.6, d2l v1.0 only) — images unlike the training data

Feed the network inputs that look nothing like its training data — random noise, a constant
image, a picture of something else — and compare their activations with those of a real
example. Nothing is graded in the cell; describe what you see below.
"""),
    code(
        """
# e.g. get_activations(net, torch.randn(1, 1, 28, 28)) next to those of X[:1]
""",
        """
odd_inputs = torch.stack([torch.randn(1, 28, 28), torch.full((1, 28, 28), 3.0)])
with torch.no_grad():
    A1_odd, A2_odd = get_activations(net, odd_inputs)
    A1_real, A2_real = get_activations(net, X[:1])
A2_odd.mean(dim=(2, 3)), A2_real.mean(dim=(2, 3))
""",
    ),
    answer(
        "v1-ex5-different-images",
        """
The first block still does what it always does: its 5x5 filters respond to whatever edges and
blobs the input has, so noise lights up every channel everywhere in a speckled way and a
constant image gives flat maps (only the border, where the padding creates an edge, stands
out). The second block, which combines those responses into the patterns of the training
classes, gives much less structured maps: either close to its average response everywhere or
saturated. The network still outputs a class, often with high confidence: nothing in it
recognises that the input is out of distribution.
""",
    ),
]
