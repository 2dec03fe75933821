"""7.5 batch-norm: the reference scores 100%, alternative correct answers pass (PyTorch's
F.batch_norm with its own momentum and unbiased running variance, a layer with buffers that
reads self.training, layers replaced by affine=False ones, ...), and each plausible wrong
answer loses exactly the points of the checks that should catch it, with the mix-up named.

Every variant also sets the notebook's training experiments to 0 epochs (LIGHT): they are
not graded, and skipping them keeps each graded notebook near a second.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests
from nbfactory import lost, variant

NB = "batch-norm.ipynb"

LIGHT = {"num_epochs=2": "num_epochs=0"}


def light(replace: dict[str, str]) -> dict[str, str]:
    assert not any("num_epochs=2" in old for old in replace)
    return {**replace, **LIGHT}


test_missing_names_are_reported_not_crashed = missing_names_test(
    "batch-norm",
    {
        "bn-fc-train": "batch_norm",
        "bn-gradient": "batch_norm",
        "bn-module-parameters": "BatchNorm",
        "frozen-lenet-trainable": "frozen_net",
    },
)


def test_light_reference_scores_full_marks(grader, rubrics, tmp_path):
    """The experiments the variants skip are not what earns the points."""
    assert lost(grade(grader, rubrics, variant(NB, tmp_path, LIGHT))) == {}


# ---------------------------------------------------------------- alternative correct answers
BN_DEF = "def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):\n    if not torch.is_grad_enabled():"

F_BATCH_NORM = """
def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # PyTorch's functional batch norm: its momentum weights the new statistic, and it
    # updates the running variance with the unbiased batch variance (accepted)
    C = X.shape[1]
    mm, mv = moving_mean.reshape(C).clone(), moving_var.reshape(C).clone()
    Y = F.batch_norm(X, mm, mv, gamma.reshape(C), beta.reshape(C),
                     training=torch.is_grad_enabled(), momentum=1 - momentum, eps=eps)
    return Y, mm.reshape(moving_mean.shape), mv.reshape(moving_var.shape)


def _unused_batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not torch.is_grad_enabled():"""

CLASS_DEF = "class BatchNorm(nn.Module):\n    def __init__(self, num_features, num_dims):"

BUFFERED_LAYER = """
class BatchNorm(nn.Module):
    # buffers of one value per channel, self.training for the mode, PyTorch's running variance
    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.register_buffer('moving_mean', torch.zeros(num_features))
        self.register_buffer('moving_var', torch.ones(num_features))
        self.dims = (0,) if num_dims == 2 else (0, 2, 3)

    def forward(self, X):
        view = self.gamma.shape
        if self.training:
            var, mean = torch.var_mean(X, dim=self.dims, unbiased=False)
            n = X.numel() // X.shape[1]
            with torch.no_grad():
                self.moving_mean.mul_(0.9).add_(0.1 * mean)
                self.moving_var.mul_(0.9).add_(0.1 * var * n / (n - 1))
        else:
            mean, var = self.moving_mean, self.moving_var
        X_hat = (X - mean.reshape(view)) / torch.sqrt(var.reshape(view) + 1e-5)
        return self.gamma * X_hat + self.beta


class _UnusedBatchNorm(nn.Module):
    def __init__(self, num_features, num_dims):"""

BIAS_DEF = "def bias_grad_before_bn(layer, X, upstream):\n    layer.zero_grad()"

BIAS_WITH_OWN_BATCH_NORM = """
def bias_grad_before_bn(layer, X, upstream):
    Z = layer(X)
    shape = (1, Z.shape[1]) + (1,) * (Z.dim() - 2)
    Y, _, _ = batch_norm(Z, torch.ones(shape), torch.zeros(shape), torch.zeros(shape), torch.ones(shape), 1e-5, 0.9)
    dW, db = torch.autograd.grad(Y, [layer.weight, layer.bias], upstream)
    return [Y.detach(), dW, db]


def _unused_bias(layer, X, upstream):
    layer.zero_grad()"""

LENET_DEF = "def lenet_bn():\n    return nn.Sequential("

LENET_CLASS = """
class LeNetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def lenet_bn():
    return LeNetBN()


def _unused_lenet():
    return nn.Sequential("""

BLOCK_DEF = "def conv_bn_relu(in_channels, out_channels):\n    return nn.Sequential("

BLOCK_ORDERED = """
from collections import OrderedDict


def conv_bn_relu(in_channels, out_channels):
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        bn=nn.BatchNorm2d(out_channels),
        act=nn.ReLU(inplace=True)))


def _unused_block(in_channels, out_channels):
    return nn.Sequential("""

PARTIAL_DEF = (
    "def lenet_bn_partial():\n    # batch normalisation after the two convolutions only\n    return nn.Sequential("
)

PARTIAL_FC_ONLY = """
def lenet_bn_partial():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def _unused_partial():
    return nn.Sequential("""

FREEZE_DEF = "def freeze_affine(net):\n    for m in net.modules():"

FREEZE_BY_REPLACING = """
def freeze_affine(net):
    # torch's layers are replaced by ones without affine parameters; the notebook's are frozen
    for name, child in list(net.named_children()):
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            fixed = type(child)(child.num_features, eps=child.eps, momentum=child.momentum, affine=False)
            fixed.running_mean.copy_(child.running_mean)
            fixed.running_var.copy_(child.running_var)
            setattr(net, name, fixed)
        elif isinstance(child, BatchNorm):
            with torch.no_grad():
                child.gamma.fill_(1.0)
                child.beta.fill_(0.0)
            child.gamma.requires_grad = False
            child.beta.requires_grad = False
        else:
            freeze_affine(child)
    return net


def _unused_freeze(net):
    for m in net.modules():"""

LITE_BODY = (
    "def center_only(X):\n    dims = (0,) if X.dim() == 2 else (0, 2, 3)\n    return X - X.mean(dim=dims, keepdim=True)"
)
LITE_VAR_MEAN = """def center_only(X):
    per_channel = X.transpose(0, 1).reshape(X.shape[1], -1)
    shape = (1, -1) + (1,) * (X.dim() - 2)
    return X - per_channel.mean(dim=1).reshape(shape)"""

ALTERNATIVES = {
    "functional-batch-norm-with-torch-conventions": light({BN_DEF: F_BATCH_NORM}),
    "layer-with-buffers-and-self-training": light({CLASS_DEF: BUFFERED_LAYER}),
    "own-batch-norm-autograd-and-module-classes": light(
        {BIAS_DEF: BIAS_WITH_OWN_BATCH_NORM, LENET_DEF: LENET_CLASS, BLOCK_DEF: BLOCK_ORDERED}
    ),
    "affine-free-layers-and-fc-only-partial": light(
        {FREEZE_DEF: FREEZE_BY_REPLACING, PARTIAL_DEF: PARTIAL_FC_ONLY, LITE_BODY: LITE_VAR_MEAN}
    ),
}

# ---------------------------------------------------------------- plausible wrong answers
BIASED_VAR = "        var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divide by n"
MODE_SWITCH = (
    "    if not torch.is_grad_enabled():  # prediction: the statistics gathered during training\n"
    "        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)\n"
    "    else:\n"
)
MOVING = (
    "        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean\n"
    "        moving_var = momentum * moving_var + (1.0 - momentum) * var"
)
STATS = (
    "        mean = X.mean(dim=dims, keepdim=True)\n"
    "        var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divide by n"
)
STATE_INIT = "        self.moving_mean = torch.zeros(shape)\n        self.moving_var = torch.ones(shape)"
FORWARD_CALL = (
    "        Y, self.moving_mean, self.moving_var = batch_norm(\n"
    "            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9)"
)
SECTION_ALL = {
    "bn-fc-train": 1,
    "bn-conv-train": 2,
    "bn-moving-statistics": 2,
    "bn-prediction": 1,
    "bn-gradient": 2,
    "bn-gradient-fc": 1,
    "bn-module-train": 2,
    "bn-module-moving-statistics": 1,
    "bn-module-eval": 1,
}

WRONG = {
    # section: batch_norm
    "unbiased-variance-in-the-normalisation": (
        light({BIASED_VAR: "        var = X.var(dim=dims, keepdim=True)"}),
        {"bn-fc-train": 1, "bn-conv-train": 2, "bn-gradient": 2, "bn-gradient-fc": 1, "bn-module-train": 2},
    ),
    "pytorch-momentum-in-the-book-formula": (
        light(
            {
                MOVING: "        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean\n"
                "        moving_var = (1.0 - momentum) * moving_var + momentum * var"
            }
        ),
        {"bn-moving-statistics": 2, "bn-module-moving-statistics": 1},
    ),
    "statistics-per-position-for-conv-inputs": (
        light(
            {
                "        assert X.dim() in (2, 4)\n        dims = (0,) if X.dim() == 2 else (0, 2, 3)\n": "        dims = (0,)\n"
            }
        ),
        {
            "bn-conv-train": 2,
            "bn-moving-statistics": 2,
            "bn-gradient": 2,
            "bn-module-train": 2,
            "bn-module-moving-statistics": 1,
            "bn-module-eval": 1,
        },
    ),
    "batch-statistics-in-prediction-mode": (
        light({MODE_SWITCH: "    if True:  # no prediction mode\n"}),
        {"bn-prediction": 1, "bn-module-eval": 1},
    ),
    "modes-swapped": (
        light({"    if not torch.is_grad_enabled():": "    if torch.is_grad_enabled():"}),
        SECTION_ALL,
    ),
    "statistics-detached-from-the-graph": (
        light(
            {
                STATS: "        mean = X.detach().mean(dim=dims, keepdim=True)\n"
                "        var = ((X.detach() - mean) ** 2).mean(dim=dims, keepdim=True)"
            }
        ),
        {"bn-gradient": 2, "bn-gradient-fc": 1},
    ),
    # section: the layer and the concise LeNet
    "moving-statistics-as-parameters": (
        light(
            {
                STATE_INIT: "        self.moving_mean = nn.Parameter(torch.zeros(shape))\n"
                "        self.moving_var = nn.Parameter(torch.ones(shape))",
                FORWARD_CALL: "        Y, mm, mv = batch_norm(\n"
                "            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9)\n"
                "        self.moving_mean.data, self.moving_var.data = mm, mv",
            }
        ),
        {"bn-module-parameters": 1},
    ),
    "layer-drops-the-moving-statistics-and-lenet-normalises-after-the-sigmoid": (
        light(
            {
                "        Y, self.moving_mean, self.moving_var = batch_norm(": "        Y, _, _ = batch_norm(",
                LENET_DEF + "\n        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),": LENET_DEF
                + "\n        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.BatchNorm2d(6),",
            }
        ),
        {"bn-module-moving-statistics": 1, "lenet-bn": 1},
    ),
    # exercises 1 and 3
    "eval-mode-bn-bias-before-bn-and-bn-everywhere": (
        light(
            {
                "    bn.train()\n": "    bn.eval()\n",
                "nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),": "nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),",
                PARTIAL_DEF: "def lenet_bn_partial():\n    return lenet_bn()\n    return nn.Sequential(",
            }
        ),
        {"bias-grad-before-bn": 2, "conv-bn-relu-block": 1, "lenet-bn-partial": 1},
    ),
    # exercise 5
    "frozen-at-the-current-values": (
        light(
            {"        with torch.no_grad():\n            affine[0].fill_(1.0)\n            affine[1].fill_(0.0)\n": ""}
        ),
        {"freeze-affine-training": 2, "freeze-affine-own-layer": 1},
    ),
    "affine-false-on-existing-layers": (
        light(
            {
                FREEZE_DEF: "def freeze_affine(net):\n"
                "    for m in net.modules():\n"
                "        if isinstance(m, (nn.modules.batchnorm._BatchNorm, BatchNorm)):\n"
                "            m.affine = False\n"
                "    return net\n\n\n"
                "def _unused_freeze(net):\n    for m in net.modules():"
            }
        ),
        {"frozen-lenet-trainable": 1, "freeze-affine-training": 2, "freeze-affine-own-layer": 1},
    ),
    "only-torch-layers-frozen": (
        light({"        elif isinstance(m, BatchNorm):\n            affine = (m.gamma, m.beta)\n": ""}),
        {"freeze-affine-own-layer": 1},
    ),
    # exercise 6 and v1.0 exercise 4
    "book-momentum-for-pytorch-and-lite-slips": (
        light(
            {
                "torch_momentum = 0.1": "torch_momentum = 0.9",
                "    return X - X.mean(dim=dims, keepdim=True)": "    return X - X.mean()",
                "    var = X.var(dim=dims, unbiased=False, keepdim=True)": "    var = (X ** 2).mean(dim=dims, keepdim=True)",
            }
        ),
        {"torch-momentum": 1, "center-only": 1, "scale-only": 1},
    ),
}

DIAGNOSED = {  # wrong answer -> words its checks' messages must contain
    "unbiased-variance-in-the-normalisation": {
        "bn-fc-train": "UNBIASED batch variance",
        "bn-conv-train": "UNBIASED batch variance",
        "bn-module-train": "UNBIASED batch variance",
        "bn-gradient": "UNBIASED batch variance",
    },
    "pytorch-momentum-in-the-book-formula": {
        "bn-moving-statistics": "The momentum is reversed",
        "bn-module-moving-statistics": "The momentum is reversed",
    },
    "statistics-per-position-for-conv-inputs": {
        "bn-conv-train": "statistics per (channel, row, column)",
        "bn-module-train": "statistics per (channel, row, column)",
        "bn-moving-statistics": "expected 3: one per feature",
        "bn-gradient": "statistics per (channel, row, column)",
    },
    "batch-statistics-in-prediction-mode": {
        "bn-prediction": "normalises with the statistics of the batch",
        "bn-module-eval": "normalises with the statistics of the batch",
    },
    "modes-swapped": {
        "bn-fc-train": "This is the prediction-mode output",
        "bn-moving-statistics": "The moving statistics are unchanged",
    },
    "statistics-detached-from-the-graph": {"bn-gradient": "treats the batch mean and variance as constants"},
    "moving-statistics-as-parameters": {"bn-module-parameters": "registered as parameters"},
    "layer-drops-the-moving-statistics-and-lenet-normalises-after-the-sigmoid": {
        "bn-module-moving-statistics": "The moving statistics are unchanged",
        "lenet-bn": "expected BatchNorm2d",
    },
    "eval-mode-bn-bias-before-bn-and-bn-everywhere": {
        "bias-grad-before-bn": "batch normalisation in EVALUATION mode",
        "conv-bn-relu-block": "still has a bias",
        "lenet-bn-partial": "fewer than the section's 4",
    },
    "frozen-at-the-current-values": {"freeze-affine-training": "expected 1 everywhere"},
    "affine-false-on-existing-layers": {"freeze-affine-training": "Setting `affine = False` on a layer"},
    "book-momentum-for-pytorch-and-lite-slips": {
        "torch-momentum": "0.9 is the book's momentum",
        "center-only": "One mean of the whole batch",
        "scale-only": "root mean square",
    },
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "batch-norm",
    NB,
    26,
    [
        "ex1-bias",
        "ex2-learning-rates",
        "ex3-every-layer",
        "ex4-dropout",
        "ex5-fixed-affine",
        "ex6-documentation",
        "ex7-research",
        "v1-ex4-lite",
    ],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
