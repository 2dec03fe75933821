"""6.1 why-conv: the reference scores 100%, alternative correct answers pass, and each
plausible wrong answer loses exactly the points of the checks that should catch it."""

from __future__ import annotations

import numpy as np
from assignment_suite import standard_tests

from grader.planning import plan

NB = "why-conv.ipynb"

DELTA0 = """    c_i, h, w = X.shape
    pixels = X.reshape(c_i, h * w)          # one column per pixel
    return (V @ pixels).reshape(V.shape[0], h, w)"""
CORR1D = """    m = len(k)
    return torch.stack([(x[i:i + m] * k).sum() for i in range(len(x) - m + 1)])"""
CONV_FULL = """    out = torch.zeros(len(f) + len(g) - 1, dtype=torch.promote_types(f.dtype, g.dtype))
    for i in range(len(f)):
        out[i:i + len(g)] += f[i] * g
    return out"""

SPECTROGRAM = """    frames = x.unfold(0, n_fft, hop)                  # (number of frames, n_fft)
    return torch.fft.rfft(frames, dim=1).abs().T       # (n_fft // 2 + 1, number of frames)"""


ALTERNATIVES = {
    # v1.0 exercise 2.3: PyTorch's short-time Fourier transform with a rectangular window
    "stft-spectrogram": {
        SPECTROGRAM: "    return torch.stft(x, n_fft, hop_length=hop, window=torch.ones(n_fft), center=False,\n"
        "                      return_complex=True).abs()"
    },
    # the same map written three other ways
    "einsum-delta0": {DELTA0: "    return torch.einsum('oc,chw->ohw', V, X)"},
    "conv2d-delta0": {DELTA0: "    return F.conv2d(X[None], V[:, :, None, None])[0]"},
    "permute-delta0": {DELTA0: "    return (X.permute(1, 2, 0) @ V.T).permute(2, 0, 1)"},
    "numpy-corr1d": {CORR1D: "    return np.correlate(x.numpy(), k.numpy(), 'valid')"},
    "unfold-corr1d": {CORR1D: "    return x.unfold(0, len(k), 1) @ k"},
    # F.conv1d's (1, 1, L) result: the rubric accepts extra size-1 dimensions here, with a note
    "conv1d-corr1d-keeps-batch-dimensions": {CORR1D: "    return F.conv1d(x[None, None], k[None, None])"},
    "numpy-convolve": {CONV_FULL: "    return np.convolve(f.numpy(), g.numpy())"},
    "conv1d-flipped-kernel": {
        CONV_FULL: "    m = len(g)\n"
        "    return F.conv1d(F.pad(f, (m - 1, m - 1))[None, None], g.flip(0)[None, None])[0, 0]"
    },
    "sum-over-pairs": {
        CONV_FULL: "    n = len(f) + len(g) - 1\n"
        "    return torch.stack([sum((f[i] * g[t - i] for i in range(len(f)) if 0 <= t - i < len(g)), torch.tensor(0.0))"
        " for t in range(n)])"
    },
}


WRONG = {
    # v1.0 exercise 2.3: squared magnitudes (the power spectrogram)
    "power-spectrogram": (
        {SPECTROGRAM: SPECTROGRAM.replace(".abs().T", ".abs().T ** 2")},
        {"spectrogram-example": 1, "spectrogram-frames": 2},
    ),
    # "frames overlap by half": the hop taken as n_fft // 2, as in the public example, not as given
    "spectrogram-half-frame-hop": (
        {SPECTROGRAM: SPECTROGRAM.replace("x.unfold(0, n_fft, hop)", "x.unfold(0, n_fft, n_fft // 2)")},
        {"spectrogram-frames": 2},
    ),
    # pixels laid out as rows without moving the channel axis: a scrambled image
    "reshape-instead-of-permute": (
        {DELTA0: "    c_i, h, w = X.shape\n    return (X.reshape(h * w, c_i) @ V.T).reshape(V.shape[0], h, w)"},
        {"conv-delta0-example": 1, "conv-delta0-shapes": 2},
    ),
    # tested on a square image only: breaks on the hidden non-square ones
    "square-image-assumed": (
        {"    c_i, h, w = X.shape\n    pixels": "    c_i, h, _ = X.shape\n    w = h\n    pixels"},
        {"conv-delta0-shapes": 2},
    ),
    # true convolution (flipped kernel) instead of cross-correlation
    "corr1d-flips-kernel": (
        {
            CORR1D: "    m = len(k)\n    k = k.flip(0)\n    return torch.stack([(x[i:i + m] * k).sum() for i in range(len(x) - m + 1)])"
        },
        {"corr1d-example": 1, "corr1d-lengths": 2},
    ),
    # written for the two-tap kernel of the public example only
    "corr1d-two-taps-only": (
        {CORR1D: "    return x[:-1] * k[0] + x[1:] * k[1]"},
        {"corr1d-lengths": 2},
    ),
    # full cross-correlation instead of convolution: not commutative on asymmetric inputs
    "conv-full-is-correlation": (
        {"        out[i:i + len(g)] += f[i] * g\n": "        out[i:i + len(g)] += f[i] * g.flip(0)\n"},
        {"conv-full-example": 1, "conv-full-commutes": 2},
    ),
}


def test_correlation_is_caught_in_both_argument_orders(rubrics):
    """The hidden commutativity inputs really tell convolution from correlation, either order."""
    the_plan = plan(rubrics["why-conv"])
    (commutes,) = [p for p in the_plan.checks if p.spec.id == "conv-full-commutes"]
    cases = commutes.cases
    lengths = [(len(c.args[0]), len(c.args[1])) for c in cases]
    assert (7, 4) in lengths and (4, 7) in lengths
    for case in cases:
        f, g = (np.asarray(a, dtype=np.float64) for a in case.args)
        if len(f) > 1 and len(g) > 1:
            assert not np.allclose(np.correlate(f, g, "full"), np.convolve(f, g), atol=1e-3)


DIAGNOSED = {  # wrong answer -> words its checks' messages must contain (the rubric's diagnoses)
    "corr1d-flips-kernel": {"corr1d-example": "This reverses the kernel"},
    "conv-full-is-correlation": {"conv-full-example": "full cross-correlation"},
    "power-spectrogram": {"spectrogram-example": "a power spectrogram"},
}

(
    grade,
    test_reference_scores_full_marks,
    test_alternative_correct_answers_pass,
    test_plausible_wrong_answer_loses_exactly_its_points,
    test_every_public_diagnosis_is_met_by_a_wrong_answer,
) = standard_tests(
    "why-conv",
    NB,
    12,
    ["ex1-proof", "ex2-translation", "ex3-border", "ex4-audio", "ex5-text", "ex6-proof", "v1-ex2-audio-as-image"],
    ALTERNATIVES,
    WRONG,
    DIAGNOSED,
)
