"""Reference solutions for d2l 6.1 "From Fully Connected Layers to Convolutions" (PyTorch).

Run only in the grader process, to compute expected values; never sent to a kernel.
Written for clarity over speed: each function is the textbook definition.
"""

import torch
import torch.nn.functional as F


def conv_delta0(X, V):
    """A window of size 0 (Delta = 0): every pixel is mixed across channels by V alone.

    X has shape (c_i, h, w) and V shape (c_o, c_i); the result, of shape (c_o, h, w),
    is the 1x1 convolution with the kernel V[:, :, None, None].
    """
    X = torch.as_tensor(X)
    V = torch.as_tensor(V)
    return F.conv2d(X.unsqueeze(0), V[:, :, None, None].to(X.dtype)).squeeze(0)


def corr1d(x, k):
    """Valid 1-D cross-correlation: out[i] = sum_j x[i + j] * k[j] (same as np.correlate 'valid')."""
    x = torch.as_tensor(x, dtype=torch.float64)
    k = torch.as_tensor(k, dtype=torch.float64)
    n, m = len(x), len(k)
    return torch.stack([(x[i : i + m] * k).sum() for i in range(n - m + 1)])


def conv_full(f, g):
    """Full 1-D convolution: out[n] = sum_i f[i] * g[n - i] (same as np.convolve)."""
    f = torch.as_tensor(f, dtype=torch.float64)
    g = torch.as_tensor(g, dtype=torch.float64)
    out = torch.zeros(len(f) + len(g) - 1, dtype=torch.float64)
    for i in range(len(f)):
        for j in range(len(g)):
            out[i + j] += f[i] * g[j]
    return out


def spectrogram(x, n_fft, hop):
    """Magnitude spectrogram without window or padding: frame t is x[t * hop : t * hop + n_fft]
    (every frame that fits), entry [f, t] is |DFT of frame t at frequency f| for f = 0 ..
    n_fft // 2. Shape (n_fft // 2 + 1, (len(x) - n_fft) // hop + 1): frequency by time, an image."""
    x = torch.as_tensor(x, dtype=torch.float64)
    n_fft, hop = int(n_fft), int(hop)
    window = torch.ones(n_fft, dtype=torch.float64)
    return torch.stft(x, n_fft, hop_length=hop, window=window, center=False, return_complex=True).abs()


# ----------------------------------------------------------------------------- known mistakes
# Wrong answers students give, from the same inputs as the checks that list them under
# `diagnoses` (rubrics/why-conv.toml).


def corr1d_flipped(x, k):
    """The kernel reversed before sliding: true convolution (np.convolve's 'valid' part)."""
    return corr1d(x, torch.as_tensor(k, dtype=torch.float64).flip(0))


def conv_full_unflipped(f, g):
    """Every f[i] * g added with g reversed: a full cross-correlation, not a convolution."""
    return conv_full(f, torch.as_tensor(g, dtype=torch.float64).flip(0))


def spectrogram_power(x, n_fft, hop):
    """The power spectrogram (squared magnitudes) where the magnitudes were asked for."""
    return spectrogram(x, n_fft, hop) ** 2
