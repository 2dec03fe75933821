"""Small synthetic stand-ins for the data sets the book's CNN chapters load, made offline.

The book's notebooks call `d2l.load_data_fashion_mnist(batch_size)` (and `d2l.FashionMNIST`),
which ask torchvision for Fashion-MNIST under `../data` with `download=True`. A grading
kernel has no network, and 60,000 real images would make every training cell far slower than
a cell's time limit allows. So the grader writes a stand-in where torchvision looks, in the
real on-disk format (the IDX files of `FashionMNIST/raw/`): torchvision finds the four files,
skips the download, and the notebook's cells run unmodified.

The stand-in is small and learnable: ten classes, each a fixed pattern of bright rectangles,
drawn with a small random shift, contrast and noise per image. The same seed gives the same
bytes, so every kernel of every run trains on identical data. Sizes: `TRAIN_IMAGES` is five
batches of 512, so `d2l.train_ch6`, which logs every fifth of an epoch, has a fifth to log at
batch sizes up to 512 (with fewer batches than five it divides by zero).

Nothing here is graded: exercises are judged on the grader's own inputs (`rubrics/`); the
stand-in only lets the book's own cells (data loading, a training run) execute.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .files import write_atomic

if TYPE_CHECKING:  # numpy is imported when a stand-in is written, not with DATA_FOLDER
    import numpy as np

# A kernel's working folder is a child of its grader's scratch root, so the book's `../data` is
# this folder of the scratch root (made visible to kernels read-only: grader.sandbox).
DATA_FOLDER = "data"
TRAIN_IMAGES = 2560
TEST_IMAGES = 512
SIDE = 28
CLASSES = 10
SEED = 20261123
# torchvision reads exactly these names below <root>/FashionMNIST/raw (no .gz needed when they
# exist; a `processed/` folder would make it look for an older cache format instead).
RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803  # IDX: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # IDX: unsigned bytes, 1 dimension


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format: magic (type 0x08, rank), sizes as big-endian int32, data."""
    import numpy as np

    if array.dtype != np.uint8:
        raise ValueError("IDX stand-ins hold unsigned bytes")
    magic = _IMAGES_MAGIC if array.ndim == 3 else _LABELS_MAGIC
    if array.ndim not in (1, 3):
        raise ValueError("IDX stand-ins are images (3-D) or labels (1-D)")
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def _templates(rng: np.random.Generator) -> np.ndarray:
    """One pattern per class: two to four rectangles of different brightness."""
    import numpy as np

    patterns = np.zeros((CLASSES, SIDE, SIDE), dtype=np.float32)
    for pattern in patterns:
        for _ in range(rng.integers(2, 5)):
            top, left = rng.integers(2, SIDE - 10, size=2)
            height, width = rng.integers(4, 12, size=2)
            pattern[top : top + height, left : left + width] = rng.uniform(0.5, 1.0)
    return patterns


def fashion_mnist_arrays(count: int, rng: np.random.Generator, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`count` images (uint8, N×28×28) with balanced labels, each its class's pattern shifted by
    up to two pixels (cyclically), scaled and noised."""
    import numpy as np

    labels = np.arange(count) % CLASSES
    rng.shuffle(labels)
    shifts = rng.integers(-2, 3, size=(count, 2))
    rows = (np.arange(SIDE)[None, :] - shifts[:, :1]) % SIDE
    cols = (np.arange(SIDE)[None, :] - shifts[:, 1:]) % SIDE
    shifted = patterns[labels[:, None, None], rows[:, :, None], cols[:, None, :]]
    contrast = rng.uniform(0.7, 1.0, size=(count, 1, 1)).astype(np.float32)
    noisy = shifted * contrast + rng.normal(0.0, 0.08, size=shifted.shape).astype(np.float32)
    return np.clip(noisy * 255.0, 0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_fashion_mnist(root: str, seed: int = SEED) -> str:
    """Write the stand-in below `root` (torchvision's `root`, the book's `../data`); returns its
    raw folder. Files are readable by everyone and rewritten whole (atomically)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    patterns = _templates(rng)
    raw = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(raw, mode=0o755, exist_ok=True)
    for split, count in (("train", TRAIN_IMAGES), ("test", TEST_IMAGES)):
        images, labels = fashion_mnist_arrays(count, rng, patterns)
        images_name, labels_name = RAW_FILES[split]
        write_atomic(os.path.join(raw, images_name), idx_bytes(images), 0o644)
        write_atomic(os.path.join(raw, labels_name), idx_bytes(labels), 0o644)
    return raw


def write_standins(root: str) -> None:
    """Every stand-in data set below `root` (today: Fashion-MNIST, all that chapters 6 and 7 load)."""
    write_fashion_mnist(root)
