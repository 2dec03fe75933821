"""Reference solutions for d2l 7.1 "Deep Convolutional Neural Networks (AlexNet)" (PyTorch).

Run only in the grader process; never sent to a kernel. Networks are FUNCTIONS that build an
nn.Module, so the structure checks can build them under `torch.device("meta")` (no memory, no
initialisation): AlexNet has 46.8 million parameters and is never trained here.

Every figure the rubric expects is computed from these networks in the grader:
`fc_param_share`, `conv_mac_share` and the MAC bound of the cheaper AlexNets come from
`alexnet()` as the structure checks measure it (`grader.content.describe_network`: parameters
and multiply-accumulates (MACs) per layer, counted in the grader on the meta device). The book's numbers, recomputed:
46,764,746 parameters (43,040,778 of them in the three Linear layers: 92.0%) and
938,146,176 MACs at 224x224 (895,113,600 of them in the five convolutions: 95.4%).
"""

from functools import cache

from torch import nn

from grader.content import describe_network

IMAGE = (1, 1, 224, 224)  # one Fashion-MNIST image, resized as the book does


def alexnet(in_channels=1, num_classes=10):
    """AlexNet as the section lays it out for 224x224 single-channel images and 10 classes.

    The first convolution pads by 1 (as the book's PyTorch code does); without it the
    feature maps have the same sizes (54x54 after it), so both count as the book's network."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(256 * 5 * 5, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, num_classes),
    )


def alexnet_small():
    """Exercise 2.1: a cheaper AlexNet for 224x224 inputs (half the channels of every
    convolution, 1024-wide hidden layers): about a quarter of the book's MACs."""
    return nn.Sequential(
        nn.Conv2d(1, 48, kernel_size=11, stride=4, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(48, 128, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(128, 192, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(192, 192, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(192, 128, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(128 * 5 * 5, 1024),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(1024, 10),
    )


def alexnet28():
    """Exercise 2.2: AlexNet's pattern (five 3x3 convolutions in three stages, max pooling,
    two dropout-regularised hidden layers) sized for 28x28 images."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),  # 14x14
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),  # 7x7
        nn.Conv2d(64, 96, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(96, 96, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(96, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),  # 3x3
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 256),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(256, 10),
    )


def lenet_relu_dropout():
    """Exercise 5: the section 6.6 LeNet with ReLU activations and dropout after the two
    hidden fully connected layers (61,706 parameters, as the sigmoid LeNet)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.ReLU(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(84, 10),
    )


# ------------------------------------------------------------------ counting
@cache
def _book():
    """The book's AlexNet as the structure checks measure it (grader.content.describe_network:
    parameters and MACs per layer, counted in the grader; computed once per grader process)."""
    return describe_network(alexnet, IMAGE)


def alexnet_macs():
    """Total MACs of the book's AlexNet on one 224x224 image (938,146,176)."""
    return _book().macs


def alexnet_parameters():
    """Total parameters of the book's AlexNet (46,764,746)."""
    return _book().parameters


def fc_param_share():
    """Exercise 4.1: the fraction of AlexNet's parameters in its fully connected layers (0.920)."""
    net = _book()
    return net.params_of("Linear") / net.params_of("Linear", "Conv2d")


def conv_mac_share():
    """Exercise 4.2: the fraction of AlexNet's MACs done by its convolutions (0.954)."""
    net = _book()
    return net.macs_of("Conv2d") / net.macs_of("Linear", "Conv2d")


# Known wrong answers to exercise 4 (value-check diagnoses; each computed from the same counts).
def fc_param_share_percent():
    return 100 * fc_param_share()


def conv_param_share():
    """The convolutions' share of the parameters (the complement of the answer)."""
    return 1 - fc_param_share()


def fc_to_conv_param_ratio():
    return _book().params_of("Linear") / _book().params_of("Conv2d")


def conv_mac_share_percent():
    return 100 * conv_mac_share()


def fc_mac_share():
    """The fully connected layers' share of the MACs (the complement of the answer)."""
    return 1 - conv_mac_share()


def conv_to_fc_mac_ratio():
    return _book().macs_of("Conv2d") / _book().macs_of("Linear")


# Known wrong answers to the section's input/output check, (input channels, classes), with the
# check's own arguments (the factory's name and the input shape): the ImageNet habits.
def rgb_input(name, shape):
    return (3, 10)


def imagenet_classes(name, shape):
    return (1, 1000)


def imagenet_input_and_classes(name, shape):
    return (3, 1000)
