"""Whole-recording statistics that windows share, so that chunking never changes the numbers.

* **Input normalisation.** Where the feature extractor normalises (``do_normalize``), mean and
  variance are taken over the whole recording once, exactly as transformers'
  ``zero_mean_unit_var_norm`` would for the whole waveform.
* **Group-norm feature encoders** (``feat_extract_norm == "group"``: wav2vec2-base, HuBERT-base,
  WavLM-base) normalise each channel of the first convolution over the whole input. Those
  per-channel statistics are computed over the whole recording in a cheap streaming pass
  (:func:`group_norm_statistics`) and every window then uses them (:func:`fixed_group_norm`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .device import sanitize_thread_env

sanitize_thread_env()

import torch  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .model import LoadedModel

# transformers' zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7)
NORMALISATION_EPS = 1e-7
# First-convolution output frames per block of the group-norm statistics pass: with 512 channels
# about 64 MiB of float32 at a time, whatever the recording's length.
STATS_BLOCK_FRAMES = 32768


def recording_normalisation(waveform: np.ndarray, block: int = 1 << 22) -> tuple[float, float]:
    """Mean and divisor ``sqrt(var + 1e-7)`` of the whole ``(n,)`` waveform, in float64.

    The same quantities transformers' ``zero_mean_unit_var_norm`` uses for the whole recording,
    accumulated blockwise (two passes) so that no float64 copy of a long recording is made.
    """
    n = waveform.shape[0]
    total = 0.0
    for start in range(0, n, block):
        total += float(np.sum(waveform[start:start + block], dtype=np.float64))
    mean = total / n
    squares = 0.0
    for start in range(0, n, block):
        centred = waveform[start:start + block].astype(np.float64) - mean
        # np.square + sum (pairwise, one thread) rather than a BLAS dot: on a short recording
        # waking BLAS threads costs more than the sum itself.
        squares += float(np.sum(np.square(centred)))
    return mean, math.sqrt(squares / n + NORMALISATION_EPS)


def window_tensor(waveform: np.ndarray, start: int, stop: int, norm: tuple[float, float] | None,
                   device, dtype) -> torch.Tensor:
    """(1, stop - start) model input for samples [start, stop), normalised with ``norm``."""
    piece = waveform[start:stop]
    if norm is not None:
        piece = ((piece.astype(np.float64) - norm[0]) / norm[1]).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))[None].to(
        device=device, dtype=dtype)


def first_group_norm(model) -> torch.nn.GroupNorm | None:
    """The GroupNorm after the first feature-encoder convolution, if the model has one."""
    first = model.feature_extractor.conv_layers[0]
    norm = getattr(first, "layer_norm", None)
    return norm if isinstance(norm, torch.nn.GroupNorm) else None


def group_norm_statistics(loaded: LoadedModel, waveform: np.ndarray,
                          norm: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (biased) variance of the first convolution's output over the whole
    recording, as the first-layer GroupNorm computes them in a full-recording forward pass.

    Streams through the convolution in blocks aligned to its stride (``STATS_BLOCK_FRAMES``
    output frames each) and merges block statistics in float64 (Chan et al.), so memory does not
    grow with the recording. Returns two ``(channels,)`` float64 arrays; for a GroupNorm with
    fewer groups than channels each channel gets its group's statistics.
    """
    conv = loaded.model.feature_extractor.conv_layers[0].conv
    group_norm = first_group_norm(loaded.model)
    kernel, stride = int(conv.kernel_size[0]), int(conv.stride[0])
    weight = conv.weight.detach().float()
    bias = None if conv.bias is None else conv.bias.detach().float()
    groups = group_norm.num_groups
    channels = weight.shape[0]
    # MPS has no float64; blocks are centred before squaring, so float32 is accurate enough there.
    acc = torch.float32 if loaded.device.type == "mps" else torch.float64
    total_frames = (waveform.shape[0] - kernel) // stride + 1
    count = 0
    mean = np.zeros(groups)
    m2 = np.zeros(groups)
    with torch.inference_mode():
        for first in range(0, total_frames, STATS_BLOCK_FRAMES):
            frames = min(STATS_BLOCK_FRAMES, total_frames - first)
            x = window_tensor(waveform, first * stride, (first + frames - 1) * stride + kernel,
                               norm, loaded.device, torch.float32)
            y = torch.nn.functional.conv1d(x[:, None], weight, bias, stride=stride)[0]
            y = y.to(acc).reshape(groups, -1)
            block_mean = y.mean(dim=1)
            block_m2 = ((y - block_mean[:, None]) ** 2).sum(dim=1)
            n_block = y.shape[1]
            block_mean = block_mean.double().cpu().numpy()
            block_m2 = block_m2.double().cpu().numpy()
            delta = block_mean - mean
            merged = count + n_block
            mean = mean + delta * (n_block / merged)
            m2 = m2 + block_m2 + delta ** 2 * (count * n_block / merged)
            count = merged
    per_group = channels // groups
    return np.repeat(mean, per_group), np.repeat(m2 / count, per_group)


class _FixedChannelNorm(torch.nn.Module):
    """Stands in for the first-layer GroupNorm with statistics fixed in advance:
    ``(x - mean) / sqrt(var + eps) * weight + bias`` per channel, computed in float32."""

    def __init__(self, group_norm: torch.nn.GroupNorm, mean: np.ndarray, var: np.ndarray,
                 device: torch.device):
        super().__init__()
        inv = 1.0 / np.sqrt(var + group_norm.eps)
        weight = (group_norm.weight.detach().double().cpu().numpy() if group_norm.affine
                  else np.ones_like(mean))
        bias = (group_norm.bias.detach().double().cpu().numpy() if group_norm.affine
                else np.zeros_like(mean))
        scale = torch.from_numpy((weight * inv).astype(np.float32)).to(device)
        shift = torch.from_numpy((bias - mean * weight * inv).astype(np.float32)).to(device)
        self.register_buffer("scale", scale[:, None])
        self.register_buffer("shift", shift[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, channels, time)
        return (x.float() * self.scale + self.shift).to(x.dtype)


@contextlib.contextmanager
def fixed_group_norm(model, mean: np.ndarray, var: np.ndarray) -> Iterator[None]:
    """Temporarily run the first-layer GroupNorm with whole-recording statistics."""
    first = model.feature_extractor.conv_layers[0]
    original = first.layer_norm
    first.layer_norm = _FixedChannelNorm(original, mean, var, first.conv.weight.device)
    try:
        yield
    finally:
        first.layer_norm = original

