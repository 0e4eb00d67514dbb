"""Chunked, exactly aligned inference: embeddings for every model frame of a whole recording.

Why it is built this way (each point is a way the naive "run 20 s chunks and concatenate" drifts
or degrades):

* **Frames, not seconds, are planned** (:mod:`w2vbackend.windows`): windows start on multiples
  of the total stride and only each window's own block of frames is kept, so no frame is lost or
  repeated at a cut and the time axis never drifts.
* **Context.** Frames of attention context on both sides of a block go through the transformer
  layers and are discarded, so that those layers see real neighbours around every kept frame.
* **Positional reach** (:mod:`w2vbackend.forward`): the feature encoder and positional
  convolution also see the convolution's reach beyond the context, and the sequence is cropped
  before layer 0, so every transformer-layer input equals the full pass's exactly.
* **Whole-recording statistics** (:mod:`w2vbackend.normalisation`): input normalisation and the
  first-layer GroupNorm of group-norm encoders use the whole recording's statistics, as one
  forward pass over the whole recording would.

Finished blocks go to a :class:`~w2vbackend.sink.Sink` (in memory by default, a memory-mapped
``.npy`` in the command-line runner). Hidden-state numbering (``layers``) is transformers'
``output_hidden_states`` numbering; see :func:`w2vbackend.layers.resolve_layers`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from .audio import Audio, AudioInfo, audio_from_array, load_audio
from .defaults import (
    DEFAULT_CAUSAL_CONTEXT_SECONDS,
    DEFAULT_CAUSAL_STEP_SECONDS,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    DEFAULT_MODEL,
)
from .errors import AudioTooShortError, UsageError
from .forward import hidden_states, positional_reach
from .geometry import FrameGeometry
from .layers import resolve_layers
from .model import LoadedModel, ModelInfo, load_model
from .normalisation import (
    first_group_norm,
    fixed_group_norm,
    group_norm_statistics,
    recording_normalisation,
    window_tensor,
)
from .resample import resample, resampler_facts
from .sink import ArraySink, Sink
from .stages import stage
from .windows import frames_for_seconds, plan_causal_windows, plan_windows


@dataclass(frozen=True)
class EngineSettings:
    """How a recording is cut into windows; every value already checked (see
    :func:`w2vbackend.request.engine_settings`).

    ``layers``: requested hidden-state specification (resolved against the model by
    :func:`run_engine`); ``chunk_seconds``: audio whose frames one window keeps (``None``: one
    window); ``context_seconds``: attention context on each side; ``group_norm``: ``"recording"``
    or ``"window"``; ``positional_context``: give the positional convolution its full reach.
    ``causal``: compute each step of ``causal_step_seconds`` from a plain pass over the audio
    that ends with the step's last frame, with ``causal_context_seconds`` of past audio before
    it (:func:`w2vbackend.windows.plan_causal_windows`); normalisation and group-norm statistics
    are then each window's own, and the chunk, context and group-norm settings are not used.
    """

    layers: Any = "last"
    chunk_seconds: Optional[float] = DEFAULT_CHUNK_SECONDS
    context_seconds: float = DEFAULT_CONTEXT_SECONDS
    group_norm: str = "recording"
    positional_context: bool = True
    causal: bool = False
    causal_context_seconds: float = DEFAULT_CAUSAL_CONTEXT_SECONDS
    causal_step_seconds: float = DEFAULT_CAUSAL_STEP_SECONDS


@dataclass(frozen=True)
class RunFacts:
    """How the engine computed a result (recorded in the ``.json``).

    ``chunk_frames``: frames kept per window (``None``: one window); ``context_frames``:
    attention-context frames per side; ``positional_frames``: ``(left, right)`` positional reach;
    ``normalisation``: ``(mean, divisor)`` of the whole recording, or ``None`` when the model
    does not normalise; ``group_norm``: the mode used, or ``None`` for models without a
    first-layer GroupNorm; ``wall_time``: seconds. In causal mode ``causal_frames`` is
    ``(context_frames, step_frames)`` and ``normalisation`` is ``None`` (each window's own).
    """

    settings: EngineSettings
    chunk_frames: Optional[int]
    context_frames: int
    positional_frames: tuple[int, int]
    num_windows: int
    normalisation: Optional[tuple[float, float]]
    group_norm: Optional[str]
    wall_time: float
    causal_frames: Optional[tuple[int, int]] = None


@dataclass
class Result:
    """Embeddings of one recording with their exact time axis.

    ``embeddings``: float32, ``(num_frames, hidden_size)`` for one layer or
    ``(num_layers, num_frames, hidden_size)`` for several (in the order of ``layers``); ``None``
    when a sink other than the in-memory default kept them (e.g. a ``.npy`` file).
    ``layers``: non-negative hidden-state indices (transformers numbering, see
    :func:`w2vbackend.layers.resolve_layers`). ``geometry``: the model's frame geometry.
    ``model``, ``audio``, ``facts``: what the outputs record about the checkpoint, the recording
    and the computation. ``fidelity``: the verify check's figures (see
    :mod:`w2vbackend.fidelity`), or ``None`` when it was not asked for.
    """

    embeddings: Optional[np.ndarray]
    layers: tuple[int, ...]
    num_frames: int
    hidden_size: int
    geometry: FrameGeometry
    model: ModelInfo
    audio: AudioInfo
    facts: RunFacts
    fidelity: Optional[dict] = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``embeddings`` (also when a sink kept them)."""
        if len(self.layers) == 1:
            return (self.num_frames, self.hidden_size)
        return (len(self.layers), self.num_frames, self.hidden_size)

    @property
    def time_axis(self) -> np.ndarray:
        """``(num_frames,)`` float64 seconds: onset of frame k's receptive field,
        ``k * stride / sample_rate``; the frame's audio is ``[t, t + receptive_field)``."""
        return self.geometry.time_axis(self.num_frames)

    @property
    def sample_rate(self) -> int:
        """Model input rate, Hz."""
        return self.geometry.sample_rate

    @property
    def frame_stride(self) -> float:
        """Seconds between frame onsets."""
        return self.geometry.frame_stride_s

    @property
    def receptive_field(self) -> float:
        """Seconds of audio one frame sees."""
        return self.geometry.receptive_field_s

    @property
    def frame_center_offset(self) -> float:
        """Seconds from a frame's onset to the centre of its receptive field."""
        return self.geometry.frame_center_offset_s

    @property
    def metadata(self) -> dict:
        """JSON-serialisable description of the run (the engine's part of the ``.json``)."""
        from .metadata import engine_fields

        return engine_fields(self)


def _as_audio(audio, sample_rate: Optional[int], target_rate: int) -> Audio:
    """A mono :class:`Audio` at the model's rate from a path, an array or an Audio."""
    if isinstance(audio, (str, os.PathLike)):
        return load_audio(audio, target_rate)
    if isinstance(audio, Audio):
        if int(audio.sample_rate) == int(target_rate):
            return audio
        return Audio(waveform=resample(np.asarray(audio.waveform, dtype=np.float32),
                                       int(audio.sample_rate), int(target_rate)),
                     sample_rate=int(target_rate),
                     original_sample_rate=audio.original_sample_rate,
                     original_channels=audio.original_channels,
                     original_num_samples=audio.original_num_samples, path=audio.path,
                     reader=audio.reader, warnings=audio.warnings, decode=audio.decode,
                     resampler=resampler_facts(int(audio.sample_rate), int(target_rate)))
    if sample_rate is None:
        raise UsageError("audio given as an array needs sample_rate (Hz)")
    return audio_from_array(np.asarray(audio), sample_rate, target_rate)


def extract(audio, *, model: str | LoadedModel = DEFAULT_MODEL, sample_rate: Optional[int] = None,
            layers=None, chunk_seconds: Optional[float] = DEFAULT_CHUNK_SECONDS,
            context_seconds: float = DEFAULT_CONTEXT_SECONDS, device: str = "auto",
            dtype: str = "float32", revision: Optional[str] = None,
            group_norm: str = "recording", positional_context: bool = True,
            causal: bool = False, causal_context: float = DEFAULT_CAUSAL_CONTEXT_SECONDS,
            causal_step: float = DEFAULT_CAUSAL_STEP_SECONDS, segments=None,
            verify: bool = False, sink: Optional[Sink] = None,
            progress: Optional[Callable[[float], Any]] = None) -> Result:
    """Embeddings for every frame of a whole recording, computed in windows with context.

    ``audio``: a file path, a ``(samples,)``/``(samples, channels)`` array with ``sample_rate``
    (Hz; ignored for paths), or an :class:`w2vbackend.audio.Audio` (resampled if needed).
    ``model``: hub id / local folder (loaded with ``revision``, ``device``, ``dtype``) or a
    :class:`~w2vbackend.model.LoadedModel` (then those three are ignored).
    ``layers``: ``"last"`` (default), ``"all"``, an index or a list of indices (see
    :func:`w2vbackend.layers.resolve_layers`).
    ``chunk_seconds``: audio whose frames one window keeps (``None``: one window).
    ``context_seconds``: real audio on each side of a window's kept frames that goes through
    the transformer layers and is discarded (the attention context).
    ``positional_context``: when true (default), each window's feature encoder and positional
    convolution also get the convolution's reach of real audio beyond that context (XLS-R,
    wav2vec2, HuBERT, WavLM: 64 + 63 frames, about 1.3 s per side), so that every
    transformer-layer input equals the full pass's exactly. ``False``: plain windows.
    ``group_norm``: ``"recording"`` (first-layer GroupNorm statistics of the whole recording;
    default) or ``"window"`` (each window's own, as a plain forward pass on the window would).
    ``causal``: each step of ``causal_step`` seconds from one pass over the audio that ends with
    the step's last frame, with ``causal_context`` seconds of past audio (see
    :func:`w2vbackend.windows.plan_causal_windows`). ``segments``: a TSV/CSV path, a list of
    ``(onset, offset)`` seconds or of ``{"onset", "offset", "label", "condition"}``; each
    segment is then computed as its own recording and the result is a
    :class:`~w2vbackend.segmented.SegmentedResult` (frames of all segments one after another,
    ``time_axis`` in seconds of the whole recording).
    ``verify``: also compare the frames around one cut with one forward pass over a span
    around it and set ``Result.fidelity`` (costs one extra pass over two chunks; see
    :mod:`w2vbackend.fidelity`).
    ``sink``: where finished blocks go (default: an in-memory array, returned as
    ``Result.embeddings``). ``progress(seconds_done)``: called after each window with the
    cumulative audio seconds done (the last call equals the duration).

    Options are checked by the same rules as the command line's. Raises
    :class:`~w2vbackend.errors.UsageError` for bad options,
    :class:`~w2vbackend.errors.AudioTooShortError` when the recording is shorter than one
    receptive field.
    """
    from .request import VERIFY_ALONE, engine_settings

    settings = engine_settings(layers=layers, chunk_seconds=chunk_seconds,
                               context_seconds=context_seconds, group_norm=group_norm,
                               positional_context=positional_context, causal=causal,
                               causal_context=causal_context, causal_step=causal_step)
    from .segments import parse_segments

    parts = parse_segments(segments)
    if not isinstance(verify, bool):
        raise UsageError(f"verify must be true or false, got {verify!r}")
    if verify and (parts or causal):
        raise UsageError(VERIFY_ALONE)
    loaded = model if isinstance(model, LoadedModel) else load_model(
        model, revision=revision, device=device, dtype=dtype)
    recording = _as_audio(audio, sample_rate, loaded.geometry.sample_rate)
    if parts:
        from .segmented import run_segments

        return run_segments(recording, loaded, settings, parts, sink=sink, progress=progress)
    if verify:
        from .fidelity import run_verified

        return run_verified(recording, loaded, settings, sink=sink, progress=progress)
    return run_engine(recording, loaded, settings, sink=sink, progress=progress)


def run_engine(recording: Audio, loaded: LoadedModel, settings: EngineSettings, *,
               sink: Optional[Sink] = None, progress: Optional[Callable[[float], Any]] = None,
               sha256: Optional[str] = None) -> Result:
    """:func:`extract` for a checked ``settings`` and an :class:`Audio` at the model's rate."""
    started = time.perf_counter()
    geometry = loaded.geometry
    if int(recording.sample_rate) != geometry.sample_rate:
        raise ValueError(f"audio at {recording.sample_rate} Hz for a {geometry.sample_rate} Hz "
                         "model")
    waveform = np.asarray(recording.waveform, dtype=np.float32)
    info = recording.info(sha256)
    num_samples = int(waveform.shape[0])
    if num_samples < geometry.receptive_field:
        raise AudioTooShortError(
            f"{info.label}: audio is {info.duration:.4f} s long ({num_samples} samples at "
            f"{geometry.sample_rate} Hz) but one frame of {loaded.name} needs at least "
            f"{geometry.receptive_field_s:.4f} s ({geometry.receptive_field} samples)")

    layer_indices = resolve_layers(settings.layers, loaded.num_hidden_layers)
    chunk_frames = (None if settings.chunk_seconds is None
                    else max(1, frames_for_seconds(settings.chunk_seconds, geometry,
                                                   round_up=False)))
    context_frames = frames_for_seconds(settings.context_seconds, geometry, round_up=True)
    reach = positional_reach(loaded.model) if settings.positional_context else (0, 0)
    causal_frames = None
    if settings.causal:
        causal_frames = (frames_for_seconds(settings.causal_context_seconds, geometry,
                                            round_up=True),
                         max(1, frames_for_seconds(settings.causal_step_seconds, geometry,
                                                   round_up=False)))
        windows = plan_causal_windows(num_samples, geometry, causal_frames[1], causal_frames[0])
        chunk_frames, context_frames, reach = None, 0, (0, 0)
    else:
        windows = plan_windows(num_samples, geometry, chunk_frames, context_frames,
                               positional_frames=reach)
    num_frames = geometry.num_frames(num_samples)

    has_group_norm = first_group_norm(loaded.model) is not None
    patch: contextlib.AbstractContextManager = contextlib.nullcontext()
    with stage("normalisation"):
        # Causal windows are plain passes: whole-recording statistics would see the future.
        norm = (recording_normalisation(waveform) if loaded.do_normalize and not settings.causal
                else None)
        if (has_group_norm and settings.group_norm == "recording" and len(windows) > 1
                and not settings.causal):
            channel_mean, channel_var = group_norm_statistics(loaded, waveform, norm)
            patch = fixed_group_norm(loaded.model, channel_mean, channel_var)

    sink = sink if sink is not None else ArraySink()
    shape = ((num_frames, loaded.hidden_size) if len(layer_indices) == 1
             else (len(layer_indices), num_frames, loaded.hidden_size))
    with stage("write_npy"):
        sink.begin(shape)
    with patch, torch.inference_mode():
        for window in windows:
            with stage("model"):
                own = (recording_normalisation(waveform[window.sample_start:window.sample_stop])
                       if settings.causal and loaded.do_normalize else norm)
                x = window_tensor(waveform, window.sample_start, window.sample_stop, own,
                                  loaded.device, loaded.dtype)
                crop = (None if (window.input_start, window.input_stop)
                        == (window.frame_start, window.frame_stop) else window.crop)
                states = hidden_states(loaded.model, x, layer_indices, crop=crop)
                lo, hi = window.offset, window.offset + window.keep_stop - window.keep_start
                blocks = [state[lo:hi].float().cpu().numpy() for state in states]
            for position, (state, block) in enumerate(zip(states, blocks)):
                if state.shape[0] != window.frame_stop - window.frame_start:
                    raise RuntimeError(f"window gave {state.shape[0]} frames, expected "
                                       f"{window.frame_stop - window.frame_start}")
                with stage("write_npy"):
                    sink.write(position, window.keep_start, block)
            if progress is not None:
                done = (num_samples if window.keep_stop == num_frames
                        else window.keep_stop * geometry.stride)
                progress(done / geometry.sample_rate)

    facts = RunFacts(settings=settings, chunk_frames=chunk_frames, context_frames=context_frames,
                     positional_frames=reach, num_windows=len(windows), normalisation=norm,
                     group_norm=(None if not has_group_norm else "window" if settings.causal
                                 else settings.group_norm),
                     wall_time=time.perf_counter() - started, causal_frames=causal_frames)
    return Result(embeddings=sink.result(), layers=layer_indices, num_frames=num_frames,
                  hidden_size=loaded.hidden_size, geometry=geometry, model=loaded.info(),
                  audio=info, facts=facts)


__all__ = ["EngineSettings", "Result", "RunFacts", "extract", "run_engine"]
