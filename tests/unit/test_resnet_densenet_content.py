"""7.6 resnet and 7.7 densenet without a kernel: the reference networks have the published
counts, and the checks' pure logic (matching a block's layers with its recipe, the dense
block's channel plan, counting parameters from a module plan) names the right mistakes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from grader.compare import CheckFailed
from grader.content import ProbeContext
from grader.kinds.property import PropertyContext

# On the worker of test_course_content: the meta-device kernels and FlopCounterMode cost ~2-3 s
# to import once per process.
pytestmark = pytest.mark.xdist_group("course-content")


@pytest.fixture(scope="module")
def resnet(rubrics):
    rubric = rubrics["resnet"]
    return rubric.load_reference(), rubric.load_checks()


@pytest.fixture(scope="module")
def densenet(rubrics):
    rubric = rubrics["densenet"]
    probes: dict = {}
    exec(compile(rubric.probes_source(), "<densenet probes>", "exec"), probes)
    return rubric.load_reference(), rubric.load_checks(), probes


def _count(factory, *args) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in factory(*args).parameters())


def _gmacs(net, shape) -> float:
    counter = FlopCounterMode(display=False)
    with torch.device("meta"), counter, torch.no_grad():
        net.eval()(torch.zeros(shape))
    return counter.get_total_flops() / 2e9


def _ctx(module, args, **options):
    return PropertyContext(args=args, reference=module, rng=np.random.default_rng(0), options=options, what="net")


# ----------------------------------------------------------------------------- reference numbers
def test_the_reference_networks_have_the_published_counts(resnet, densenet):
    r, d = resnet[0], densenet[0]
    assert _count(r.resnet18) == 11_178_378
    assert _count(r.resnet34) == 21_290_250
    assert _count(r.bottleneck_resnet) == 23_541_130
    assert _count(r.preact_resnet18) == 11_178_506
    assert _count(d.densenet) == 758_226
    # torchvision's densenet121/169/201 (no convolution biases); 264 is the same recipe
    counts = {121: 7_978_856, 169: 14_149_480, 201: 20_013_928, 264: 33_337_704}
    assert {depth: _count(d.densenet_imagenet, blocks) for depth, blocks in d.PAPER_BLOCKS.items()} == counts


def test_the_section_networks_cost_what_the_notebooks_say(resnet, densenet):
    with torch.device("meta"):
        resnet18, dense = resnet[0].resnet18(), densenet[0].densenet()
    assert round(_gmacs(resnet18, (1, 1, 96, 96)), 2) == 0.32
    assert round(_gmacs(dense, (1, 1, 96, 96)), 2) == 0.13


# ----------------------------------------------------------------------------- residual blocks
def _conv(cin, cout, k, stride=1):
    config = {"in_channels": cin, "out_channels": cout, "kernel_size": [k, k], "stride": [stride, stride]}
    config.update(padding=[k // 2, k // 2], groups=1, dilation=[1, 1])
    return {"type": "Conv2d", "torch": True, "parameters": cin * cout * k * k + cout, "config": config}


def _bn(c):
    return {"type": "BatchNorm2d", "torch": True, "parameters": 2 * c, "config": {"num_features": c}}


def test_the_shortcut_convolution_may_run_anywhere(resnet):
    reference, checks = resnet
    main, shortcut = reference.residual_recipe(4, 6, True, 2)
    body = [_conv(4, 6, 3, 2), _bn(6), _conv(6, 6, 3), _bn(6)]
    for j in range(5):
        layers = [*body[:j], _conv(4, 6, 1, 2), *body[j:]]
        rest, cut = checks.split_shortcut(layers, main, shortcut)
        assert rest == body and cut == _conv(4, 6, 1, 2)
    assert checks.split_shortcut(body, main, shortcut) is None  # the projection is required
    assert checks.split_shortcut([*body, _conv(4, 6, 1, 2), _bn(6)], main, shortcut) is None  # no BN on it


def test_the_bottleneck_stride_may_sit_on_either_first_convolution(resnet):
    reference, checks = resnet
    main, shortcut = reference.bottleneck_recipe(8, 4, True, 2)
    cut = _conv(8, 16, 1, 2)
    torchvision = [_conv(8, 4, 1), _bn(4), _conv(4, 4, 3, 2), _bn(4), _conv(4, 16, 1), _bn(16), cut]
    paper = [_conv(8, 4, 1, 2), _bn(4), _conv(4, 4, 3), _bn(4), _conv(4, 16, 1), _bn(16), cut]
    assert checks.split_shortcut(torchvision, main, shortcut) is not None
    assert checks.split_shortcut(paper, main, shortcut) is not None


def test_a_pre_activation_block_in_the_original_order_is_named(resnet):
    reference, checks = resnet
    main, shortcut = reference.preact_recipe(6, 6)
    layers = [_conv(6, 6, 3), _bn(6), _conv(6, 6, 3), _bn(6)]
    assert checks.split_shortcut(layers, main, shortcut) is None
    message = checks._order_failure("PreActResidual(6, 6)", layers, main, shortcut)
    assert "This is the original order" in message


def test_block_mistakes_are_told_apart(resnet):
    reference, _ = resnet
    X = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    roles = {"bn_last": torch.randn(2, 3, 4, 4, dtype=torch.float64), "shortcut": None}
    right = reference.block_output("residual", X, roles)
    wrong = [w for w, _ in reference.block_mistakes("residual", X, roles)]
    assert all(not torch.allclose(right, w) for w in wrong)


# ----------------------------------------------------------------------------- dense blocks
def _plan_verdict(densenet, factory, args):
    reference, checks, probes = densenet
    plan = probes["dense_block_plan"](ProbeContext({"DenseBlock": factory}), "DenseBlock", *args)
    try:
        checks.dense_block_growth(plan, _ctx(reference, ["DenseBlock", *args]))
    except CheckFailed as exc:
        return str(exc)
    return "passed"


def test_the_dense_block_plan_names_the_growth_mistakes(densenet):
    reference = densenet[0]
    assert _plan_verdict(densenet, reference.DenseBlock, [4, 3, 5]) == "passed"

    def growth_on_input(num_convs, cin, k):
        block = reference.DenseBlock(0, cin, k)
        block.units = torch.nn.ModuleList(reference.conv_block(cin * (i + 1), k) for i in range(num_convs))
        return block

    def input_only(num_convs, cin, k):
        block = reference.DenseBlock(0, cin, k)
        block.units = torch.nn.ModuleList(reference.conv_block(cin, k) for _ in range(num_convs))
        return block

    assert "The growth is applied to the input channels" in _plan_verdict(densenet, growth_on_input, [4, 3, 5])
    assert "built for the block's input alone" in _plan_verdict(densenet, input_only, [4, 3, 5])


def test_parameters_are_counted_from_the_module_plan(densenet):
    reference, checks, probes = densenet
    blocks = list(reference.PAPER_BLOCKS[169])

    def verdict(factory, **options):
        plan = probes["module_plan"](ProbeContext({"f": factory}), "f", blocks)
        options = {"reference": "densenet_imagenet", "named": True, "ignore_conv_bias": True, **options}
        try:
            checks.planned_parameters(plan, _ctx(reference, ["f", blocks], **options))
        except CheckFailed as exc:
            return str(exc)
        return "passed"

    assert verdict(reference.densenet_imagenet) == "passed"
    assert verdict(lambda b: reference.densenet_imagenet(b, bias=True)) == "passed"  # biases are not counted
    mistakes = [["densenet_imagenet_without_compression", "no compression"]]
    assert "no compression" in verdict(reference.densenet_imagenet_without_compression, mistakes=mistakes)

    def forged(b):  # a plan whose shapes do not follow from the layer's configuration
        net = reference.densenet_imagenet(b)
        net[0].out_channels = 1
        return net

    assert "inconsistent" in verdict(forged)
