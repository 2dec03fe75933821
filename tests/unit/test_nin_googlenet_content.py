"""nin and googlenet without a kernel: the reference figures the rubrics and notebooks quote,
the reference's own MAC counting against the structure kind's, the minimum-size claims and
the Inception path-order property, run in this process (everything on the meta device)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.compare import CheckFailed
from grader.content import ProbeContext, PropertyContext, describe_network


@pytest.fixture(scope="module")
def nin_ref(rubrics):
    return rubrics["nin"].load_reference()


@pytest.fixture(scope="module")
def g_ref(rubrics):
    return rubrics["googlenet"].load_reference()


@pytest.fixture(scope="module")
def g_checks(rubrics):
    return rubrics["googlenet"].load_checks()


@pytest.fixture(scope="module")
def g_probes(rubrics):
    namespace: dict = {}
    exec(compile(rubrics["googlenet"].probes_source(), "<googlenet probes>", "exec"), namespace)
    return namespace


def ctx(ref, args=(), **options):
    return PropertyContext(args=list(args), reference=ref, rng=np.random.default_rng(0), options=options, what="value")


# ----------------------------------------------------------------------------- figures quoted in the text
def test_nin_figures(nin_ref):
    assert nin_ref.nin_parameters() == 1_992_166
    assert nin_ref.nin_macs() == 762_297_352
    assert nin_ref.nin_activations() == 3_172_208
    one, three = nin_ref.on_meta(nin_ref.nin_one), nin_ref.on_meta(nin_ref.nin_three)
    assert (nin_ref.parameter_count(one), nin_ref.parameter_count(three)) == (1_769_112, 2_215_220)
    assert nin_ref.parameter_count(nin_ref.on_meta(nin_ref.nin_3x3)) == 5_549_094
    assert nin_ref.parameter_count(nin_ref.on_meta(nin_ref.nin_fc)) == 1_992_166 + 2_510


def test_googlenet_figures(g_ref):
    assert g_ref.parameter_counts() == {
        "alexnet": 46_764_746,
        "vgg11": 128_806_154,
        "nin": 1_992_166,
        "googlenet": 5_977_530,
    }
    assert g_ref.macs_224() == {"alexnet": 938_146_176, "googlenet": 1_502_982_144}
    assert g_ref.conv_count() == 57


@pytest.mark.parametrize(
    ("module", "factory", "shape"),
    [
        ("nin", "nin", (1, 1, 224, 224)),
        ("nin", "nin_3x3", (1, 1, 224, 224)),
        ("googlenet", "googlenet", (1, 1, 96, 96)),
        ("googlenet", "alexnet", (1, 1, 224, 224)),
    ],
)
def test_reference_macs_agree_with_the_structure_kind(nin_ref, g_ref, module, factory, shape):
    """The value checks' MACs (forward hooks in reference/) and the structure checks' (torch's
    FlopCounterMode on rebuilt layers, grader/structure.py) are the same count."""
    ref = nin_ref if module == "nin" else g_ref
    build = getattr(ref, factory)
    assert describe_network(build, shape).macs == ref.mac_count(ref.on_meta(build), shape)


def test_nin_activation_count_is_the_structure_kinds_output_total(nin_ref):
    net = describe_network(nin_ref.nin, nin_ref.IN_SHAPE)
    assert sum(int(np.prod(layer.output)) for layer in net.layers) == nin_ref.nin_activations()


# ----------------------------------------------------------------------------- minimum sizes
def test_minimum_sizes_are_where_the_networks_start_to_work(g_ref):
    assert g_ref.runs_at(g_ref.googlenet, 1) and not g_ref.runs_at(g_ref.googlenet, 0)
    head = g_ref.googlenet_paper_head
    assert g_ref.runs_at(head, 193) and not g_ref.runs_at(head, 192)
    assert g_ref.runs_at(head, 416) and not g_ref.runs_at(head, 417)  # 14x14 maps pool to 2x2


@pytest.mark.parametrize(
    ("network", "claim", "words"),
    [
        ("googlenet", 1, None),
        ("googlenet", 1.0, None),
        ("googlenet", 32, "also works on a 31x31 image"),
        ("googlenet", 0, "at least one pixel"),
        ("googlenet", "1", "whole number"),
        ("googlenet_paper_head", 193, None),
        ("googlenet_paper_head", 224, "also works on a 223x223 image"),
        ("googlenet_paper_head", 96, "fails on a 96x96 image"),
        ("googlenet_paper_head", 10**6, "much smaller"),
    ],
)
def test_min_side_claim_is_run(g_ref, g_checks, network, claim, words):
    c = ctx(g_ref, network=network, label="the net", hint="a hint")
    if words is None:
        g_checks.min_side_claim(claim, c)
    else:
        with pytest.raises(CheckFailed, match=words):
            g_checks.min_side_claim(claim, c)


# ----------------------------------------------------------------------------- the Inception path order
CONFIG = [3, 2, [3, 4], [5, 6], 7]
LABELS = [[2, 1], [4, 2], [6, 3], [7, 4]]


def test_the_probe_labels_the_reference_block_in_the_books_order(g_ref, g_checks, g_probes):
    value = g_probes["inception_path_labels"](ProbeContext({"Inception": g_ref.Inception}), CONFIG, LABELS, 4)
    assert value["labels"] == [1.0] * 2 + [2.0] * 4 + [3.0] * 6 + [4.0] * 7
    g_checks.path_order(value, ctx(g_ref, [CONFIG]))


def test_the_probe_materialises_lazy_layers(g_ref, g_probes):
    class LazyInception(torch.nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.p1 = torch.nn.LazyConv2d(c1, 1)
            self.p2 = torch.nn.Sequential(torch.nn.LazyConv2d(c2[0], 1), torch.nn.LazyConv2d(c2[1], 3, padding=1))
            self.p3 = torch.nn.Sequential(torch.nn.LazyConv2d(c3[0], 1), torch.nn.LazyConv2d(c3[1], 5, padding=2))
            self.p4 = torch.nn.Sequential(torch.nn.MaxPool2d(3, 1, 1), torch.nn.LazyConv2d(c4, 1))

        def forward(self, x):
            return torch.cat([self.p1(x), self.p2(x), self.p3(x), self.p4(x)], dim=1)

    value = g_probes["inception_path_labels"](ProbeContext({"Inception": LazyInception}), CONFIG, LABELS, 4)
    assert value["labels"] == [1.0] * 2 + [2.0] * 4 + [3.0] * 6 + [4.0] * 7


@pytest.mark.parametrize(
    ("labels", "unlabelled", "words"),
    [
        ([1] * 2 + [3] * 6 + [2] * 4 + [4] * 7, [], "concatenated in the order path 1 (1x1) x 2, path 3"),
        ([1] * 2 + [2] * 4 + [3] * 6 + [1] * 2, [], "with the wrong number of output channels"),
        ([1] * 2 + [2] * 4 + [0] * 5 + [4] * 7, [], "no path x 5"),
        ([10.0] * 7, [], "no path x 7"),
        ([1] * 2 + [2] * 4 + [3] * 6 + [4] * 7, [2], "without a bias"),
    ],
)
def test_path_order_names_the_mistake(g_ref, g_checks, labels, unlabelled, words):
    value = {"labels": [float(v) for v in labels], "unlabelled": unlabelled}
    with pytest.raises(CheckFailed) as failure:
        g_checks.path_order(value, ctx(g_ref, [CONFIG]))
    assert words in str(failure.value)


# ----------------------------------------------------------------------------- known wrong answers differ
def test_diagnoses_are_different_answers(nin_ref, g_ref):
    right = nin_ref.nin_parameters(), nin_ref.nin_macs(), nin_ref.nin_activations()
    assert nin_ref.nin_parameters_without_biases() != right[0] != nin_ref.nin_parameters_one_1x1()
    assert len({right[1], nin_ref.nin_flops(), nin_ref.nin_macs_without_1x1()}) == 3
    assert len({right[2], nin_ref.nin_activations_conv_only(), nin_ref.nin_activations_in_bytes()}) == 3
    logits, y = torch.randn(4, 5, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 1, 4])
    good = g_ref.smooth_cross_entropy(logits, y, 0.1)
    assert torch.isclose(good, torch.nn.functional.cross_entropy(logits.double(), y, label_smoothing=0.1))
    assert not torch.isclose(good, g_ref.smooth_cross_entropy_other_classes(logits, y, 0.1))
    assert torch.isclose(
        g_ref.smooth_cross_entropy_other_classes(logits, y, 0.0), g_ref.smooth_cross_entropy(logits, y, 0.0)
    )
