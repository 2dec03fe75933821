"""The book's own notebooks: a student's copy of a d2l section, answers added, graded as it is.

Each notebook below is laid out as a student's copy of the book's section would be: the book's
imports (`from d2l import torch as d2l`), its `d2l.` calls (the Fashion-MNIST loader and a
10-epoch `d2l.train_ch6` for 6.6), then the student's answers, without our cell metadata. They
must score full marks through the real pipeline: the real `d2l` package, torchvision imported
beside the CPU build of torch, the offline Fashion-MNIST stand-in where torchvision looks
(`../data`), no DataLoader worker processes, no live plots.
"""

from __future__ import annotations

import collections

import nbformat
import numpy as np
import pytest
from nbfactory import notebook_of, reference_path

from grader import book, datasets
from grader.results import PASSED

pytestmark = pytest.mark.kernel

BOOK_6_2 = [
    "#md # Convolutions for Images",
    "import torch\nfrom torch import nn\nfrom d2l import torch as d2l",
    "def corr2d(X, K):  #@save\n"
    "    h, w = K.shape\n"
    "    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))\n"
    "    for i in range(Y.shape[0]):\n"
    "        for j in range(Y.shape[1]):\n"
    "            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()\n"
    "    return Y",
    "X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])\n"
    "K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])\n"
    "assert torch.equal(corr2d(X, K), d2l.corr2d(X, K))\n"
    "corr2d(X, K)",
    "X = torch.ones((6, 8))\nX[:, 2:6] = 0\nK = torch.tensor([[1.0, -1.0]])\nY = d2l.corr2d(X, K)\nY",
    "conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)\n"
    "X = X.reshape((1, 1, 6, 8))\nY = Y.reshape((1, 1, 6, 7))\nlr = 3e-2\n"
    "for i in range(10):\n"
    "    Y_hat = conv2d(X)\n"
    "    l = (Y_hat - Y) ** 2\n"
    "    conv2d.zero_grad()\n"
    "    l.sum().backward()\n"
    "    conv2d.weight.data[:] -= lr * conv2d.weight.grad\n"
    "    if (i + 1) % 2 == 0:\n"
    "        print(f'epoch {i + 1}, loss {l.sum():.3f}')\n"
    "X = X.reshape((6, 8))\nY = Y.reshape((6, 7))",
    "#md ## Exercises",
]

BOOK_6_6 = [
    "#md # Convolutional Neural Networks (LeNet)",
    "import torch\nfrom torch import nn\nfrom d2l import torch as d2l",
    "net = nn.Sequential(\n"
    "    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),\n"
    "    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),\n"
    "    nn.Flatten(),\n"
    "    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),\n"
    "    nn.Linear(120, 84), nn.Sigmoid(),\n"
    "    nn.Linear(84, 10))",
    "X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)\n"
    "for layer in net:\n"
    "    X = layer(X)\n"
    "    print(layer.__class__.__name__, 'output shape:', X.shape)",
    "batch_size = 256\ntrain_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=batch_size)",
    "lr, num_epochs = 0.9, 10\nd2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())",
    "#md ## Exercises",
]


def book_layout(book_cells: list[str], answers_from: str, folder, name: str) -> str:
    """The book's cells, then every cell of the reference notebook `answers_from` as a student
    would paste their answers: no cell metadata, no notebook metadata."""
    nb = notebook_of(book_cells)
    for cell in nbformat.read(reference_path(answers_from), as_version=4).cells:
        cell.metadata = {}
        nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, str(path))
    return str(path)


@pytest.mark.parametrize(
    "book_cells, answers, assignment",
    [(BOOK_6_2, "conv-layer.ipynb", "conv-layer"), (BOOK_6_6, "lenet.ipynb", "lenet")],
    ids=["6.2-conv-layer", "6.6-lenet"],
)
def test_a_book_layout_notebook_with_the_answers_gets_full_marks(
    grader, course, tmp_path, book_cells, answers, assignment
):
    notebook = book_layout(book_cells, answers, tmp_path, f"{assignment} (book).ipynb")
    result = grader.grade(notebook, course.get(assignment))
    assert result.errors == [], result.errors
    assert {c.id: c.status for c in result.checks if c.status != PASSED} == {}
    assert result.score == result.max_score > 0


def test_the_book_imports_and_data_are_there_and_the_data_is_read_only(grader, course, tmp_path):
    """What the book's first cells rely on, seen from inside a kernel: the real d2l package, a
    torchvision that imports, the stand-in where `../data` points, no worker processes; and the
    shared stand-in cannot be changed by a notebook (the next kernel reads it too)."""
    from kernels import run_cells

    _, values = run_cells(
        grader,
        [
            "from d2l import torch as d2l\nimport torchvision, os\n"
            "d2l_file = d2l.__file__\n"
            "workers = d2l.get_dataloader_workers()\n"
            "train_iter, test_iter = d2l.load_data_fashion_mnist(64)\n"
            "X, y = next(iter(train_iter))\n"
            "shape = list(X.shape)\n"
            "labels = sorted(set(int(v) for v in y))\n"
            "try:\n"
            "    with open('../data/FashionMNIST/raw/train-labels-idx1-ubyte', 'r+b') as f:\n"
            "        f.write(b'x')\n"
            "    changed = 'written'\n"
            "except OSError as exc:\n"
            "    changed = type(exc).__name__\n",
        ],
        ["d2l_file", "workers", "shape", "labels", "changed"],
    )
    assert values["d2l_file"].endswith("d2l/torch.py"), values
    assert values["workers"] == 0
    assert values["shape"] == [64, 1, 28, 28] and len(values["labels"]) > 5
    assert values["changed"] in ("PermissionError", "OSError"), values


def test_torchvision_reads_the_stand_in_offline_where_the_book_looks(tmp_path):
    """`d2l.load_data_fashion_mnist` asks torchvision for FashionMNIST(root='../data',
    download=True): with the four raw files there it reads them and downloads nothing."""
    book.make_torchvision_importable()
    import torchvision

    root = tmp_path / "data"
    datasets.write_standins(str(root))
    train = torchvision.datasets.FashionMNIST(str(root), train=True, download=True)  # finds it: no download
    test = torchvision.datasets.FashionMNIST(str(root), train=False, download=False)
    assert (len(train), len(test)) == (datasets.TRAIN_IMAGES, datasets.TEST_IMAGES)
    assert tuple(train.data.shape[1:]) == (28, 28)
    counts = collections.Counter(int(label) for label in train.targets)
    assert sorted(counts) == list(range(10)) and max(counts.values()) - min(counts.values()) <= 1
    # learnable: images of one class are closer to their class mean than to other classes' means
    pixels = train.data.float().reshape(len(train), -1)
    means = np.stack([pixels[train.targets == c].mean(0).numpy() for c in range(10)])
    distances = ((pixels.numpy()[:, None, :] - means[None]) ** 2).sum(-1)
    assert (distances.argmin(1) == train.targets.numpy()).mean() > 0.9
