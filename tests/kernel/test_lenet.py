"""6.6 lenet: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it.

Everything is graded through kernel-side probes on synthetic tensors: no data set is read.
"""

from __future__ import annotations

from assignment_suite import missing_names_test, standard_tests
from nbfactory import lost, variant

NB = "lenet.ipynb"


test_missing_names_are_reported_not_crashed = missing_names_test(
    "lenet",
    {
        "lenet-maxpool-pooling": "lenet_maxpool",
        "train-uses-its-data": "train",
        "train-is-minibatch-sgd": "train",
    },
)


def test_probes_do_not_change_the_students_network(grader, rubrics, tmp_path):
    """The probes train and re-initialise copies; checks that run later see the original."""
    path = variant(
        NB,
        tmp_path,
        append=[
            """
_weights_before = [p.detach().clone() for p in improved_lenet.parameters()]
_mode_before = improved_lenet.training


def get_activations(net, X, _w=_weights_before):
    # graded after improved-trains in plan order: fail loudly if the net was changed
    assert all(torch.equal(a, b) for a, b in zip(_w, improved_lenet.parameters())), "improved_lenet changed"
    assert improved_lenet.training == _mode_before, "improved_lenet's train/eval mode changed"
    A1 = net[1](net[0](X))
    return A1, net[4](net[3](net[2](A1)))
"""
        ],
    )
    assert lost(grade(grader, rubrics, path)) == {}


MAXPOOL_BY_COPY = """
import copy
lenet_maxpool = copy.deepcopy(net)
lenet_maxpool[2] = nn.MaxPool2d(2)
lenet_maxpool[5] = nn.MaxPool2d(2)
_unused = nn.Sequential("""

RELU_LENET_CLASS = """
class ImprovedLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Dropout(0.1), nn.Linear(120, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


improved_lenet = ImprovedLeNet()
_unused = nn.Sequential("""

MANUAL_SGD_TRAIN = """
def train(net, train_iter, num_epochs, lr):
    history = []
    for _ in range(num_epochs):
        losses, sizes = [], []
        for X, y in train_iter:
            l = F.cross_entropy(net(X), y, reduction='none')
            net.zero_grad()
            l.mean().backward()
            with torch.no_grad():
                for p in net.parameters():
                    p -= lr * p.grad
            losses.append(l.sum().item())
            sizes.append(len(y))
        history.append(torch.tensor(sum(losses) / sum(sizes)))
    return history


def _unused_train(net, train_iter, num_epochs, lr):
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)"""

HOOK_ACTIVATIONS = """
def get_activations(net, X):
    seen = []
    hooks = [net[i].register_forward_hook(lambda m, i, o: seen.append(o)) for i in (1, 4)]
    try:
        net[:5](X)
    finally:
        for h in hooks:
            h.remove()
    return tuple(seen)


def _unused_activations(net, X):
    A1 = net[1](net[0](X))"""

ALTERNATIVES = {
    # v1.0 exercise 1.2 in blocks, as d2l v1.0 writes its networks: the same leaf layers
    "modern-in-blocks": {
        "lenet_modern = nn.Sequential(": "lenet_modern = nn.Sequential(\n"
        "    nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2)),\n"
        "    nn.Sequential(nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2)),\n"
        "    nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),\n"
        "                  nn.Linear(84, 10)),\n"
        ")\n"
        "_flat_modern = nn.Sequential("
    },
    "maxpool-by-copying-net": {"lenet_maxpool = nn.Sequential(": MAXPOOL_BY_COPY},
    "improved-as-module-class-without-batchnorm": {"improved_lenet = nn.Sequential(": RELU_LENET_CLASS},
    "train-with-manual-sgd": {
        "def train(net, train_iter, num_epochs, lr):\n    optimizer = torch.optim.SGD(net.parameters(), lr=lr)": MANUAL_SGD_TRAIN
    },
    "activations-by-slicing": {
        "    A1 = net[1](net[0](X))\n    A2 = net[4](net[3](net[2](A1)))": "    A1 = net[:2](X)\n    A2 = net[2:5](A1)"
    },
    "activations-by-hooks": {"def get_activations(net, X):\n    A1 = net[1](net[0](X))": HOOK_ACTIVATIONS},
}


# Texts that only occur in one solution cell (variant() replaces in every cell that has them).
MAXPOOL_BLOCK2 = "nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),"
MAXPOOL_CONV1 = "nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),"
MAXPOOL_TAIL = "    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),\n    nn.Linear(120, 84), nn.Sigmoid(),\n    nn.Linear(84, 10),\n)\nsum("
IMPROVED_TAIL = "    nn.Linear(120, 84), nn.ReLU(),\n    nn.Linear(84, 10),\n)\nprint(train(improved_lenet"
TRAIN_DEF = "def train(net, train_iter, num_epochs, lr):\n    optimizer = torch.optim.SGD(net.parameters(), lr=lr)"
ACTIVATIONS_BODY = "    A1 = net[1](net[0](X))\n    A2 = net[4](net[3](net[2](A1)))"

WRONG = {
    # v1.0 exercise 1.2: ReLU after the convolutions only, the fully connected layers keep their sigmoids
    "modern-dense-sigmoids-kept": (
        {
            "nn.Linear(16 * 5 * 5, 120), nn.ReLU(),\n    nn.Linear(120, 84), nn.ReLU(),": "nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),\n    nn.Linear(120, 84), nn.Sigmoid(),"
        },
        {"lenet-modern-layers": 2},
    ),
    # exercise 1
    "second-pool-still-average": (
        {MAXPOOL_BLOCK2: "nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),"},
        {"lenet-maxpool-pooling": 2},
    ),
    "relu-instead-of-sigmoid": (
        {MAXPOOL_CONV1: "nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),"},
        {"lenet-maxpool-activations": 1},
    ),
    "first-conv-without-bias": (
        {
            MAXPOOL_CONV1: "nn.Conv2d(1, 6, kernel_size=5, padding=2, bias=False), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),"
        },
        {"lenet-maxpool-parameters": 1},
    ),
    "no-padding-and-resized-linear": (
        {
            MAXPOOL_CONV1: "nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),",
            MAXPOOL_TAIL: MAXPOOL_TAIL.replace("16 * 5 * 5", "16 * 4 * 4"),
        },
        {"lenet-maxpool-shapes": 1, "lenet-maxpool-parameters": 1},
    ),
    "flatten-only-works-for-one-image": (
        {
            "lenet_maxpool = nn.Sequential(": "class Flat(nn.Module):\n    def forward(self, x):\n        return x.reshape(1, -1)\n\n\nlenet_maxpool = nn.Sequential(",
            "    nn.Flatten(),\n" + MAXPOOL_TAIL: "    Flat(),\n" + MAXPOOL_TAIL,
        },
        {"lenet-maxpool-batch": 1},
    ),
    "maxpool-with-stride-one": (
        {"nn.MaxPool2d(kernel_size=2, stride=2)": "nn.MaxPool2d(kernel_size=2, stride=1)"},
        {
            "lenet-maxpool-pooling": 2,
            "lenet-maxpool-shapes": 1,
            "lenet-maxpool-parameters": 1,
            "lenet-maxpool-activations": 1,
            "lenet-maxpool-batch": 1,
        },
    ),
    # exercise 2
    "improved-is-the-baseline": (
        {
            IMPROVED_TAIL: IMPROVED_TAIL.replace(
                "print(train(improved_lenet", "improved_lenet = copy.deepcopy(net)\nprint(train(improved_lenet"
            ),
            "lenet_maxpool = nn.Sequential(": "import copy\nlenet_maxpool = nn.Sequential(",
        },
        {"improved-differs": 1, "improved-trains": 2},
    ),
    "improved-is-only-max-pooling": (
        {
            IMPROVED_TAIL: IMPROVED_TAIL.replace(
                "print(train(improved_lenet", "improved_lenet = lenet_maxpool\nprint(train(improved_lenet"
            )
        },
        {"improved-trains": 2},
    ),
    "softmax-layer-before-cross-entropy": (
        {IMPROVED_TAIL: IMPROVED_TAIL.replace("nn.Linear(84, 10),", "nn.Linear(84, 10), nn.Softmax(dim=1),")},
        {"improved-trains": 2},
    ),
    "improved-forgets-the-last-layer": (
        {IMPROVED_TAIL: "    nn.Linear(120, 84),\n)\nprint(train(improved_lenet"},
        {"improved-output-shape": 1},
    ),
    # exercise 3
    "train-reads-the-global-data": (
        {TRAIN_DEF: TRAIN_DEF.replace("def train(net, train_iter,", "def train(net, data_iter,")},
        {"train-uses-its-data": 1, "train-is-minibatch-sgd": 2, "train-epoch-losses": 1},
    ),
    "train-forgets-zero-grad": (
        {"            optimizer.zero_grad()\n": ""},
        {"train-is-minibatch-sgd": 2},
    ),
    "train-with-momentum": (
        {"torch.optim.SGD(net.parameters(), lr=lr)": "torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)"},
        {"train-is-minibatch-sgd": 2},
    ),
    "train-hard-codes-the-learning-rate": (
        {"torch.optim.SGD(net.parameters(), lr=lr)": "torch.optim.SGD(net.parameters(), lr=0.9)"},
        {"train-is-minibatch-sgd": 2, "train-epoch-losses": 1},
    ),
    "train-reinitialises-the-weights": (
        {
            TRAIN_DEF: "def train(net, train_iter, num_epochs, lr):\n"
            "    net.apply(lambda m: nn.init.xavier_uniform_(m.weight) if type(m) in (nn.Linear, nn.Conv2d) else None)\n"
            "    optimizer = torch.optim.SGD(net.parameters(), lr=lr)"
        },
        {"train-is-minibatch-sgd": 2, "train-epoch-losses": 1},
    ),
    "train-returns-summed-losses": (
        {"epoch_losses.append(total / count)": "epoch_losses.append(total)"},
        {"train-epoch-losses": 1},
    ),
    # exercise 4
    "activations-after-pooling": (
        {ACTIVATIONS_BODY: "    A1 = net[:3](X)\n    A2 = net[3:6](A1)"},
        {"activations-shapes": 1, "activations-values": 2, "activations-other-network": 1},
    ),
    "activations-before-the-activation": (
        {ACTIVATIONS_BODY: "    A1 = net[0](X)\n    A2 = net[3](net[2](net[1](A1)))"},
        {"activations-values": 2, "activations-other-network": 1},
    ),
    "activations-hard-code-sigmoid-and-average": (
        {ACTIVATIONS_BODY: "    A1 = torch.sigmoid(net[0](X))\n    A2 = torch.sigmoid(net[3](F.avg_pool2d(A1, 2)))"},
        {"activations-other-network": 1},
    ),
    "activations-use-the-global-net": (
        {"def get_activations(net, X):\n" + ACTIVATIONS_BODY: "def get_activations(model, X):\n" + ACTIVATIONS_BODY},
        {"activations-values": 2, "activations-other-network": 1},
    ),
}


DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the property's named mistakes)
    "activations-before-the-activation": {"activations-values": "before the activation (pre-activations)"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "lenet",
    NB,
    20,
    ["ex1-what-happens", "ex2-improvements", "ex3-mnist", "ex4-activations", "v1-ex1-relu", "v1-ex5-different-images"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
