"""Reference solutions for d2l 7.3 "Network in Network (NiN)" (PyTorch; d2l v1.0 8.3).

Run only in the grader process. The networks are FUNCTIONS returning a fresh nn.Module, so the
structure checks build them on the meta device (no weights are allocated: the full 224x224
NiN costs nothing) and compare the student's factories with them. The resource counts the
notebook asks for (parameters, multiply-accumulates, activation values) are computed here from
the reference network, never taken from the kernel.
"""

import math

import torch
from torch import nn

IN_SHAPE = (1, 1, 224, 224)  # one Fashion-MNIST-like channel, resized to 224 as in the book


def nin_block(in_channels, out_channels, kernel_size, strides, padding, num_1x1=2, inner_kernel=1):
    """A NiN block: one convolution with the given window, then `num_1x1` convolutions of
    window `inner_kernel` (1 in the book; padded so that they keep the shape), each followed by
    a ReLU. The book's block has num_1x1 = 2."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU()]
    for _ in range(num_1x1):
        layers += [nn.Conv2d(out_channels, out_channels, inner_kernel, padding=inner_kernel // 2), nn.ReLU()]
    return nn.Sequential(*layers)


def nin(num_1x1=2, inner_kernel=1, head="gap"):
    """The book's NiN for 1x224x224 inputs and 10 classes.

    `num_1x1` and `inner_kernel` make the variants of the exercises (one or three 1x1
    convolutions per block; 3x3 instead of 1x1). `head="fc"`: the global average pooling (and
    its Flatten) replaced by Flatten + a fully connected layer from the last block's 10x5x5
    output to the 10 classes (d2l v1.0 exercise 3)."""

    def block(*args):
        return nin_block(*args, num_1x1=num_1x1, inner_kernel=inner_kernel)

    layers = [
        block(1, 96, 11, 4, 0),
        nn.MaxPool2d(3, stride=2),
        block(96, 256, 5, 1, 2),
        nn.MaxPool2d(3, stride=2),
        block(256, 384, 3, 1, 1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        block(384, 10, 3, 1, 1),
    ]
    if head == "gap":
        layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()]
    elif head == "fc":
        layers += [nn.Flatten(), nn.Linear(10 * 5 * 5, 10)]
    else:
        raise ValueError(f"unknown head {head!r}")
    return nn.Sequential(*layers)


def nin_one():
    """Exercise 2 (v1.0 ex. 1): one 1x1 convolution per block instead of two."""
    return nin(num_1x1=1)


def nin_three():
    """Exercise 2 (v1.0 ex. 1): three 1x1 convolutions per block."""
    return nin(num_1x1=3)


def nin_3x3():
    """d2l v1.0 exercise 2: the two 1x1 convolutions of every block become 3x3 (padding 1)."""
    return nin(inner_kernel=3)


def nin_fc():
    """d2l v1.0 exercise 3: a fully connected layer where the global average pooling was."""
    return nin(head="fc")


# ------------------------------------------------------------------ exercise 3: resources
def _leaf_calls(net, shape):
    """(module, input shape, output shape) of every leaf module call, in the order they run,
    on a meta tensor of `shape` (the network is built or moved to the meta device first)."""
    net = net.to("meta")
    calls = []

    def hook(module, inputs, output):
        calls.append((module, tuple(inputs[0].shape), tuple(output.shape)))

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            net(torch.zeros(shape, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return calls


def on_meta(factory, *args):
    """factory(*args) built on the meta device: shapes only, no weights allocated."""
    with torch.device("meta"):
        return factory(*args)


def parameter_count(net):
    return sum(p.numel() for p in net.parameters())


def mac_count(net, shape=IN_SHAPE):
    """Multiply-accumulates of the convolutions and fully connected layers (biases not
    counted): a convolution does (in_channels / groups) * k_h * k_w of them per output value."""
    total = 0
    for module, _, out in _leaf_calls(net, shape):
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            total += math.prod(out) * module.in_channels // module.groups * k_h * k_w
        elif isinstance(module, nn.Linear):
            total += math.prod(out) * module.in_features
    return total


def activation_count(net, shape=IN_SHAPE, types=None):
    """The number of values in the outputs of every leaf layer call (of `types` only, when
    given), for one input of `shape`."""
    return sum(
        math.prod(out) for module, _, out in _leaf_calls(net, shape) if types is None or isinstance(module, types)
    )


def nin_parameters():
    """Exercise 3: the parameters of the book's NiN (1,992,166)."""
    return parameter_count(on_meta(nin))


def nin_macs():
    """Exercise 3: multiply-accumulates of one 1x224x224 image through NiN (about 0.76 G)."""
    return mac_count(on_meta(nin))


def nin_activations():
    """Exercise 3: values in the outputs of all layers (every Conv2d, ReLU, MaxPool2d, Dropout,
    AdaptiveAvgPool2d and Flatten call) for one 1x224x224 image."""
    return activation_count(on_meta(nin))


# Known wrong answers (diagnoses), computed from the reference network as well.
def nin_parameters_without_biases():
    """Weights only: every convolution's bias left out."""
    net = on_meta(nin)
    return sum(p.numel() for name, p in net.named_parameters() if not name.endswith("bias"))


def nin_parameters_one_1x1():
    """The count of the network with one 1x1 convolution per block (a block built by halves)."""
    return parameter_count(on_meta(nin_one))


def nin_flops():
    """Multiplications and additions counted separately: twice the multiply-accumulates."""
    return 2 * nin_macs()


def nin_macs_without_1x1():
    """Only each block's first convolution counted (the 1x1 convolutions forgotten)."""
    total = 0
    for module, _, out in _leaf_calls(on_meta(nin), IN_SHAPE):
        if isinstance(module, nn.Conv2d) and module.kernel_size != (1, 1):
            k_h, k_w = module.kernel_size
            total += math.prod(out) * module.in_channels * k_h * k_w
    return total


def nin_activations_conv_only():
    """Only the convolutions' outputs counted (ReLU, pooling, dropout, flatten left out)."""
    return activation_count(on_meta(nin), types=nn.Conv2d)


def nin_activations_in_bytes():
    """The right count, but in bytes of float32 (4 per value) instead of values."""
    return 4 * nin_activations()
