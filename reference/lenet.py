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
    return layer["module"] == "torch.nn.modules.activation"


# ------------------------------------------------------------------ exercise 3: train()
def tiny_net():
    """The small network the probe `run_train` hands to the student's train() (same layout)."""
    return nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))


def train_sgd(initial_state, batches, num_epochs, lr):
    """Minibatch SGD on mean cross-entropy, one step per batch; returns (state, epoch losses)."""
    net = tiny_net().double()
    net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in initial_state.items()})
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    epoch_losses = []
    for _ in range(num_epochs):
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
def activations(X, params, activation, pool):
    """Outputs of the first and second activation (before pooling) of a book-layout LeNet."""
    act = {"Sigmoid": torch.sigmoid, "ReLU": torch.relu, "Tanh": torch.tanh}[activation]
    pooling = {"AvgPool2d": F.avg_pool2d, "MaxPool2d": F.max_pool2d}[pool]
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    X = torch.as_tensor(X, dtype=torch.float64)
    A1 = act(F.conv2d(X, p["conv1.weight"], p["conv1.bias"], padding=2))
    A2 = act(F.conv2d(pooling(A1, kernel_size=2, stride=2), p["conv2.weight"], p["conv2.bias"]))
    return A1, A2
