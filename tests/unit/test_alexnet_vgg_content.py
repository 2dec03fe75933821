"""7.1 alexnet and 7.2 vgg without a kernel: the references' figures, the engine's measurement
of the reference networks, and the property checks on networks and values built here."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from grader.compare import CheckFailed
from grader.content import PropertyContext, describe_network
from grader.fit import synthetic_batch
from grader.kinds.base import JudgeContext
from grader.planning import plan

# structure measurement counts under a dispatch mode (the compiler stack, once per process)
pytestmark = pytest.mark.xdist_group("course-content")


@pytest.fixture(scope="module")
def alex(rubrics):
    return rubrics["alexnet"].load_reference()


@pytest.fixture(scope="module")
def alex_checks(rubrics):
    return rubrics["alexnet"].load_checks()


@pytest.fixture(scope="module")
def vggref(rubrics):
    return rubrics["vgg"].load_reference()


@pytest.fixture(scope="module")
def vgg_checks(rubrics):
    return rubrics["vgg"].load_checks()


def ctx(reference, options=None, args=None, what="net"):
    return PropertyContext(
        args=args or [], reference=reference, rng=np.random.default_rng(0), options=options or {}, what=what
    )


# ----------------------------------------------------------------------------- the figures
def test_alexnet_figures_are_the_books(alex):
    assert alex.alexnet_parameters() == 46_764_746
    assert alex.alexnet_macs() == 938_146_176
    assert alex.fc_param_share() == pytest.approx(43_040_778 / 46_764_746)
    assert alex.conv_mac_share() == pytest.approx(895_113_600 / 938_146_176)


def test_vgg_figures(vggref):
    assert describe_network(vggref.vgg11, [1, 1, 224, 224]).parameters == 128_806_154
    assert vggref.param_ratio() == pytest.approx(128_806_154 / 46_764_746)
    assert vggref.vgg11_conv_layers() == 8 and vggref.vgg11_fc_layers() == 3
    assert vggref.vgg11_block_shapes()[-1] == [1, 512, 7, 7]


def by_formula(net, shape):
    """(parameters, MACs, conv MACs) by the textbook formulas, independently of the engine: a
    convolution does (in_channels / groups) x kh x kw MACs per output element, a linear layer
    in_features per output element."""
    macs = {"Conv2d": 0, "Linear": 0}

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs["Conv2d"] += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            macs["Linear"] += output.numel() * module.in_features

    hooks = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(torch.zeros(shape, device="meta"))
    for h in hooks:
        h.remove()
    return sum(p.numel() for p in net.parameters()), macs["Conv2d"] + macs["Linear"], macs["Conv2d"]


@pytest.mark.parametrize(
    ("module", "name", "shape"),
    [
        ("alex", "alexnet", [1, 1, 224, 224]),
        ("alex", "alexnet_small", [1, 1, 224, 224]),
        ("alex", "alexnet28", [1, 1, 28, 28]),
        ("alex", "lenet_relu_dropout", [1, 1, 28, 28]),
        ("vggref", "vgg11", [1, 1, 224, 224]),
        ("vggref", "vgg16", [1, 1, 224, 224]),
        ("vggref", "vgg96", [1, 1, 96, 96]),
    ],
)
def test_the_engine_measures_the_references_as_the_formulas_count(request, module, name, shape):
    """The structure kind (FlopCounterMode on layers rebuilt in the grader) and the textbook
    formulas agree on every reference network, so a rubric figure means what the book says."""
    factory = getattr(request.getfixturevalue(module), name)
    with torch.device("meta"):
        counted = by_formula(factory(), shape)
    net = describe_network(factory, shape)
    assert (net.parameters, net.macs, net.macs_of("Conv2d")) == counted


def test_the_paper_archs_have_their_depths(vggref):
    for arch, depth in ((vggref.VGG11_ARCH, 11), (vggref.VGG16_ARCH, 16), (vggref.VGG19_ARCH, 19)):
        assert sum(n for n, _ in arch) + 3 == depth


# ----------------------------------------------------------------------------- alexnet's properties
def test_upsampling_inside_is_not_cheaper(alex, alex_checks):
    """A '28x28 AlexNet' that resizes to 224 inside does all of the book's work."""

    def upsampled():
        return nn.Sequential(nn.Upsample(size=224), *alex.alexnet())

    net = describe_network(upsampled, [2, 1, 28, 28])
    with pytest.raises(CheckFailed, match="expected fewer MACs than the book's AlexNet"):
        alex_checks.cheaper_than_alexnet(net, ctx(alex, {"mac_fraction": 1.0}))
    alex_checks.cheaper_than_alexnet(describe_network(alex.alexnet28, [2, 1, 28, 28]), ctx(alex, {"mac_fraction": 1.0}))


def test_small_alexnet_needs_fewer_parameters_when_asked(alex, alex_checks):
    def wide_fc():  # cheap convolutions, huge first linear layer
        return nn.Sequential(
            nn.Conv2d(1, 8, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(), nn.Linear(8 * 26 * 26, 10_000),
            nn.ReLU(), nn.Linear(10_000, 10),
        )  # fmt: skip

    net = describe_network(wide_fc, [1, 1, 224, 224])
    options = {"mac_fraction": 0.5, "fewer_parameters": True}
    with pytest.raises(CheckFailed, match="fewer than the book's 46,764,746"):
        alex_checks.cheaper_than_alexnet(net, ctx(alex, options))


def test_dropout_must_follow_the_hidden_layers(alex, alex_checks):
    alex_checks.book_dropout(describe_network(alex.alexnet, [1, 1, 224, 224]), ctx(alex))

    def dropout_first():
        layers = list(alex.alexnet())
        layers.insert(14, nn.Dropout(0.5))  # before the first linear layer too
        return nn.Sequential(*layers)

    with pytest.raises(CheckFailed, match="Dropout -> Linear -> Dropout"):
        alex_checks.book_dropout(describe_network(dropout_first, [1, 1, 224, 224]), ctx(alex))


def test_lenet_with_sigmoid_left_is_named(alex, alex_checks):
    def half_done():
        layers = list(alex.lenet_relu_dropout())
        layers[1] = nn.Sigmoid()
        return nn.Sequential(*layers)

    with pytest.raises(CheckFailed, match="still uses Sigmoid"):
        alex_checks.relu_and_dropout(describe_network(half_done, [2, 1, 28, 28]), ctx(alex))


@pytest.fixture(scope="module")
def trains(rubrics):
    """The alexnet28 fit check, planned (its batch is the grader's own inputs)."""
    return next(p for p in plan(rubrics["alexnet"]).checks if p.spec.id == "alexnet28-trains")


def _training_value(trains, logits_fn):
    images, labels = synthetic_batch(*trains.cases[0].args)
    return {"images": images, "initial": logits_fn(labels, 0.0), "final": logits_fn(labels, 1.0)}


def _fit(trains, alex, value):
    trains.kind.judge(
        trains.spec, trains.cases[0], value, JudgeContext("alexnet28", alex, None, {}, np.random.default_rng(0))
    )


def test_a_fitted_batch_passes_and_a_final_softmax_is_named(alex, trains):
    def logits(labels, trained):
        return (8.0 * trained * np.eye(10)[labels]).astype(np.float32)

    _fit(trains, alex, _training_value(trains, logits))

    def probabilities(labels, trained):
        scores = torch.from_numpy(logits(labels, trained))
        return torch.softmax(scores, dim=1).numpy()

    with pytest.raises(CheckFailed, match="it ends with a softmax") as failure:
        _fit(trains, alex, _training_value(trains, probabilities))
    assert "below 1.15" in str(failure.value)


def test_training_on_other_images_is_refused(alex, trains):
    value = _training_value(trains, lambda labels, trained: np.zeros((32, 10), np.float32))
    value["images"] = value["images"] + 1
    with pytest.raises(CheckFailed, match="not trained on the grader's images"):
        _fit(trains, alex, value)


# ----------------------------------------------------------------------------- vgg's properties
@pytest.mark.parametrize(
    "answer",
    [
        ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
        [[2, 64], [2, 128], [3, 256], [3, 512], [3, 512]],
        [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
    ],
)
def test_vgg16_arch_in_any_sequence_form(vggref, vgg_checks, answer):
    vgg_checks.is_paper_arch(answer, ctx(vggref, {"arch": "VGG16_ARCH", "label": "vgg16_arch"}))


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)), "This is VGG-13 (B)"),
        (((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), "the number of convolutions comes first"),
        (((2, 64), (2, 128), (3, 256), (3, 512), (2, 512)), "this one has 12 convolutions, so 15 weight layers"),
        (((2, 64), (2, 128), (3, 256), (3, 512)), "expected 5 blocks"),
        ("VGG-16", "a sequence of (num_convs, out_channels) pairs"),
        (((2, 64, 3),), "pairs of integers"),
    ],
)
def test_vgg16_arch_mistakes_are_named(vggref, vgg_checks, answer, words):
    with pytest.raises(CheckFailed, match=re.escape(words)):
        vgg_checks.is_paper_arch(answer, ctx(vggref, {"arch": "VGG16_ARCH", "label": "vgg16_arch"}))


def test_vgg96_with_the_right_features_but_extra_weights_fails(vggref, vgg_checks):
    options = {"reference": "vgg96", "label": "vgg96()"}
    vgg_checks.fc_input_for_96(describe_network(vggref.vgg96, [1, 1, 96, 96]), ctx(vggref, options))

    def wider():
        net = vggref.vgg96()
        net[6], net[9] = nn.Linear(4608, 8192), nn.Linear(8192, 4096)
        return net

    with pytest.raises(CheckFailed, match=r"VGG-11 at 96x96 .* has 44,920,074"):
        vgg_checks.fc_input_for_96(describe_network(wider, [1, 1, 96, 96]), ctx(vggref, options))
