"""Source of exercises/batch-norm.ipynb and reference/batch-norm.ipynb (d2l 7.5; d2l v1.0: 8.5)."""

from grader.content import answer, code, md

ASSIGNMENT = "batch-norm"
NOTEBOOK = "batch-norm.ipynb"

CELLS = [
    md("""
# 7.5 Batch Normalization — exercises

This notebook follows section 7.5 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 8.5 in d2l v1.0). The exercises are restated in our own words, in v0.17's
order; the exercise only v1.0 has ("lite" batch normalisation) comes after Exercise 6. Define
the names each exercise asks for; the grader looks them up by name, so keep the names exactly
as written and run the notebook top to bottom before you submit.

Check your work at any time with `grader check batch-norm.ipynb`.

**Offline and small.** The grader runs your notebook offline and never loads Fashion-MNIST: it
calls your functions on small tensors of its own and compares them with PyTorch's
`nn.BatchNorm1d` / `nn.BatchNorm2d` and with autograd. For your experiments the notebook comes
with a tiny synthetic data set shaped like Fashion-MNIST; keep every run here to a few seconds.
"""),
    md("""
## Offline data and a small training loop

`synthetic_image_batches(num_examples, batch_size, seed)` makes a list of `(X, y)` minibatches
shaped like Fashion-MNIST (`X` is `(batch, 1, 28, 28)`, labels `0..9`): each class is a fixed
blocky pattern plus noise. `train(net, train_iter, num_epochs, lr)` is plain minibatch SGD on
the cross-entropy and returns the average loss of each epoch; `accuracy(net, data_iter)`
evaluates in evaluation mode. They are given, not graded. (After only a handful of steps the
moving statistics of a batch-norm network have not settled yet, so its evaluation-mode accuracy
says little; the experiments below compare training losses.)
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


def train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=lr)
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


train_iter = synthetic_image_batches(128, 32, seed=1)
test_iter = synthetic_image_batches(128, 64, seed=2)
"""),
    md("""
## Section code — batch normalisation from scratch

Write `batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum)`, returning the
triple `(Y, moving_mean, moving_var)`: the normalised, scaled and shifted output and the
moving statistics after this call.

* **Shapes.** `X` is either the output of a fully connected layer, `(N, D)`, or of a
  convolution, `(N, C, H, W)`. For `(N, D)` every feature gets its own mean and variance,
  taken over the batch (dim 0). For `(N, C, H, W)` every **channel** gets one mean and one
  variance, taken over the batch and all positions (dims 0, 2 and 3). `gamma`, `beta`,
  `moving_mean` and `moving_var` have shape `(1, D)` or `(1, C, 1, 1)`, so they broadcast.
* **Training or prediction?** As in the book, the function is in training mode when gradients
  are enabled (`torch.is_grad_enabled()`), and in prediction mode under `torch.no_grad()`.
* **Training mode** normalises with the batch mean and the **biased** batch variance (the mean
  of the squared deviations, dividing by the number of values, not by that number minus one):
  `X_hat = (X - mean) / sqrt(var + eps)`, `Y = gamma * X_hat + beta`. It also updates the
  moving statistics with the **book's momentum convention**:
  `moving_mean = momentum * moving_mean + (1 - momentum) * mean`, the same for the variance.
  With `momentum = 0.9` the old value keeps 90% of its weight.
* **Prediction mode** normalises with `moving_mean` and `moving_var` instead, and returns them
  unchanged.

**Two conventions to keep apart** (the grader knows both and will tell you if you mixed them):

1. *Momentum.* PyTorch's `nn.BatchNorm2d(momentum=0.1)` means the opposite: the **new** batch
   statistic gets weight 0.1, `running = (1 - momentum) * running + momentum * statistic`. The
   book's 0.9 and PyTorch's 0.1 are the same average.
2. *Variance.* PyTorch normalises its output with the biased batch variance, as above, but
   updates `running_var` with the **unbiased** one (multiplied by n / (n - 1)). The book uses the
   biased variance for both. The grader requires the biased variance in the output and accepts
   either for the moving variance.

The grader calls your function on 2-D and 4-D inputs in both modes, compares `Y` and the moving
statistics with its own, and differentiates through it (autograd, in float64) to compare the
gradients for `X`, `gamma` and `beta` with the true ones.
"""),
    code(
        """
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # TODO: return (Y, moving_mean, moving_var)
    ...
""",
        """
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not torch.is_grad_enabled():  # prediction: the statistics gathered during training
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert X.dim() in (2, 4)
        dims = (0,) if X.dim() == 2 else (0, 2, 3)
        mean = X.mean(dim=dims, keepdim=True)
        var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divide by n
        X_hat = (X - mean) / torch.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.detach(), moving_var.detach()


X = torch.randn(8, 3, 4, 4)
Y, mm, mv = batch_norm(X, torch.ones(1, 3, 1, 1), torch.zeros(1, 3, 1, 1),
                       torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1), eps=1e-5, momentum=0.9)
Y.mean(dim=(0, 2, 3)), Y.var(dim=(0, 2, 3), unbiased=False), mm.flatten()
""",
    ),
    md("""
Now the layer: `BatchNorm(num_features, num_dims)` (an `nn.Module`), with `num_dims` 2 after a
fully connected layer and 4 after a convolution. Keep the book's names, the grader uses them:

* `gamma` and `beta`: **parameters** (`nn.Parameter`) of shape `(1, num_features)` or
  `(1, num_features, 1, 1)`, initialised to ones and zeros;
* `moving_mean` and `moving_var`: **not** parameters (no optimiser may train them; plain tensors
  as in the book, or buffers with `register_buffer`), initialised to zeros and ones;
* `forward(X)` calls your `batch_norm` with `eps = 1e-5` and `momentum = 0.9` and keeps the
  moving statistics it returns (move them to `X`'s device first if they are elsewhere).

The grader runs your layer next to `nn.BatchNorm2d(C)` / `nn.BatchNorm1d(D)` (whose default
momentum 0.1 is the book's 0.9) with the same gamma and beta: three training batches (layer in
`.train()`, gradients on), then one batch in evaluation mode (`.eval()` under
`torch.no_grad()`), comparing the outputs and the moving statistics. It also counts the
layer's parameters (2 x `num_features`).
"""),
    code(
        """
class BatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):
        super().__init__()
        # TODO: gamma, beta (parameters), moving_mean, moving_var (not parameters)
        ...

    def forward(self, X):
        # TODO: call batch_norm and keep the moving statistics it returns
        ...
""",
        """
class BatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        if self.moving_mean.device != X.device:
            self.moving_mean = self.moving_mean.to(X.device)
            self.moving_var = self.moving_var.to(X.device)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9)
        return Y
""",
    ),
    md("""
Compare your layer with PyTorch's on a few batches (this is what the grader does, with its own
numbers). The training outputs agree to rounding; the moving variance differs slightly from
`running_var` if you average the biased variance (PyTorch's is n / (n - 1) times larger).
"""),
    code(
        """
# mine, theirs = BatchNorm(3, num_dims=4), nn.BatchNorm2d(3)
# for _ in range(3):
#     X = torch.randn(2, 3, 4, 4)
#     print((mine(X) - theirs(X)).abs().max().item())
# mine.moving_mean.flatten(), theirs.running_mean, mine.moving_var.flatten(), theirs.running_var
""",
        """
mine, theirs = BatchNorm(3, num_dims=4), nn.BatchNorm2d(3)
for _ in range(3):
    X = torch.randn(2, 3, 4, 4)
    print((mine(X) - theirs(X)).abs().max().item())
mine.moving_mean.flatten(), theirs.running_mean, mine.moving_var.flatten(), theirs.running_var
""",
    ),
    md("""
## Section code — LeNet with batch normalisation

The section puts batch normalisation after each convolution and each hidden fully connected
layer of LeNet, before the sigmoid. Write `lenet_bn()`, a function that **returns** that
network for `(N, 1, 28, 28)` inputs, built from `torch.nn`'s own layers (the concise version):

* `Conv2d(1, 6, kernel_size=5)` (no padding), `BatchNorm2d(6)`, sigmoid, 2x2 average pooling
  with stride 2;
* `Conv2d(6, 16, kernel_size=5)`, `BatchNorm2d(16)`, sigmoid, the same pooling;
* flatten (16 x 4 x 4 = 256 features), `Linear(256, 120)`, `BatchNorm1d(120)`, sigmoid,
  `Linear(120, 84)`, `BatchNorm1d(84)`, sigmoid, `Linear(84, 10)`.

The grader compares the layers (in the order they run), their output shapes and the 44,878
parameters with its own. The version with your `BatchNorm` is shown below it.
"""),
    code(
        """
def lenet_bn():
    # TODO: return the section's LeNet with nn.BatchNorm2d / nn.BatchNorm1d
    ...
""",
        """
def lenet_bn():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


scratch_net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Flatten(),
    nn.Linear(16 * 4 * 4, 120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
    nn.Linear(120, 84), BatchNorm(84, num_dims=2), nn.Sigmoid(),
    nn.Linear(84, 10),
)
torch.manual_seed(0)
print('epoch losses', train(scratch_net, train_iter, num_epochs=2, lr=1.0))
scratch_net[1].gamma.flatten(), scratch_net[1].beta.flatten()
""",
    ),
    md("""
## Exercise 1 (7.5, ex. 1) — the bias before batch normalisation

In training mode batch normalisation subtracts the batch mean of each feature or channel. A
bias added by the layer before it shifts every value of that feature by the same constant, so
it shifts the mean by that constant too, and the subtraction removes it again.

**1a.** Show it with gradients. Write `bias_grad_before_bn(layer, X, upstream)`: `layer` is an
`nn.Linear` or an `nn.Conv2d` **with** a bias. Compute `Z = layer(X)`, then batch-normalise `Z`
in **training mode** with gamma = 1 and beta = 0 (a fresh `nn.BatchNorm1d` / `nn.BatchNorm2d` in
training mode, or your `batch_norm` with ones and zeros), giving `Y`. Backpropagate `upstream`
as the gradient of the loss with respect to `Y` (that is, the loss `(Y * upstream).sum()`) and
return the list `[Y, dL/dW, dL/db]` (the gradients of the layer's weight and bias). The grader
differentiates the same computation in float64 and compares all three: `dL/dW` is a real
gradient, `dL/db` must come out (numerically) zero.
"""),
    code(
        """
def bias_grad_before_bn(layer, X, upstream):
    # TODO: return [Y, weight gradient, bias gradient]
    ...
""",
        """
def bias_grad_before_bn(layer, X, upstream):
    layer.zero_grad()
    Z = layer(X)
    bn = nn.BatchNorm2d(Z.shape[1]) if Z.dim() == 4 else nn.BatchNorm1d(Z.shape[1])
    bn.train()
    Y = bn(Z)
    Y.backward(upstream)
    return [Y.detach(), layer.weight.grad.clone(), layer.bias.grad.clone()]


conv = nn.Conv2d(2, 3, kernel_size=3, padding=1)
Y, dW, db = bias_grad_before_bn(conv, torch.randn(4, 2, 5, 5), torch.randn(4, 3, 5, 5))
db, dW.abs().max()
""",
    ),
    md("""
**1b.** Draw the consequence. Write `conv_bn_relu(in_channels, out_channels)`, a function that
returns an `nn.Sequential` of a 3x3 convolution with padding 1 and **no** bias, an
`nn.BatchNorm2d` and an `nn.ReLU`, in that order (the block modern CNNs such as ResNet repeat).
The grader checks the layers, their shapes and the parameter count on a `(2, 3, 8, 8)` input
for `conv_bn_relu(3, 8)`.
"""),
    code(
        """
def conv_bn_relu(in_channels, out_channels):
    ...
""",
        """
def conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


sum(p.numel() for p in conv_bn_relu(3, 8).parameters())
""",
    ),
    md("So, should the bias before batch normalisation be removed? Why? Is there a case where it still matters?"),
    answer(
        "ex1-bias",
        """
Yes. In training mode batch normalisation subtracts the per-feature (per-channel) batch mean,
and a constant bias moves that mean by exactly the bias, so it cancels: the output does not
depend on it and its gradient is zero (1a shows zero up to rounding). It only costs parameters
and memory, and the shift it could provide is provided by beta after the normalisation. In
prediction mode the moving mean is used, so a bias would shift the output — but the moving mean
has learned the shifted statistics during training, so it is still redundant. Removing it is
what ResNet-style `conv(bias=False) -> BN -> ReLU` blocks do.
""",
    ),
    md("""
## Exercise 2 (7.5, ex. 2) — learning rates with and without batch normalisation

Compare how fast LeNet learns with and without batch normalisation, and how large a learning
rate each tolerates. On the synthetic data here a few epochs at a few learning rates are
enough to see the trend (at home you can run the same code on Fashion-MNIST, plotting the
training and test accuracy per epoch). Not graded automatically: report what you see below.
"""),
    code(
        """
def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )

# for lr in (0.1, 1.0, 4.0):
#     for make in (lenet, lenet_bn):
#         torch.manual_seed(0)
#         print(f'lr {lr}: {make.__name__:>8} epoch losses', train(make(), train_iter, num_epochs=2, lr=lr))
""",
        """
def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )

for lr in (0.1, 1.0, 4.0):
    for make in (lenet, lenet_bn):
        torch.manual_seed(0)
        print(f'lr {lr}: {make.__name__:>8} epoch losses', train(make(), train_iter, num_epochs=2, lr=lr))
""",
    ),
    answer(
        "ex2-learning-rates",
        """
On the synthetic data (2 epochs), the sigmoid LeNet stays at the loss of guessing (about
ln 10 = 2.3) at lr 0.1 and 1.0, while the batch-norm LeNet's loss falls to about 1.7 at both:
normalising every layer's inputs keeps the sigmoids out of saturation and the gradients
useful whatever the scale of the weights, so training starts at once and a wide range of
rates works. At lr 4.0 both fail within two epochs here (the batch-norm network's loss jumps
far above 2.3). On Fashion-MNIST the plain LeNet needs about lr 0.9 and many epochs, the
batch-norm version reaches the same test accuracy in a few epochs at lr 1.0 and tolerates
somewhat larger rates before the optimisation fails.
""",
    ),
    md("""
## Exercise 3 (7.5, ex. 3) — batch normalisation in every layer?

Write `lenet_bn_partial()`, returning the section's LeNet with batch normalisation after
**some** of its layers only (at least one, fewer than the four of `lenet_bn`), otherwise the
same layers and shapes. Which ones would you keep? Train it next to `lenet_bn` and report.
The grader checks that the convolutions and fully connected layers are the section's (types
and output shapes on a `(2, 1, 28, 28)` input) and counts the batch-norm layers.
"""),
    code(
        """
def lenet_bn_partial():
    ...
""",
        """
def lenet_bn_partial():
    # batch normalisation after the two convolutions only
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


for make in (lenet_bn, lenet_bn_partial):
    torch.manual_seed(0)
    print(f'{make.__name__:>16} epoch losses', train(make(), train_iter, num_epochs=2, lr=1.0))
""",
    ),
    answer(
        "ex3-every-layer",
        """
It depends on where. Here, with batch normalisation only after the two convolutions, the
loss after two epochs at lr 1.0 is still near 2.56, against 1.69 for the full lenet_bn: the
sigmoid fully connected layers, left unnormalised, saturate and slow everything down. With
more epochs the partial network gets there too, so BN is not needed in every layer for the
network to learn, but the layers whose inputs drift most (deep, saturating ones) gain most
from it, and every BN layer costs computation and ties each example's output to its batch.
In ResNet-style networks BN after every convolution is the rule, while the last fully
connected layer never has one.
""",
    ),
    md("""
## Exercise 4 (7.5, ex. 4) — batch normalisation instead of dropout

Can batch normalisation take the place of dropout? Try it if you like (for instance a network
with dropout after its hidden fully connected layers, and the same with batch normalisation
there instead, on the synthetic data) and describe how training and the gap between training
and test accuracy change. Not graded automatically.
"""),
    code("""
# your experiment (optional)
"""),
    answer(
        "ex4-dropout",
        """
Partly. The batch statistics are noisy (each example's output depends on the others in its
minibatch), which acts as a mild regulariser, and in practice networks with batch
normalisation often drop dropout or use less of it. But the noise is much weaker and not
controllable like a dropout rate, it vanishes for large batches, and it disappears in
evaluation mode in a different way. Replacing dropout by BN usually makes training faster and
more stable, while the gap between training and test accuracy tends to grow somewhat on small
data sets; combining both needs care (dropout before BN shifts the variance between training
and evaluation).
""",
    ),
    md("""
## Exercise 5 (7.5, ex. 5) — fixed gamma and beta

Write `freeze_affine(net)`: for every batch-normalisation layer in `net` — PyTorch's
(`nn.BatchNorm1d`, `nn.BatchNorm2d`, with `weight` and `bias`) and your own `BatchNorm` (with
`gamma` and `beta`) — set the scale to 1 and the shift to 0 and make sure they are **not
trained** any more (`requires_grad_(False)`, or a layer without them); leave every other
parameter trainable. Change `net` in place and return it. Then build
`frozen_net = freeze_affine(lenet_bn())`.

The grader counts `frozen_net`'s trainable parameters (44,878 - 452 = 44,426), and hands your
`freeze_affine` a small network of its own whose gamma and beta are not 1 and 0, trains it for
a few SGD steps and checks that gamma and beta stayed at 1 and 0 while the rest trained exactly
as with those values fixed. (Setting `affine = False` on a layer that already exists changes
nothing: the layer keeps and uses its weight and bias.)
"""),
    code(
        """
def freeze_affine(net):
    ...


frozen_net = ...
""",
        """
def freeze_affine(net):
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            affine = (m.weight, m.bias)
        elif isinstance(m, BatchNorm):
            affine = (m.gamma, m.beta)
        else:
            continue
        with torch.no_grad():
            affine[0].fill_(1.0)
            affine[1].fill_(0.0)
        for p in affine:
            p.requires_grad_(False)
    return net


frozen_net = freeze_affine(lenet_bn())
sum(p.numel() for p in frozen_net.parameters() if p.requires_grad)
""",
    ),
    code(
        """
# for make in (lenet_bn, lambda: freeze_affine(lenet_bn())):
#     torch.manual_seed(0)
#     print('epoch losses', train(make(), train_iter, num_epochs=2, lr=1.0))
""",
        """
for make in (lenet_bn, lambda: freeze_affine(lenet_bn())):
    torch.manual_seed(0)
    print('epoch losses', train(make(), train_iter, num_epochs=2, lr=1.0))
""",
    ),
    answer(
        "ex5-fixed-affine",
        """
With gamma = 1 and beta = 0 every normalised feature is forced to mean 0 and variance 1 before
the sigmoid, so the sigmoid works only in its nearly linear middle range and the layer cannot
choose a different scale or offset (it cannot even undo the normalisation). Training still
works and is still fast here — the normalisation is what helps optimisation — but the network
is a little less expressive, and the final loss is typically slightly higher than with
learnable gamma and beta. With ReLU, beta = 0 would also fix half of the units off on average.
""",
    ),
    md("""
## Exercise 6 (7.5, ex. 6) — PyTorch's `BatchNorm` documentation

Read the documentation of `nn.BatchNorm2d` (and its siblings). Set `torch_momentum` to the
`momentum` you must give `nn.BatchNorm2d` so that its running mean is the book's moving mean
with momentum 0.9, and describe below what else the documentation shows (options, other input
shapes, other uses).
"""),
    code(
        """
torch_momentum = ...
""",
        """
torch_momentum = 0.1
""",
    ),
    answer(
        "ex6-documentation",
        """
`momentum=None` gives a cumulative (plain) average instead of an exponential one;
`track_running_stats=False` always uses batch statistics, also in evaluation mode;
`affine=False` builds the layer without gamma and beta. `BatchNorm1d` also takes `(N, C, L)`
sequences (statistics per channel over N and L), `BatchNorm3d` volumes; `LazyBatchNorm*` infer
the number of features; `SyncBatchNorm` computes the statistics across several GPUs. The
running variance is updated with the unbiased batch variance, and related layers
(`LayerNorm`, `GroupNorm`, `InstanceNorm`) normalise each example on its own.
""",
    ),
    md("""
## v1.0 Exercise 4 (8.5, ex. 4) — "lite" batch normalisation

Two halves of batch normalisation, in training mode, for 2-D `(N, D)` inputs (per feature) and
4-D `(N, C, H, W)` inputs (per channel), without gamma, beta or moving statistics:

* `center_only(X)`: only subtract the batch mean;
* `scale_only(X, eps)`: only divide by the batch standard deviation `sqrt(var + eps)` — the
  (biased) variance about the batch mean, as in `batch_norm` — **without** subtracting the mean.

The grader compares both with its own on 2-D and 4-D inputs. How would a network behave with
one of them in place of batch normalisation? (Try it with a copy of `lenet_bn` if you like.)
"""),
    code(
        """
def center_only(X):
    ...


def scale_only(X, eps=1e-5):
    ...
""",
        """
def center_only(X):
    dims = (0,) if X.dim() == 2 else (0, 2, 3)
    return X - X.mean(dim=dims, keepdim=True)


def scale_only(X, eps=1e-5):
    dims = (0,) if X.dim() == 2 else (0, 2, 3)
    var = X.var(dim=dims, unbiased=False, keepdim=True)
    return X / torch.sqrt(var + eps)
""",
    ),
    answer(
        "v1-ex4-lite",
        """
Removing only the mean keeps the activations centred but lets their scale drift with the
weights: the sigmoid can still saturate and large learning rates still diverge, so training is
only a little better than without normalisation. Dividing only by the standard deviation fixes
the scale but not the offset, so inputs can sit far from the sigmoid's centre; combined with a
bias it trains better than centring alone, but it loses the invariance to shifts. The full
normalisation (both) behaves best; the variance part matters more for stable large learning
rates.
""",
    ),
    md("""
## Exercise 7 (7.5, ex. 7) — research ideas

Which other normalising transforms could be applied? Could you apply the probability integral
transform? What about a full-rank covariance estimate — and why should you probably not use
it? (v1.0 adds: compact matrix variants such as block-diagonal, low-displacement-rank or
Monarch matrices; whether sparsification acts as a regulariser; other projections, e.g. onto
convex cones or symmetry-group-specific transforms.)
"""),
    answer(
        "ex7-research",
        """
The probability integral transform maps each feature through its (estimated) CDF to a uniform
distribution — a normalisation of the whole marginal, not just the first two moments; it is
possible with running quantile estimates but costly and hard to differentiate well.
Whitening with a full-rank covariance (decorrelated BN) removes correlations between features,
but needs a d x d covariance per layer, its inverse square root (O(d^3)) and a batch larger than
d for a stable estimate, and it is noisy and slow — hence block-diagonal or other structured
(low-rank, Monarch) approximations. Sparsifying activations or weights removes capacity and
adds noise, which can regularise. Layer, group, instance and weight normalisation are the
per-example alternatives used in practice.
""",
    ),
]
