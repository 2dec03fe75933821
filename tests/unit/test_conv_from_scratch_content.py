"""conv-from-scratch without a kernel: the reference's conventions, its known mistakes, the
probes' list of switched-off operations and the dense-kernel property, run in this process."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader import harness, plaindata
from grader.compare import CheckFailed
from grader.content import ProbeContext, PropertyContext
from grader.planning import plan

# dispatch modes make torch import its compiler stack once per process (see test_course_content)
pytestmark = pytest.mark.xdist_group("course-content")


@pytest.fixture(scope="module")
def rubric(rubrics):
    return rubrics["conv-from-scratch"]


@pytest.fixture(scope="module")
def ref(rubric):
    return rubric.load_reference()


@pytest.fixture(scope="module")
def probes(rubric):
    namespace: dict = {}
    exec(compile(rubric.probes_source(), "<conv-from-scratch probes>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def planned(rubric):
    return {p.spec.id: p for p in plan(rubric).checks}


def case_args(planned, check_id, case=0):
    return [
        torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in planned[check_id].cases[case].args
    ]


# ----------------------------------------------------------------------------- the reference's facts
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_same_padding_puts_the_extra_where_pytorch_does(ref, k):
    assert ref.same_padding_matches_pytorch(k)
    assert sum(ref.get_padding(k, "same")) == k - 1


def test_same_padding_extra_first_is_a_different_answer_for_even_kernels(ref):
    assert ref.get_padding_extra_first(4, "same") != ref.get_padding(4, "same")
    assert ref.get_padding_extra_first(3, "same") == ref.get_padding(3, "same")


@pytest.mark.parametrize(
    ("shape", "kh", "kw", "stride", "padding"),
    [((1, 2, 4, 4), 2, 2, 1, 0), ((2, 3, 5, 6), 3, 2, 2, 1), ((1, 1, 6, 5), 1, 4, 1, 2), ((2, 4, 4, 4), 2, 2, 3, 1)],
)
def test_im2col_reference_follows_the_stated_layout(ref, shape, kh, kw, stride, padding):
    X = torch.randn(shape, dtype=torch.float64)
    assert torch.equal(ref.im2col(X, kh, kw, stride, padding), ref._loop_im2col(X, kh, kw, stride, padding))


@pytest.mark.parametrize(
    ("shape", "kh", "kw", "stride", "padding"), [((2, 3, 5, 6), 3, 2, 1, 1), ((2, 2, 7, 6), 3, 3, 2, 1)]
)
def test_col2im_reference_is_the_adjoint_of_im2col(ref, shape, kh, kw, stride, padding):
    X = torch.randn(shape, dtype=torch.float64)
    cols = ref.im2col(X, kh, kw, stride, padding)
    Y = torch.randn_like(cols)
    lhs = (cols * Y).sum()
    rhs = (X * ref.col2im(Y, shape, kh, kw, stride, padding)).sum()
    assert torch.isclose(lhs, rhs)


def test_overwriting_col2im_is_right_without_overlap_and_wrong_with_it(ref, planned):
    """The no-overlap check cannot tell `=` from `+=`; the overlap check must."""
    for check_id, same in (("col2im-no-overlap", True), ("col2im-overlap", False)):
        args = case_args(planned, check_id)
        for mistake in (ref.col2im_overwrites, ref.col2im_overwrites_by_offset):
            assert torch.allclose(mistake(*args), ref.col2im(*args)) is same, (check_id, mistake.__name__)


def test_first_maximum_gets_the_gradient_in_pytorch(ref):
    """What the tie checks rely on: autograd of the reference sends a tie to the first maximum."""
    x = torch.ones(1, 1, 2, 4, dtype=torch.float64, requires_grad=True)
    ref.max_pool(x, 2, 2, 2, 0).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]


def test_known_mistakes_differ_from_the_truth_on_the_rubrics_inputs(ref, planned):
    pairs = {
        "im2col-example": ref.im2col_channels_last,
        "corr1d-stride-padding": ref.corr1d_flipped,
        "maxpool-forward-padded": ref.max_pool_zero_padded,
    }
    for check_id, mistake in pairs.items():
        args = case_args(planned, check_id)
        truth = getattr(ref, planned[check_id].spec.reference)(*args)
        assert not torch.allclose(mistake(*args), truth), check_id
    assert ref.same_padding_total_unclamped(6, 1, 3) < 0 == ref.same_padding_total(6, 1, 3)
    assert ref.dws_macs_pointwise_once(32, 64, 3, 56, 56) != ref.dws_macs(32, 64, 3, 56, 56)


def test_dws_cost_ratio_is_the_ratio_of_the_counts(ref):
    for c_in, c_out, k in ((32, 64, 3), (16, 256, 5), (8, 4, 1)):
        ratio = ref.dws_macs(c_in, c_out, k, 7, 9) / ref.conv_macs(c_in, c_out, k, 7, 9)
        assert ref.dws_cost_ratio(c_in, c_out, k) == pytest.approx(ratio, rel=1e-12)
        assert ref.dws_params(c_in, c_out, k) / ref.conv_params(c_in, c_out, k) == pytest.approx(ratio, rel=1e-12)


def test_dense_kernel_convolves_like_the_separable_pair(ref):
    D, P = torch.randn(4, 1, 3, 3, dtype=torch.float64), torch.randn(6, 4, 1, 1, dtype=torch.float64)
    x = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    dense = ref.dws_to_dense(D, P)
    assert torch.allclose(F.conv2d(x, dense, padding=1), ref.separable_conv(x, D, P, 1))


# ----------------------------------------------------------------------------- the property function
def judge(rubric, ref, planned, value):
    spec = planned["dws-to-dense-convolves"].spec
    ctx = PropertyContext(
        args=planned["dws-to-dense-convolves"].cases[0].args,
        reference=ref,
        rng=np.random.default_rng(0),
        options=dict(spec.options),
        what="dws_to_dense",
    )
    rubric.load_checks().dense_equals_separable(value, ctx)


def test_dense_property_passes_the_right_kernel_and_names_the_wrong_ones(rubric, ref, planned):
    D, P = planned["dws-to-dense-convolves"].cases[0].args
    right = ref.dws_to_dense(torch.from_numpy(D), torch.from_numpy(P)).numpy().astype(np.float32)
    judge(rubric, ref, planned, right)
    with pytest.raises(CheckFailed, match="compared with depthwise then pointwise"):
        judge(rubric, ref, planned, right[:, ::-1].copy())  # input channels reversed
    with pytest.raises(CheckFailed, match=r"has shape \(6, 4, 3, 3\)"):
        judge(rubric, ref, planned, right.transpose(1, 0, 2, 3).copy())


# ----------------------------------------------------------------------------- the probes
@pytest.mark.parametrize(
    "name",
    [
        "aten::convolution",
        "aten::conv2d",
        "aten::_conv_depthwise2d",
        "aten::convolution_backward",
        "aten::slow_conv_dilated2d",
        "aten::thnn_conv2d",
        "aten::mkldnn_convolution",
        "mkldnn::_convolution_pointwise",
        "onednn::qconv2d_pointwise",
        "aten::im2col",
        "aten::col2im",
        "aten::max_pool2d_with_indices",
        "aten::max_pool2d_with_indices_backward",
        "aten::avg_pool2d_backward",
        "aten::max_unpool2d",
    ],
)
def test_probes_switch_off(probes, name):
    assert probes["_ruled_out"](name)


@pytest.mark.parametrize(
    "name",
    [
        "aten::unfold",
        "aten::as_strided",
        "aten::_convert_indices_from_coo_to_csr",
        "prims::convert_element_type",
        "aten::constant_pad_nd",
        "aten::max",
        "aten::argmax",
        "aten::index_put_",
        "aten::scatter_add",
        "aten::mm",
    ],
)
def test_probes_allow(probes, name):
    assert probes["_ruled_out"](name) == ""


def run_probe(probes, planned, check_id, namespace):
    args = case_args(planned, check_id)
    harness._new_run()
    return plaindata.decode(harness._encode(probes[planned[check_id].spec.probe](ProbeContext(namespace), *args)))


def test_im2col_probe_refuses_unfold_however_it_is_reached(probes, planned):
    unfold = F.unfold  # a reference saved before the probe runs

    def via_saved_name(X, kh, kw, stride=1, padding=0):
        return unfold(X, (kh, kw), stride=stride, padding=padding).transpose(1, 2).reshape(-1, X.shape[1] * kh * kw)

    def via_module(X, kh, kw, stride=1, padding=0):
        cols = torch.nn.Unfold((kh, kw), stride=stride, padding=padding)(X)
        return cols.transpose(1, 2).reshape(-1, X.shape[1] * kh * kw)

    def swallows_the_error(X, kh, kw, stride=1, padding=0):
        try:
            via_saved_name(X, kh, kw, stride, padding)
        except RuntimeError:
            pass
        return torch.zeros(1)

    for fn in (via_saved_name, via_module, swallows_the_error):
        with pytest.raises(RuntimeError, match=r"F\.unfold \(aten::im2col\) is switched off"):
            run_probe(probes, planned, "im2col-example", {"im2col": fn})


def test_gradient_probe_leaves_forward_free_and_backward_by_hand(probes, planned, ref):
    class Layer:
        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b, self.stride, self.pad = W, b, stride, pad

        def forward(self, x):  # PyTorch's convolution in forward: allowed in the gradient probes
            self.x = x
            return F.conv2d(x, self.W, self.b, stride=self.stride, padding=self.pad)

        def backward(self, dout):
            self.dW = torch.nn.grad.conv2d_weight(self.x, self.W.shape, dout, stride=self.stride, padding=self.pad)
            self.db = dout.sum(dim=(0, 2, 3))
            return torch.zeros_like(self.x)

    with pytest.raises(RuntimeError, match="PyTorch's convolution"):
        run_probe(probes, planned, "conv-backward-params", {"Convolution": Layer})
    with pytest.raises(RuntimeError, match="PyTorch's convolution"):
        run_probe(probes, planned, "conv-forward", {"Convolution": Layer})


def test_backward_runs_without_autograd(probes, planned):
    class Layer:
        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b, self.stride, self.pad = W, b, stride, pad

        def forward(self, x):
            self.x = x.clone().requires_grad_()
            self.out = (self.x * 2).sum(dim=1, keepdim=True).expand(-1, self.W.shape[0], -1, -1)
            return self.out

        def backward(self, dout):
            return torch.autograd.grad(self.out, self.x, dout)[0]

    with pytest.raises(RuntimeError, match="does not require grad"):
        run_probe(probes, planned, "conv-backward-dx", {"Convolution": Layer})
