"""Fitting one synthetic batch, judged in the grader (the engine side of `kind = "fit"`).

The kernel trains a network on a batch of images built from the grader's tensors and sends
back the images and the network's outputs (logits) before and after training
(`grader/fit_probe.py`). Nothing in that is taken on trust: the grader rebuilds the images
from its own tensors and refuses a run on others, and computes both losses itself, in
float64, from the logits and the labels it knows. A notebook that rebinds the loss in its
kernel changes nothing here.

The batch: prototypes of shape (classes, channels, h, w), upsampled by nearest repetition to
the noise's (H, W) (H and W multiples of h and w); image k shows prototype k % classes plus
noise[k], and its label is k % classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compare import CheckFailed, shape_text


def upsampling(prototypes: tuple[int, ...], noise: tuple[int, ...]) -> tuple[int, int]:
    """The factors (rows, columns) that take prototypes of shape `prototypes` to the noise's
    size; ValueError saying what is wrong when the shapes do not make a batch."""
    if len(prototypes) != 4 or len(noise) != 4:
        raise ValueError(
            "`prototypes` is (classes, channels, h, w) and `noise` (n, channels, H, W): "
            f"got shapes {list(prototypes)} and {list(noise)}"
        )
    if min(prototypes) < 1 or min(noise) < 1:
        raise ValueError("`prototypes` and `noise` need sizes of at least 1")
    if prototypes[1] != noise[1]:
        raise ValueError(f"`prototypes` have {prototypes[1]} channel(s), `noise` {noise[1]}: give both the same")
    if noise[2] % prototypes[2] or noise[3] % prototypes[3]:
        raise ValueError(
            f"the noise's images ({noise[2]}x{noise[3]}) are not a whole multiple of the prototypes "
            f"({prototypes[2]}x{prototypes[3]}): they are upsampled by repeating each pixel"
        )
    return noise[2] // prototypes[2], noise[3] // prototypes[3]


def synthetic_batch(prototypes: Any, noise: Any) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels): image k is prototype k % classes, upsampled by nearest repetition to
    the noise's size, plus noise[k]; its label is k % classes (int64)."""
    prototypes, noise = np.asarray(prototypes), np.asarray(noise)
    rows, columns = upsampling(tuple(prototypes.shape), tuple(noise.shape))
    upsampled = np.repeat(np.repeat(prototypes, rows, axis=2), columns, axis=3)
    labels = np.arange(noise.shape[0], dtype=np.int64) % prototypes.shape[0]
    return upsampled[labels] + noise, labels


def cross_entropy(logits: Any, labels: Any) -> float:
    """Mean cross-entropy of (n, k) logits against labels in [0, k), in float64."""
    scores = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    top = scores.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(log_sum - scores[np.arange(len(labels)), labels]))


def probabilities(logits: Any) -> bool:
    """Each row is a probability distribution (the mark of a network ending in a softmax)."""
    rows = np.asarray(logits, dtype=np.float64)
    return bool(rows.size) and bool(np.all(rows >= 0) and np.all(rows <= 1) and np.allclose(rows.sum(1), 1, atol=1e-4))


def losses(value: Any, prototypes: Any, noise: Any, what: str, steps: int) -> tuple[float, float]:
    """(initial, final) losses of a kernel's run, computed here from its logits and the
    grader's labels; CheckFailed when the run is not on the grader's images, or its outputs
    are not (n, k >= classes) finite logits."""
    images, labels = synthetic_batch(prototypes, noise)
    n, classes = len(labels), int(np.asarray(prototypes).shape[0])
    if not isinstance(value, dict) or not {"images", "initial", "final"} <= set(value):
        raise CheckFailed(f"{what}: training produced nothing usable")
    got = value["images"]
    if (
        not isinstance(got, np.ndarray)
        or got.shape != images.shape
        or got.dtype.kind not in "fiu"
        or not np.allclose(got, images, rtol=0, atol=1e-6)
    ):
        raise CheckFailed(f"{what}: the network was not trained on the grader's images (the kernel changed them)")
    found = []
    for key in ("initial", "final"):
        logits = value[key]
        # (n, k) with k >= classes: cross-entropy is defined (the output's width is another check's job)
        if (
            not isinstance(logits, np.ndarray)
            or logits.ndim != 2
            or logits.shape[0] != n
            or logits.shape[1] < classes
            or logits.dtype.kind not in "fiu"
        ):
            shape = shape_text(logits.shape) if isinstance(logits, np.ndarray) else type(logits).__name__
            raise CheckFailed(f"{what}: on a batch of {n} images the output is {shape}, expected ({n}, {classes})")
        if not np.all(np.isfinite(logits)):
            when = (
                "before training (freshly initialised)"
                if key == "initial"
                else f"after {steps} Adam steps (training diverged)"
            )
            raise CheckFailed(f"{what}: the outputs (logits) on the synthetic batch hold nan or inf {when}")
        found.append(cross_entropy(logits, labels))
    return found[0], found[1]
