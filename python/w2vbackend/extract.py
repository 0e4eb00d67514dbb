"""Chunked, exactly aligned inference: embeddings for every model frame of a whole recording.

Why it is built this way (each point is a way the naive "run 20 s chunks and concatenate" drifts
or degrades):

* **Frames, not seconds, are planned.** Output frames ``[0, F)`` (``F`` from the model's own
  output-length formula for the whole recording) are split into blocks ``[a, b)``. A block is
  computed from a window of frames ``[s, e)`` (``[a - C - P_left, b + C + P_right)``, clipped to
  ``[0, F)``; see below), i.e. input samples ``[s * stride, (e - 1) * stride + R)``. Windows
  start on multiples of the total stride, so frame ``j`` of a window *is* global frame
  ``s + j``; only ``[a, b)`` is kept. No frame is lost or repeated at a cut and the time axis
  never drifts.
* **Context.** The ``C`` frames on both sides (``context_seconds`` of real audio, the attention
  context) go through the transformer layers and are discarded, so that those layers see real
  neighbours around every kept frame.
* **Positional reach.** The transformer input of a frame is its feature vector plus a
  convolutional positional embedding over its neighbours (wav2vec2/HuBERT/WavLM: kernel
  ``num_conv_pos_embeddings`` = 128, i.e. frames ``j - 64 .. j + 63``; data2vec-audio: several
  such convolutions, reaches added). The feature encoder and that convolution therefore run over
  ``P`` more frames on each side, ``[a - C - P_left, b + C + P_right)`` (clipped), and the
  sequence is cropped back to ``[a - C, b + C)`` just before the first transformer layer. So
  every transformer-layer input equals the full pass's exactly, and only the ``C`` frames of
  attention context pass through the expensive layers (the extra ``P`` frames cost only
  convolutions). See :func:`positional_reach`.
* **Whole-recording input normalisation.** Where the feature extractor normalises
  (``do_normalize``), mean and variance are taken over the whole recording once, exactly as
  transformers' ``zero_mean_unit_var_norm`` would for the whole waveform; chunking never changes
  the input the model sees.
* **Group-norm feature encoders** (``feat_extract_norm == "group"``: wav2vec2-base, HuBERT-base,
  WavLM-base) normalise each channel of the first convolution over the whole input window. With
  ``group_norm="recording"`` (default) those per-channel statistics are first computed over the
  whole recording in a cheap streaming pass through that convolution, then every window uses
  them, so a window computes what the full pass computes.

Hidden-state numbering (``layers``) is transformers' ``output_hidden_states`` numbering; see
:func:`resolve_layers`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import Audio, audio_from_array, load_audio, resample
from .defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, GROUP_NORM_MODES
from .device import sanitize_thread_env
from .errors import AudioTooShortError, UsageError
from .layers import parse_layers
from .model import DEFAULT_MODEL, FrameGeometry, LoadedModel, dtype_name, load_model

# Before torch loads MKL/OpenMP (a no-op when model.py already did it).
sanitize_thread_env()

import torch  # noqa: E402

# transformers' zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7)
NORMALISATION_EPS = 1e-7
# First-convolution output frames per block of the group-norm statistics pass: with 512 channels
# about 64 MiB of float32 at a time, whatever the recording's length.
STATS_BLOCK_FRAMES = 32768


@dataclass(frozen=True)
class Window:
    """One model call: the feature encoder and positional convolution compute frames
    ``[input_start, input_stop)`` from input samples ``[sample_start, sample_stop)``; frames
    ``[frame_start, frame_stop)`` of those go through the transformer layers; of those, frames
    ``[keep_start, keep_stop)`` are kept. All indices are global (whole-recording) frame or
    sample indices; ``input_start <= frame_start <= keep_start < keep_stop <= frame_stop <=
    input_stop``."""

    keep_start: int
    keep_stop: int
    frame_start: int
    frame_stop: int
    sample_start: int
    sample_stop: int
    input_start: int
    input_stop: int

    @property
    def offset(self) -> int:
        """Index, within this window's output, of global frame ``keep_start``."""
        return self.keep_start - self.frame_start

    @property
    def crop(self) -> tuple[int, int]:
        """``[start, stop)`` of the feature-encoder sequence (``input_stop - input_start``
        frames) that enters the first transformer layer."""
        return self.frame_start - self.input_start, self.frame_stop - self.input_start


def frames_for_seconds(seconds: float, geometry: FrameGeometry, *, round_up: bool) -> int:
    """Number of frames spanning ``seconds`` (rounded, or rounded up when ``round_up``)."""
    frames = float(seconds) * geometry.sample_rate / geometry.stride
    return math.ceil(frames - 1e-9) if round_up else round(frames)


def plan_windows(num_samples: int, geometry: FrameGeometry, chunk_frames: int | None,
                 context_frames: int, *,
                 positional_frames: tuple[int, int] = (0, 0)) -> list[Window]:
    """Windows that together produce every frame of a ``num_samples`` recording exactly once.

    ``chunk_frames``: frames kept per window (``None``: one window for the whole recording).
    ``context_frames``: extra frames that go through the transformer layers and are discarded,
    on each side of the kept ones. ``positional_frames``: ``(left, right)`` further frames on
    each side that only the feature encoder and positional convolution see (see
    :func:`positional_reach`; ``(0, 0)``: none). All ranges are clipped to the recording.
    Pure function (no model): ``sum(keep_stop - keep_start) == geometry.num_frames(num_samples)``,
    and each window's sample range yields exactly ``input_stop - input_start`` frames. A window
    ends where its last frame's receptive field ends, except that windows containing the
    recording's last frame run to the end of the recording.
    """
    total = geometry.num_frames(num_samples)
    if total == 0:
        return []
    chunk = total if chunk_frames is None else int(chunk_frames)
    left, right = (int(v) for v in positional_frames)
    if chunk < 1 or context_frames < 0 or left < 0 or right < 0:
        raise ValueError("chunk_frames must be >= 1, context_frames and positional_frames >= 0")
    windows = []
    for keep_start in range(0, total, chunk):
        keep_stop = min(total, keep_start + chunk)
        frame_start = max(0, keep_start - context_frames)
        frame_stop = min(total, keep_stop + context_frames)
        input_start = max(0, frame_start - left)
        input_stop = min(total, frame_stop + right)
        # The window reaching the last frame also takes the < stride samples after it: they
        # make no frame, but a plain full pass sees them too (they enter the first-layer
        # GroupNorm statistics of base-like models), so a single window equals the full pass.
        sample_stop = (num_samples if input_stop == total
                       else (input_stop - 1) * geometry.stride + geometry.receptive_field)
        windows.append(Window(
            keep_start=keep_start,
            keep_stop=keep_stop,
            frame_start=frame_start,
            frame_stop=frame_stop,
            sample_start=input_start * geometry.stride,
            sample_stop=sample_stop,
            input_start=input_start,
            input_stop=input_stop,
        ))
    return windows


# Model types whose encoder is: positional convolution(s) added to the features, (LayerNorm for
# post-LN), ``encoder.dropout``, then the layers, with nothing else depending on the sequence
# length before layer 0 (WavLM's relative position bias is computed inside layer 0).
POSITIONAL_SPLIT_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")


def positional_reach(model) -> tuple[int, int]:
    """``(left, right)``: frames before and after frame ``j`` that its positional embedding reads.

    Derived from the modules of ``model.encoder.pos_conv_embed``: output ``i`` of a stride-1
    ``Conv1d`` with kernel ``K`` and zero padding ``p`` on both sides reads inputs
    ``i - p .. i - p + K - 1``, i.e. ``p`` frames to the left and ``K - 1 - p`` to the right
    (for even ``K`` the same-pad layer then drops the one extra output at the end, which keeps
    output ``i`` aligned with input ``i``); stacked convolutions (data2vec-audio) add up.
    wav2vec2/HuBERT/WavLM with ``K = 128``: ``(64, 63)``. Returns ``(0, 0)`` (no positional split)
    for model types or module layouts this does not know, so those run with plain windows.
    """
    config = getattr(model, "config", None)
    encoder = getattr(model, "encoder", None)
    pos_conv = getattr(encoder, "pos_conv_embed", None)
    if (getattr(config, "model_type", None) not in POSITIONAL_SPLIT_MODEL_TYPES
            or pos_conv is None or not isinstance(getattr(encoder, "dropout", None),
                                                  torch.nn.Dropout)):
        return 0, 0
    left = right = 0
    for module in pos_conv.modules():
        if isinstance(module, torch.nn.Conv1d):
            padding = module.padding
            if (isinstance(padding, str) or module.stride != (1,) or module.dilation != (1,)
                    or module.padding_mode != "zeros"):
                return 0, 0
            left += int(padding[0])
            right += int(module.kernel_size[0]) - 1 - int(padding[0])
    if left < 0 or right < 0:
        return 0, 0
    return left, right


@dataclass
class Result:
    """Embeddings of one recording with their exact time axis.

    ``embeddings``: float32, ``(num_frames, hidden_size)`` for one layer or
    ``(num_layers, num_frames, hidden_size)`` for several (in the order of ``layers``); may be a
    ``np.memmap`` when an ``allocate`` callback provided it.
    ``time_axis``: ``(num_frames,)`` float64 seconds, onset of frame k's receptive field,
    ``k * stride / sample_rate``; the frame's audio is ``[t, t + receptive_field)``.
    ``layers``: non-negative hidden-state indices (transformers numbering, see resolve_layers).
    ``sample_rate`` (Hz, model input), ``frame_stride``, ``receptive_field``,
    ``frame_center_offset`` (seconds). ``metadata``: JSON-serialisable description of the run.
    """

    embeddings: np.ndarray
    time_axis: np.ndarray
    layers: tuple[int, ...]
    sample_rate: int
    frame_stride: float
    receptive_field: float
    frame_center_offset: float
    metadata: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.time_axis.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.embeddings.shape[-1])


def resolve_layers(spec, num_hidden_layers: int) -> tuple[int, ...] | None:
    """Hidden-state indices asked for by ``spec``, made non-negative; ``None`` = last hidden state.

    Numbering is transformers' ``output_hidden_states`` numbering for a model with
    ``L = num_hidden_layers`` transformer layers:

    * ``0``: the transformer input (feature projection + positional convolution; for post-LN
      models such as wav2vec2-base also after the encoder LayerNorm);
    * ``i`` in ``1..L-1``: the output of transformer layer ``i``;
    * ``L``: ``last_hidden_state`` (for pre-LN models such as XLS-R, the output of layer ``L``
      followed by the encoder's final LayerNorm, as in transformers 4.x ``hidden_states[L]``).

    Accepted specs: ``None``, ``"last"`` or ``""`` (-> ``None``); ``"all"`` (``0..L``); an int;
    a sequence of ints; a string such as ``"6,12,-1"``. Negative indices count from the end
    (``-1 == L``, ``-(L+1) == 0``). Duplicates are dropped, order is kept. Out-of-range or
    malformed specs raise :class:`UsageError`.

    Other toolkits number differently:

    * transformers 4.x ``hidden_states[i]`` equals our ``i`` for every ``i``. transformers 5
      returns, for pre-LN models only, the last layer's output *before* the final LayerNorm as
      ``hidden_states[L]``; our ``L`` stays ``last_hidden_state``.
    * torchaudio ``extract_features(wave)[0][i]`` (0-based list of layer outputs) is our
      ``i + 1``; it has no index 0, and for pre-LN models its last entry lacks the final
      LayerNorm (so it differs from our ``L``). ``num_layers=n`` returns our ``1..n``.
    * fairseq wav2vec2 ``extract_features(source, padding_mask, layer=k)`` stops after the 0-based
      transformer layer ``k`` and returns our ``k + 1`` (without the final LayerNorm of pre-LN
      models); ``layer=None`` returns our ``L``; ``layer_results[j]`` is our ``j + 1``.
    * fairseq HuBERT and the WavLM reference code ``extract_features(..., output_layer=k)``
      (1-based) return our ``k`` (for ``k = L`` of pre-LN models, without the final LayerNorm).
    """
    total = int(num_hidden_layers)
    parsed = parse_layers(spec)
    if parsed == "last":
        return None
    if parsed == "all":
        return tuple(range(total + 1))
    resolved: list[int] = []
    for index in parsed:
        if not -(total + 1) <= index <= total:
            raise UsageError(f"layers: index {index} is out of range for a model with {total} "
                             f"transformer layers (valid: 0..{total} or -{total + 1}..-1)")
        index = index + total + 1 if index < 0 else index
        if index not in resolved:
            resolved.append(index)
    return tuple(resolved)


# ---------------------------------------------------------------------------------------------
# audio input

@dataclass
class _Input:
    waveform: np.ndarray             # (num_samples,) float32 at the model's rate
    info: dict                       # JSON-serialisable audio description for the metadata
    label: str                       # file name or "<array>", for error messages


def _from_audio_object(obj: Audio, target_rate: int) -> _Input:
    waveform = np.asarray(obj.waveform, dtype=np.float32)
    if int(obj.sample_rate) != int(target_rate):
        waveform = resample(waveform, int(obj.sample_rate), int(target_rate))
    info = {
        "path": obj.path,
        "original_sample_rate": int(obj.original_sample_rate),
        "original_channels": int(obj.original_channels),
        "original_num_samples": int(obj.original_num_samples),
        "reader": str(obj.reader),
        "warnings": [str(w) for w in obj.warnings],
    }
    label = "<array>" if not obj.path else (obj.path if obj.path.isprintable()
                                             else ascii(obj.path)[1:-1])  # keep messages one line
    return _Input(waveform, info, label)


def _prepare_audio(audio, sample_rate: int | None, target_rate: int) -> _Input:
    """Mono float32 waveform at the model's rate from a path, an array or an Audio."""
    if isinstance(audio, (str, os.PathLike)):
        return _from_audio_object(load_audio(audio, target_rate), target_rate)
    if isinstance(audio, Audio):
        return _from_audio_object(audio, target_rate)
    if sample_rate is None:
        raise UsageError("audio given as an array needs sample_rate (Hz)")
    return _from_audio_object(audio_from_array(np.asarray(audio), sample_rate, target_rate),
                              target_rate)


# ---------------------------------------------------------------------------------------------
# whole-recording statistics

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
        squares += float(np.dot(centred, centred))
    return mean, math.sqrt(squares / n + NORMALISATION_EPS)


def _window_tensor(waveform: np.ndarray, start: int, stop: int, norm: tuple[float, float] | None,
                   device, dtype) -> torch.Tensor:
    """(1, stop - start) model input for samples [start, stop), normalised with ``norm``."""
    piece = waveform[start:stop]
    if norm is not None:
        piece = ((piece.astype(np.float64) - norm[0]) / norm[1]).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32))[None].to(
        device=device, dtype=dtype)


def _first_group_norm(model) -> torch.nn.GroupNorm | None:
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
    group_norm = _first_group_norm(loaded.model)
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
            x = _window_tensor(waveform, first * stride, (first + frames - 1) * stride + kernel,
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
def _fixed_group_norm(model, mean: np.ndarray, var: np.ndarray) -> Iterator[None]:
    """Temporarily run the first-layer GroupNorm with whole-recording statistics."""
    first = model.feature_extractor.conv_layers[0]
    original = first.layer_norm
    first.layer_norm = _FixedChannelNorm(original, mean, var, first.conv.weight.device)
    try:
        yield
    finally:
        first.layer_norm = original


# ---------------------------------------------------------------------------------------------
# running the model

class _StopForward(BaseException):
    """Raised by a hook to end a forward pass once the deepest requested layer is captured.
    A BaseException so that no ``except Exception`` inside the model swallows it."""


def _crop_hook(start: int, stop: int):
    """Forward hook for ``encoder.dropout`` (the step right before layer 0): keeps frames
    ``[start, stop)`` of its ``(batch, frames, hidden)`` output."""
    def hook(module, args, output):
        if output.shape[1] < stop:
            raise RuntimeError(f"cannot keep frames [{start}, {stop}) of a sequence of "
                               f"{output.shape[1]} frames")
        return output[:, start:stop]
    return hook


def hidden_states(model, input_values: torch.Tensor, layers: Sequence[int], *,
                  crop: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Hidden states ``layers`` (transformers numbering, non-negative) for one unpadded input.

    ``input_values``: ``(1, num_samples)`` in the model's dtype and device. Returns one
    ``(num_frames, hidden_size)`` tensor per index. Index ``i < L`` is the input of transformer
    layer ``i`` (what ``output_hidden_states`` records); index ``L`` is ``last_hidden_state``.
    When every index is below ``L`` the pass ends at the deepest one: layers after it never run.
    ``crop=(start, stop)``: only frames ``[start, stop)`` of the feature-encoder sequence, taken
    after the positional embedding (and the encoder LayerNorm of post-LN models), enter the
    transformer layers; then ``num_frames == stop - start``. Needs a model for which
    :func:`positional_reach` is not ``(0, 0)``.
    """
    blocks = model.encoder.layers
    total = len(blocks)
    wanted = set(layers)
    if not wanted or min(wanted) < 0 or max(wanted) > total:
        raise ValueError(f"hidden-state indices must lie in 0..{total}, got {list(layers)}")
    if crop is not None and not 0 <= crop[0] < crop[1]:
        raise ValueError(f"crop must be (start, stop) with 0 <= start < stop, got {crop}")
    deepest = max(wanted)
    captured: dict[int, torch.Tensor] = {}

    def make_hook(index: int):
        def hook(module, args, kwargs):
            state = args[0] if args else kwargs["hidden_states"]
            captured[index] = state
            if index == deepest:
                raise _StopForward
        return hook

    handles = [blocks[i].register_forward_pre_hook(make_hook(i), with_kwargs=True)
               for i in sorted(wanted) if i < total]
    if crop is not None:
        handles.append(model.encoder.dropout.register_forward_hook(_crop_hook(*crop)))
    try:
        output = model(input_values)
        captured[total] = output.last_hidden_state
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return [captured[i][0] for i in layers]


def extract(audio, *, model: str | LoadedModel = DEFAULT_MODEL, sample_rate: int | None = None,
            layers=None, chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS,
            context_seconds: float = DEFAULT_CONTEXT_SECONDS, device: str = "auto",
            dtype: str = "float32", revision: str | None = None,
            allocate: Callable[[tuple[int, ...]], np.ndarray] | None = None,
            progress: Callable[[float], Any] | None = None,
            group_norm: str = "recording", positional_context: bool = True) -> Result:
    """Embeddings for every frame of a whole recording, computed in windows with context.

    ``audio``: a file path, a ``(samples,)``/``(samples, channels)`` array with ``sample_rate``
    (Hz; ignored for paths), or an :class:`w2vbackend.audio.Audio` (resampled if needed).
    ``model``: hub id / local folder (loaded with ``revision``, ``device``, ``dtype``) or a
    :class:`LoadedModel` (then those three are ignored).
    ``layers``: see :func:`resolve_layers`; default: ``last_hidden_state``.
    ``chunk_seconds``: audio whose frames one window keeps (``None``: one window).
    ``context_seconds``: real audio on each side of a window's kept frames that goes through
    the transformer layers and is discarded (the attention context).
    ``positional_context``: when true (default), each window's feature encoder and positional
    convolution also get the convolution's reach of real audio beyond that context (XLS-R,
    wav2vec2, HuBERT, WavLM: 64 + 63 frames, about 1.3 s per side; see
    :func:`positional_reach`), so that every transformer-layer input equals the full pass's
    exactly; the extra audio costs only convolutions. ``False``: the feature encoder sees only
    ``context_seconds`` too (plain windows; frames within the reach of a window edge then get
    an approximate positional embedding).
    ``allocate(shape)``: returns the writable float32 output array (default ``np.empty``);
    windows are written into it as they finish. ``progress(seconds_done)``: called after each
    window with the cumulative audio seconds done (the last call equals the duration).
    ``group_norm``: ``"recording"`` (first-layer GroupNorm statistics of the whole recording;
    default) or ``"window"`` (each window's own, as a plain forward pass on the window would).

    Raises AudioTooShortError when the recording is shorter than one receptive field.
    """
    started = time.perf_counter()
    if group_norm not in GROUP_NORM_MODES:
        raise UsageError(f"group_norm {group_norm!r}: expected one of {GROUP_NORM_MODES}")
    if chunk_seconds is not None and not (float(chunk_seconds) > 0):
        raise UsageError(f"chunk_seconds must be positive, got {chunk_seconds!r}")
    if not (float(context_seconds) >= 0) or math.isinf(float(context_seconds)):
        raise UsageError(f"context_seconds must be >= 0, got {context_seconds!r}")
    loaded = model if isinstance(model, LoadedModel) else load_model(
        model, revision=revision, device=device, dtype=dtype)
    geometry = loaded.geometry
    item = _prepare_audio(audio, sample_rate, geometry.sample_rate)
    waveform = item.waveform
    num_samples = int(waveform.shape[0])
    duration = num_samples / geometry.sample_rate
    if num_samples < geometry.receptive_field:
        raise AudioTooShortError(
            f"{item.label}: audio is {duration:.4f} s long ({num_samples} samples at "
            f"{geometry.sample_rate} Hz) but one frame of {loaded.name} needs at least "
            f"{geometry.receptive_field_s:.4f} s ({geometry.receptive_field} samples)")

    resolved = resolve_layers(layers, loaded.num_hidden_layers)
    layer_indices = resolved if resolved is not None else (loaded.num_hidden_layers,)
    chunk_frames = (None if chunk_seconds is None or math.isinf(float(chunk_seconds))
                    else max(1, frames_for_seconds(chunk_seconds, geometry, round_up=False)))
    context_frames = frames_for_seconds(context_seconds, geometry, round_up=True)
    reach = positional_reach(loaded.model) if positional_context else (0, 0)
    windows = plan_windows(num_samples, geometry, chunk_frames, context_frames,
                           positional_frames=reach)
    num_frames = geometry.num_frames(num_samples)

    norm = recording_normalisation(waveform) if loaded.do_normalize else None
    has_group_norm = _first_group_norm(loaded.model) is not None
    patch: contextlib.AbstractContextManager = contextlib.nullcontext()
    if has_group_norm and group_norm == "recording" and len(windows) > 1:
        channel_mean, channel_var = group_norm_statistics(loaded, waveform, norm)
        patch = _fixed_group_norm(loaded.model, channel_mean, channel_var)

    shape = ((num_frames, loaded.hidden_size) if len(layer_indices) == 1
             else (len(layer_indices), num_frames, loaded.hidden_size))
    out = np.empty(shape, dtype=np.float32) if allocate is None else allocate(shape)
    if tuple(out.shape) != shape:
        raise ValueError(f"allocate returned shape {tuple(out.shape)}, expected {shape}")

    with patch, torch.inference_mode():
        for window in windows:
            x = _window_tensor(waveform, window.sample_start, window.sample_stop, norm,
                               loaded.device, loaded.dtype)
            crop = (None if (window.input_start, window.input_stop)
                    == (window.frame_start, window.frame_stop) else window.crop)
            states = hidden_states(loaded.model, x, layer_indices, crop=crop)
            lo, hi = window.offset, window.offset + window.keep_stop - window.keep_start
            for position, state in enumerate(states):
                if state.shape[0] != window.frame_stop - window.frame_start:
                    raise RuntimeError(f"window gave {state.shape[0]} frames, expected "
                                       f"{window.frame_stop - window.frame_start}")
                block = state[lo:hi].float().cpu().numpy()
                if len(layer_indices) == 1:
                    out[window.keep_start:window.keep_stop] = block
                else:
                    out[position, window.keep_start:window.keep_stop] = block
            if progress is not None:
                done = (num_samples if window.keep_stop == num_frames
                        else window.keep_stop * geometry.stride)
                progress(done / geometry.sample_rate)

    metadata = _metadata(loaded, item, geometry, num_samples, num_frames, layer_indices,
                         chunk_seconds, context_seconds, chunk_frames, context_frames, reach,
                         windows, norm, group_norm if has_group_norm else None,
                         time.perf_counter() - started)
    return Result(
        embeddings=out,
        time_axis=geometry.time_axis(num_frames),
        layers=layer_indices,
        sample_rate=geometry.sample_rate,
        frame_stride=geometry.frame_stride_s,
        receptive_field=geometry.receptive_field_s,
        frame_center_offset=geometry.frame_center_offset_s,
        metadata=metadata,
    )


def _metadata(loaded: LoadedModel, item: _Input, geometry: FrameGeometry, num_samples: int,
              num_frames: int, layers: tuple[int, ...], chunk_seconds, context_seconds,
              chunk_frames, context_frames, reach: tuple[int, int], windows: list[Window],
              norm: tuple[float, float] | None, group_norm: str | None,
              wall_time: float) -> dict:
    import transformers

    from . import __version__

    return {
        "model": loaded.name,
        "model_type": loaded.model_type,
        "revision": loaded.revision,
        "commit_hash": loaded.commit_hash,
        "device": str(loaded.device),
        "dtype": dtype_name(loaded.dtype),
        "output_dtype": "float32",
        "layers": list(layers),
        "num_hidden_layers": loaded.num_hidden_layers,
        "hidden_size": loaded.hidden_size,
        "num_frames": num_frames,
        "sample_rate": geometry.sample_rate,
        "frame_stride": geometry.frame_stride_s,
        "receptive_field": geometry.receptive_field_s,
        "frame_center_offset": geometry.frame_center_offset_s,
        "stride_samples": geometry.stride,
        "receptive_field_samples": geometry.receptive_field,
        "chunk_seconds": None if chunk_seconds is None else float(chunk_seconds),
        "context_seconds": float(context_seconds),
        "chunk_frames": chunk_frames,
        "context_frames": context_frames,
        "positional_context_frames": list(reach),
        "num_windows": len(windows),
        "normalisation_mean": None if norm is None else norm[0],
        "normalisation_std": None if norm is None else norm[1],
        "group_norm": group_norm,
        "audio": {
            **item.info,
            "duration": num_samples / geometry.sample_rate,
            "num_samples": num_samples,
            "sample_rate": geometry.sample_rate,
        },
        "versions": {"w2vbackend": __version__, "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "wall_time": wall_time,
    }


__all__ = ["DEFAULT_CHUNK_SECONDS", "DEFAULT_CONTEXT_SECONDS", "Result", "Window", "extract",
           "frames_for_seconds", "group_norm_statistics", "hidden_states", "plan_windows",
           "positional_reach", "recording_normalisation", "resolve_layers"]
