"""batch-norm without a kernel: the reference agrees with PyTorch's batch normalisation, the
known mistakes it names differ from the right answers on the rubric's own inputs (so a
diagnosis can never be shown to a right answer), and the freeze probe and its property agree
with the grader's SGD replay, all run in this process."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader.compare import CheckFailed
from grader.content import ProbeContext, PropertyContext
from grader.planning import plan


@pytest.fixture(scope="module")
def rubric(rubrics):
    return rubrics["batch-norm"]


@pytest.fixture(scope="module")
def ref(rubric):
    return rubric.load_reference()


@pytest.fixture(scope="module")
def checks(rubric):
    return rubric.load_checks()


@pytest.fixture(scope="module")
def probes(rubric):
    namespace: dict = {}
    exec(compile(rubric.probes_source(), "<batch-norm probes>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def planned(rubric):
    return {p.spec.id: p for p in plan(rubric).checks}


def args_of(planned, check_id, case=0):
    return list(planned[check_id].cases[case].args)


def ctx_for(ref, args, **options):
    return PropertyContext(args=args, reference=ref, rng=np.random.default_rng(0), options=options, what="t")


# ----------------------------------------------------------------------------- the reference is PyTorch's
@pytest.mark.parametrize("shape", [(8, 5), (2, 3, 4, 4)])
def test_training_output_is_f_batch_norm(ref, shape):
    X = torch.randn(shape, dtype=torch.float64) * 2
    C = shape[1]
    gamma, beta = torch.randn(C, dtype=torch.float64), torch.randn(C, dtype=torch.float64)
    want = F.batch_norm(X, None, None, gamma, beta, training=True, eps=1e-5)
    assert torch.allclose(ref.batch_norm_train(X, gamma, beta), want)


@pytest.mark.parametrize("num_dims, shape", [(4, (2, 3, 4, 4)), (2, (6, 5))])
def test_the_book_layer_and_pytorchs_differ_only_in_the_running_variance(ref, num_dims, shape):
    gamma, beta = torch.randn(shape[1]), torch.randn(shape[1])
    batches = [torch.randn(shape) for _ in range(3)]
    torch_run = ref.module_run(num_dims, gamma, beta, batches, batches[0])
    book_run = ref.module_run(num_dims, gamma, beta, batches, batches[0], unbiased_running=False)
    for a, b in zip(torch_run["train"], book_run["train"], strict=True):
        assert torch.allclose(a, b)
    assert torch.allclose(torch_run["moving_mean"], book_run["moving_mean"])
    assert not torch.allclose(torch_run["moving_var"], book_run["moving_var"], rtol=1e-4, atol=1e-5)
    # PyTorch's running variance is the book's moving average of the unbiased variances
    mean, var = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    for X in batches:
        mean, var = ref.moving_update(X, mean, var, 0.9, unbiased=True)
    assert torch.allclose(torch_run["moving_var"], var)
    assert torch.allclose(torch_run["eval"], ref.batch_norm_predict(batches[0], gamma, beta, mean, var))


def test_the_bias_before_batch_norm_gets_no_gradient(ref):
    X, W = torch.randn(8, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    b = (5 * torch.randn(3, dtype=torch.float64)).requires_grad_()
    Y = ref.layer_bn(X, W, b)
    (db,) = torch.autograd.grad(Y, [b], torch.randn(8, 3, dtype=torch.float64))
    assert db.abs().max() < 1e-12
    assert torch.allclose(Y, ref.layer_bn(X, W, b + 7.0))
    # the eval-mode mistake is where it does matter
    Y_eval = ref.layer_bn_eval(X, W, b)
    (db_eval,) = torch.autograd.grad(Y_eval.sum(), [b])
    assert db_eval.abs().min() > 1


# ----------------------------------------------------------------------------- mistakes differ from answers
def _far(a, b):
    return not np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-4, atol=1e-4)


def test_every_named_mistake_differs_from_the_right_answer_on_the_rubrics_inputs(ref, planned):
    _, X, gamma, beta, mm, mv, eps, momentum = args_of(planned, "bn-conv-train")
    right = ref.batch_norm_train(torch.from_numpy(X).double(), gamma, beta)
    assert _far(ref.batch_norm_train_unbiased(X, gamma, beta, mm, mv, eps, momentum), right)
    assert _far(ref.batch_norm_train_per_position(X, gamma, beta, mm, mv, eps, momentum), right)
    assert _far(ref.batch_norm_predict(X, gamma, beta, mm, mv, eps, momentum), right)
    for case in (0, 1):
        _, X, _, _, mm, mv, _, momentum = args_of(planned, "bn-moving-statistics", case)
        mean, var = ref.moving_update(X, mm, mv, momentum)
        _, unbiased = ref.moving_update(X, mm, mv, momentum, unbiased=True)
        reversed_mean, reversed_var = ref.moving_update(X, mm, mv, momentum, reversed_momentum=True)
        assert _far(mean, reversed_mean) and _far(var, reversed_var) and _far(unbiased, reversed_var)
        assert _far(mean, np.ravel(mm)) and _far(var, np.ravel(mv))


def test_the_checks_pass_the_references_own_values(ref, checks, planned):
    args = args_of(planned, "bn-conv-train")
    _, X, gamma, beta, mm, mv, eps, momentum = args
    Y = ref.batch_norm_train(torch.from_numpy(X).double(), gamma, beta).numpy()
    checks.train_output({"Y": Y}, ctx_for(ref, args, rtol=1e-4, atol=1e-4))
    with pytest.raises(CheckFailed, match="UNBIASED"):
        wrong = ref.batch_norm_train_unbiased(X, gamma, beta, mm, mv, eps, momentum).numpy()
        checks.train_output({"Y": wrong}, ctx_for(ref, args, rtol=1e-4, atol=1e-4))
    args = args_of(planned, "bn-moving-statistics", 1)
    _, X, _, _, mm, mv, _, momentum = args
    _, unbiased = ref.moving_update(X, mm, mv, momentum, unbiased=True)
    mean, _ = ref.moving_update(X, mm, mv, momentum)
    value = {"moving_mean": mean.numpy(), "moving_var": unbiased.numpy()}  # PyTorch's variance is accepted
    checks.moving_statistics(value, ctx_for(ref, args, rtol=1e-4, atol=1e-5))
    reversed_mean, _ = ref.moving_update(X, mm, mv, momentum, reversed_momentum=True)
    with pytest.raises(CheckFailed, match="momentum is reversed"):
        checks.moving_statistics({**value, "moving_mean": reversed_mean.numpy()}, ctx_for(ref, args))


# ----------------------------------------------------------------------------- fixed gamma and beta
def _freeze(net):
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)
            m.weight.requires_grad_(False)
            m.bias.requires_grad_(False)
    return net


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_the_freeze_probe_matches_the_graders_sgd_replay(ref, checks, probes, planned):
    args = args_of(planned, "freeze-affine-training")
    tensors = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    options = {"replay": True, "rtol": 1e-4, "atol": 1e-5}
    value = _plain(probes["freeze_and_train"](ProbeContext({"freeze_affine": _freeze}), *tensors))
    checks.affine_fixed(value, ctx_for(ref, args, **options))
    # without the reset to 1 and 0 the same probe fails
    unreset = _plain(
        probes["freeze_and_train"](
            ProbeContext(
                {
                    "freeze_affine": lambda net: (
                        [p.requires_grad_(False) for p in net[1].parameters()]
                        and [p.requires_grad_(False) for p in net[5].parameters()]
                        and net
                    )
                }
            ),
            *tensors,
        )
    )
    with pytest.raises(CheckFailed, match="expected 1 everywhere"):
        checks.affine_fixed(unreset, ctx_for(ref, args, **options))
