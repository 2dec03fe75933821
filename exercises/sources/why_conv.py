"""Source of exercises/why-conv.ipynb and reference/why-conv.ipynb (d2l 6.1; d2l v1.0: 7.1)."""

from grader.content import answer, code, md

ASSIGNMENT = "why-conv"
NOTEBOOK = "why-conv.ipynb"

CELLS = [
    md("""
# 6.1 From Fully Connected Layers to Convolutions — exercises

This notebook follows section 6.1 of *Dive into Deep Learning* (d2l v0.17 numbering, the same
as d2l-zh; section 7.1 in d2l v1.0, which asks the same questions in another order, each
heading gives both numbers, and adds two parts to the audio question, right after Exercise 4
here). The exercises are restated in our own words. Most of them ask for an argument or a
proof: write those in the markdown cells marked *Your answer here* (your instructor reads
them; they are not scored automatically). Four exercises also ask for a small function, which
the grader checks by name: keep the names exactly as written and run the notebook top to
bottom before you submit.

Check your work at any time with `grader check why-conv.ipynb`.
"""),
    md("""
## The setting

The section starts from a fully connected layer on images and imposes two principles.
*Translation invariance* makes the weights depend only on the offset `(a, b)` between an input
pixel and an output pixel, not on where the output pixel is. *Locality* keeps only offsets with
`|a| <= Delta` and `|b| <= Delta`. With `c_i` input channels and `c_o` output channels the
hidden value at pixel `(i, j)` in channel `d` becomes

`H[d, i, j] = u[d] + sum over |a|, |b| <= Delta and c of V[d, c, a, b] * X[c, i + a, j + b]`.
"""),
    code("""
import numpy as np
import torch
import torch.nn.functional as F
"""),
    md("""
## Exercise 1 (6.1, ex. 1; v1.0 ex. 1) — a window of size 0

Take `Delta = 0`, so that only the offset `(0, 0)` survives and `V` reduces to a `c_o x c_i`
matrix. Show that the layer then runs the *same* one-layer MLP (a fully connected map from
`c_i` to `c_o` numbers) on the channel vector of every pixel, independently of all other
pixels.

Then write `conv_delta0(X, V)` for an input `X` of shape `(c_i, h, w)` and a matrix `V` of
shape `(c_o, c_i)` that returns the `(c_o, h, w)` result of that layer without the bias. It
must equal a convolution whose kernel is `1 x 1`.
"""),
    code(
        """
def conv_delta0(X, V):
    # TODO: mix the channels of every pixel with V; return shape (c_o, h, w)
    ...
""",
        """
def conv_delta0(X, V):
    c_i, h, w = X.shape
    pixels = X.reshape(c_i, h * w)          # one column per pixel
    return (V @ pixels).reshape(V.shape[0], h, w)


# The same thing, written as a 1x1 convolution
X_demo, V_demo = torch.randn(3, 4, 5), torch.randn(2, 3)
torch.allclose(conv_delta0(X_demo, V_demo), F.conv2d(X_demo[None], V_demo[:, :, None, None])[0], atol=1e-6)
""",
    ),
    md("Your argument: why is this an MLP applied to each pixel separately?"),
    answer(
        "ex1-proof",
        """
With Delta = 0 the sums over a and b contain the single term a = b = 0, so
H[d, i, j] = u[d] + sum_c V[d, c] X[c, i, j]. The output at pixel (i, j) depends only on the
channel vector X[:, i, j] of that pixel, through the affine map x -> V x + u, and V and u are
the same for every pixel (translation invariance). That is one fully connected layer from c_i
to c_o units, shared by all pixels and applied to each of them on its own: a 1x1 convolution.
""",
    ),
    md("""
## Exercise 2 (6.1, ex. 2; v1.0 ex. 3) — when translation invariance hurts

Translation invariance says that a pattern means the same thing wherever it appears. Give
situations in which that assumption is wrong or costly, and explain why.
"""),
    answer(
        "ex2-translation",
        """
When position carries meaning. In aligned images (passport photos, medical scans registered
to a template, a chess board) what is at the top is not what is at the bottom: an eye is
expected in one region only, and sharing weights across positions discards that prior. Sky
at the top of a landscape and water at the bottom can look alike locally. Absolute position
also matters for tasks that output coordinates. Full invariance may also throw away useful
asymmetry (text reads left to right), and pooling-based invariance loses the exact location
that detection or segmentation need.
""",
    ),
    md("""
## Exercise 3 (6.1, ex. 3; v1.0 ex. 5) — pixels at the border

Near the edge of the image the window `|a|, |b| <= Delta` sticks out of the picture. What
problems does that raise when we decide how to compute hidden values at the border, and what
are the options?
"""),
    answer(
        "ex3-border",
        """
The window reads pixels that do not exist, so we must either drop those outputs (the output
shrinks by 2 Delta per dimension after each layer, and border pixels are used by fewer
windows than central ones, so their information is under-represented), or invent values
for the missing pixels: zeros (padding, which creates an artificial dark edge), copies of the
edge pixel (replicate), a mirror image (reflect), or wrap-around (circular, which joins
opposite edges that are unrelated). Each choice biases the responses near the border.
""",
    ),
    md("""
## Exercise 4 (6.1, ex. 4; v1.0 ex. 2.2) — a convolutional layer for audio

Audio is a 1-D sequence of samples. Describe the analogous layer (input, kernel, output, the
invariance it builds in). Then write `corr1d(x, k)`: the *valid* 1-D cross-correlation of a
1-D tensor `x` with a shorter (or equally long) 1-D kernel `k`,
`out[i] = sum_j x[i + j] * k[j]`, of length `len(x) - len(k) + 1`. (It must agree with
`np.correlate(x, k, 'valid')`.)
"""),
    code(
        """
def corr1d(x, k):
    ...
""",
        """
def corr1d(x, k):
    m = len(k)
    return torch.stack([(x[i:i + m] * k).sum() for i in range(len(x) - m + 1)])


corr1d(torch.arange(7.0), torch.tensor([2.0, -1.0]))
""",
    ),
    md("Your description of a convolutional layer for audio:"),
    answer(
        "ex4-audio",
        """
The input is a signal X[c, t] with one channel per microphone (or per frequency band of a
spectrogram); a kernel V[d, c, a] with |a| <= Delta looks at a short time window; the output
H[d, t] = u[d] + sum_{a, c} V[d, c, a] X[c, t + a] is a set of learned filters evaluated at
every time step. It builds in invariance to shifts in time: a phoneme or a drum hit is
detected by the same weights whenever it occurs.
""",
    ),
    md("""
## v1.0 Exercise 2.1 and 2.3 (7.1, d2l v1.0 only) — audio as an image

A spectrogram turns a sound into a 2-D picture: cut the signal into short frames and show, for
each frame (one column), how strong every frequency is (one row per frequency). Write
`spectrogram(x, n_fft, hop)` for a 1-D tensor `x`:

* frame `t` is `x[t * hop : t * hop + n_fft]`, for every `t` such that the frame lies entirely
  inside `x` (no padding, no window function: the samples as they are);
* entry `[f, t]` is the magnitude `|sum_n x[t * hop + n] * exp(-2j * pi * f * n / n_fft)|` of
  frame `t`'s discrete Fourier transform at frequency `f`, for `f = 0 .. n_fft // 2` (the
  other frequencies of a real signal repeat these);
* the result is a real tensor of shape `(n_fft // 2 + 1, number of frames)`: frequency by time.

`torch.fft.rfft` computes the transform of a frame (or of every row of a matrix of frames).
"""),
    code(
        """
def spectrogram(x, n_fft, hop):
    ...
""",
        """
def spectrogram(x, n_fft, hop):
    frames = x.unfold(0, n_fft, hop)                  # (number of frames, n_fft)
    return torch.fft.rfft(frames, dim=1).abs().T       # (n_fft // 2 + 1, number of frames)


t = torch.arange(64.0)
chirp = torch.sin(0.05 * t * t / 4)                    # a tone whose frequency rises
spectrogram(chirp, 16, 8).argmax(dim=0)                # the loudest frequency of each frame rises
""",
    ),
    md("""
When would you impose locality and translation invariance on audio, and when not? Can you treat
audio with the tools of computer vision, and what does the spectrogram change?
"""),
    answer(
        "v1-ex2-audio-as-image",
        """
Locality fits because the events of a sound (a phoneme, a note, a click) are short compared
with a recording; translation invariance in time fits because an event means the same whenever
it happens, e.g. for keyword spotting, speech or music recognition. It fits less where absolute
time matters (aligned recordings, a jingle that must start at second 0) or for slow, global
properties such as the speaker or the room. A spectrogram is an image (frequency by time), so
2-D convolutional networks built for vision apply and work well in practice. But its axes are
not alike: shifting along time keeps the meaning, shifting along frequency changes the pitch and
the timbre (only roughly shift invariant on a log-frequency scale), and a sound is not
occluded like an object but added on top of others. Hence kernels that span many frequencies,
or 1-D convolutions over time with frequencies as channels.
""",
    ),
    md("""
## Exercise 5 (6.1, ex. 5; v1.0 ex. 4) — convolutions for text

Could convolutional layers also be useful for text? Give reasons for and against.
"""),
    answer(
        "ex5-text",
        """
Yes, as 1-D convolutions over the sequence of token embeddings (channels = embedding
dimensions): a kernel of width k is an n-gram detector, and a phrase means much the same
wherever it occurs in a sentence, so weight sharing fits. Limits: meaning depends on long
range dependencies and word order far beyond a small window (you need deep stacks, dilation
or pooling to see them), and text has no natural grid distance beyond adjacency, which is why
recurrent and attention models often do better.
""",
    ),
    md("""
## Exercise 6 (6.1, ex. 6; v1.0 ex. 6) — convolution commutes

Prove that `f * g = g * f` (with the continuous definition, the discrete one, or both).

Then write `conv_full(f, g)`: the *full* discrete convolution of two 1-D tensors,
`out[n] = sum_i f[i] * g[n - i]` over every `n` for which the sum has a term, so the result
has length `len(f) + len(g) - 1` (it must agree with `np.convolve(f, g)`). Check on inputs of
different lengths that `conv_full(f, g)` equals `conv_full(g, f)`.
"""),
    code(
        """
def conv_full(f, g):
    ...
""",
        """
def conv_full(f, g):
    out = torch.zeros(len(f) + len(g) - 1, dtype=torch.promote_types(f.dtype, g.dtype))
    for i in range(len(f)):
        out[i:i + len(g)] += f[i] * g
    return out


f_demo, g_demo = torch.tensor([1.0, 2.0, 3.0, -1.0]), torch.tensor([0.5, -2.0])
conv_full(f_demo, g_demo), conv_full(g_demo, f_demo)
""",
    ),
    md("Your proof:"),
    answer(
        "ex6-proof",
        """
Continuous: (f * g)(x) = integral f(z) g(x - z) dz. Substitute y = x - z (dz = -dy, the
limits swap back): = integral f(x - y) g(y) dy = (g * f)(x).
Discrete: (f * g)[n] = sum_i f[i] g[n - i]. Put j = n - i; as i runs over all integers so does
j, so the sum is sum_j f[n - j] g[j] = (g * f)[n]. Both sums run over the same pairs (i, j)
with i + j = n, so they are equal term by term.
""",
    ),
]
