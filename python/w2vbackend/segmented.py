"""Segments computed as recordings of their own, stamped with the time of the whole recording.

Each segment's samples (:func:`w2vbackend.segments.place_segments`) go through
:func:`w2vbackend.engine.run_engine` as an :class:`~w2vbackend.audio.Audio` of their own, so no
attention context, input normalisation or group-norm statistics cross a segment's edges. The
frames of all segments are stored one after another, in segment order, in one output: segment
``i`` holds output frames ``[frame_start_i, frame_start_i + num_frames_i)``, and its frame ``k``
is stamped ``(sample_start_i + k * stride) / rate`` seconds of the whole recording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from .audio import Audio
from .engine import EngineSettings, Result, RunFacts, run_engine
from .layers import resolve_layers
from .model import LoadedModel
from .segments import PlacedSegment, Segment, place_segments
from .sink import ArraySink, Sink


class _OffsetSink:
    """Hands a segment's frames to the whole output's sink, shifted to the segment's place."""

    def __init__(self, sink: Sink, offset: int):
        self.sink, self.offset = sink, offset

    def begin(self, shape: tuple[int, ...]) -> None:
        pass

    def write(self, position: int, start: int, block: np.ndarray) -> None:
        self.sink.write(position, start + self.offset, block)

    def result(self) -> None:
        return None


@dataclasses.dataclass
class SegmentedResult(Result):
    """A :class:`~w2vbackend.engine.Result` whose frames are those of its segments, one after
    another. ``segments``: where each segment lies; ``segment_facts``: how each was computed
    (its normalisation, windows, time)."""

    segments: tuple[PlacedSegment, ...] = ()
    segment_facts: tuple[RunFacts, ...] = ()

    @property
    def time_axis(self) -> np.ndarray:
        """``(num_frames,)`` float64 seconds of the whole recording: frame ``k`` of a segment
        starting at sample ``s`` is at ``(s + k * stride) / rate``."""
        samples = np.concatenate([
            placed.sample_start + np.arange(placed.num_frames, dtype=np.int64)
            * self.geometry.stride for placed in self.segments])
        return samples / float(self.geometry.sample_rate)


def run_segments(recording: Audio, loaded: LoadedModel, settings: EngineSettings,
                 segments: Sequence[Segment], *, sink: Optional[Sink] = None,
                 progress: Optional[Callable[[float], Any]] = None,
                 sha256: Optional[str] = None) -> SegmentedResult:
    """Embeddings of each segment of ``recording`` (at the model's rate), each computed as its
    own recording with ``settings``. Raises UsageError when a segment ends after the recording
    or is shorter than one frame."""
    geometry = loaded.geometry
    waveform = np.asarray(recording.waveform, dtype=np.float32)
    info = recording.info(sha256)
    placed = place_segments(segments, geometry.sample_rate, int(waveform.shape[0]),
                            geometry.receptive_field, geometry.num_frames, label=info.label)
    layer_indices = resolve_layers(settings.layers, loaded.num_hidden_layers)
    total = sum(p.num_frames for p in placed)
    sink = sink if sink is not None else ArraySink()
    sink.begin((total, loaded.hidden_size) if len(layer_indices) == 1
               else (len(layer_indices), total, loaded.hidden_size))
    facts, done = [], 0.0
    for item in placed:
        piece = dataclasses.replace(recording,
                                    waveform=waveform[item.sample_start:item.sample_stop])
        base = done
        part = run_engine(piece, loaded, settings, sink=_OffsetSink(sink, item.frame_start),
                          progress=(None if progress is None
                                    else lambda s, base=base: progress(base + s)))
        if part.num_frames != item.num_frames:  # pragma: no cover - the same formula
            raise RuntimeError(f"segment gave {part.num_frames} frames, expected "
                               f"{item.num_frames}")
        facts.append(part.facts)
        done += piece.duration
    first = facts[0]
    combined = RunFacts(settings=settings, chunk_frames=first.chunk_frames,
                        context_frames=first.context_frames,
                        positional_frames=first.positional_frames,
                        num_windows=sum(f.num_windows for f in facts), normalisation=None,
                        group_norm=first.group_norm,
                        wall_time=sum(f.wall_time for f in facts),
                        causal_frames=first.causal_frames)
    return SegmentedResult(embeddings=sink.result(), layers=layer_indices, num_frames=total,
                           hidden_size=loaded.hidden_size, geometry=geometry,
                           model=loaded.info(), audio=info, facts=combined,
                           segments=tuple(placed), segment_facts=tuple(facts))
