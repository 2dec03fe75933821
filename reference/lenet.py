"""Reference solutions for d2l 6.6 "Convolutional Neural Networks (LeNet)" (PyTorch).

Run only in the grader process, to judge what the kernel-side probes
(rubrics/lenet_probes.py) sent back; never sent to a kernel. No dataset is needed: every
check works on small synthetic tensors made by the probes.
"""

import torch
import torch.nn.functional as F
from torch import nn

from grader.content import ProbeContext

IN_SHAPE = (1, 1, 28, 28)


def lenet(activation="Sigmoid", pool="AvgPool2d"):
    """LeNet-5 as the book lays it out for 28x28 inputs, with a choice of activation and pooling."""
    act = getattr(nn, activation)
    pooling = getattr(nn, pool)
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        act(),
        pooling(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        act(),
        pooling(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, 10),
    )


def lenet_maxpool():
    return lenet("Sigmoid", "MaxPool2d")


def lenet_modern():
    """d2l v1.0's modernised LeNet: max pooling instead of average pooling and ReLU in place of
    every sigmoid; same convolutions, fully connected layers and shapes (61,706 parameters)."""
    return lenet("ReLU", "MaxPool2d")


def describe(net, shape=IN_SHAPE):
    """The summary the kernel probe `describe_net` makes of a student's network, made here
    of a reference network by the very same code (rubrics/lenet_probes.py), so the two
    can never disagree on format."""
    probes = _probes_module()
    return probes.describe_net(ProbeContext({"net": net}), "net", list(shape))


def _probes_module():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rubrics", "lenet_probes.py")
    spec = importlib.util.spec_from_file_location("d2l_course_lenet_probes_for_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def book_lenet_summary():
    return describe(lenet())


def distinct_shapes(layers):
    """Output shapes in execution order with consecutive repeats removed (activations keep shapes)."""
    out = []
    for layer in layers:
        if layer["shape"] is not None and (not out or out[-1] != layer["shape"]):
            out.append(layer["shape"])
    return out


def is_activation(layer):
    """A layer of one of torch.nn's own activation classes (not a class that says it is)."""
    return bool(layer.get("torch")) and layer["module"] == "torch.nn.modules.activation"


# ------------------------------------------------------------------ exercise 3: train()
MAX_EPOCHS = 50  # the replay's work is bounded by the rubric's own inputs, never by a student
MAX_BATCHES = 100


def tiny_net():
    """The small network the probe `run_train` hands to the student's train() (same layout)."""
    return nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))


def tiny_state(initial):
    """The tiny net's state_dict from the rubric's tensors (conv weight, conv bias, linear
    weight, linear bias), in float64; ValueError when they do not fit the network."""
    keys = list(tiny_net().state_dict())
    state = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in zip(keys, initial, strict=True)}
    for key, value in tiny_net().state_dict().items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f"{key}: shape {tuple(state[key].shape)}, the tiny net has {tuple(value.shape)}")
    return state


def train_batches(X, y, batch_size=4):
    """The probe's minibatches: X with the classes made separable (pixel (1, 1) raised by
    2 * label), cut in order into batches of `batch_size`."""
    X = torch.as_tensor(X, dtype=torch.float64).clone()
    y = torch.as_tensor(y, dtype=torch.int64)
    X[:, 0, 1, 1] += 2.0 * y
    return [(X[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size)]


def loss_on(state, batches):
    """Mean cross-entropy of the tiny net with parameters `state` over all examples of `batches`."""
    net = tiny_net().double()
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in state.items()})
    with torch.no_grad():
        X = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
        return F.cross_entropy(net(X), y).item()


def train_sgd(initial_state, batches, num_epochs, lr):
    """Minibatch SGD on mean cross-entropy, one step per batch; returns (state, epoch losses).

    Only ever called on the rubric's own batches and epochs: refuses more than MAX_EPOCHS
    epochs or MAX_BATCHES batches rather than run for a time a caller did not plan."""
    if not 0 <= int(num_epochs) <= MAX_EPOCHS or len(batches) > MAX_BATCHES:
        raise ValueError(f"train_sgd replays at most {MAX_EPOCHS} epochs of {MAX_BATCHES} batches")
    net = tiny_net().double()
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in initial_state.items()})
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    epoch_losses = []
    for _ in range(int(num_epochs)):
        total, count = 0.0, 0
        for X, y in batches:
            X = torch.as_tensor(X, dtype=torch.float64)
            y = torch.as_tensor(y, dtype=torch.int64)
            optimizer.zero_grad()
            batch_loss = loss(net(X), y)
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item() * len(y)
            count += len(y)
        epoch_losses.append(total / count)
    return {k: v.detach() for k, v in net.state_dict().items()}, epoch_losses


# ------------------------------------------------------------------ exercise 4: activations
CONV_SHAPES = {
    "conv1.weight": (6, 1, 5, 5),
    "conv1.bias": (6,),
    "conv2.weight": (16, 6, 5, 5),
    "conv2.bias": (16,),
}


def activations(X, params, activation, pool):
    """Outputs of the first and second activation (before pooling) of a book-layout LeNet."""
    act = {"Sigmoid": torch.sigmoid, "ReLU": torch.relu, "Tanh": torch.tanh}[activation]
    pooling = {"AvgPool2d": F.avg_pool2d, "MaxPool2d": F.max_pool2d}[pool]
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    X = torch.as_tensor(X, dtype=torch.float64)
    A1 = act(F.conv2d(X, p["conv1.weight"], p["conv1.bias"], padding=2))
    A2 = act(F.conv2d(pooling(A1, kernel_size=2, stride=2), p["conv2.weight"], p["conv2.bias"]))
    return A1, A2


def pre_activations(X, params, activation, pool):
    """A known mistake: the two convolutions' outputs *before* their activation, the second one
    computed from the first block's real (activated, pooled) output."""
    act = {"Sigmoid": torch.sigmoid, "ReLU": torch.relu, "Tanh": torch.tanh}[activation]
    pooling = {"AvgPool2d": F.avg_pool2d, "MaxPool2d": F.max_pool2d}[pool]
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    Z1 = F.conv2d(torch.as_tensor(X, dtype=torch.float64), p["conv1.weight"], p["conv1.bias"], padding=2)
    Z2 = F.conv2d(pooling(act(Z1), kernel_size=2, stride=2), p["conv2.weight"], p["conv2.bias"])
    return Z1, Z2
