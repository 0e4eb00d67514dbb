"""Segments of a recording (trials, blocks) that are each computed as their own recording
(torch-free): reading them from a table or a request, and placing them on the sample grid.

A segment is ``[onset, offset)`` in seconds from the start of the recording, with an optional
``label`` and ``condition``. Sources (all checked by one rule, :func:`parse_segments`):

* a TSV or CSV file with a header row naming the columns ``onset`` and ``offset`` (seconds) and
  optionally ``label`` and ``condition`` (other columns are ignored; names are matched without
  regard to case; ``.tsv``/``.tab``: tab-separated, ``.csv``: comma-separated, otherwise a tab in
  the header means tab-separated);
* a list of ``[onset, offset]`` pairs (MATLAB's ``jsonencode`` of an ``[n x 2]`` matrix; one
  ``[onset, offset]`` pair alone is one segment);
* a list of objects with keys ``onset``, ``offset`` and optionally ``label``/``condition``
  (``jsonencode`` of a MATLAB table or struct array).

Segments must be listed in order of onset and must not overlap (touching is fine). On the model's
sample grid a segment is samples ``[round(onset * rate), round(offset * rate))``: both ends are
rounded to the nearest sample at the model rate. The segment's frames start exactly at its onset
sample, whatever the 320-sample frame grid of the whole recording: frame ``k`` of a segment that
starts at sample ``s`` covers samples ``[s + k*stride, s + k*stride + receptive_field)`` and is
stamped ``(s + k*stride) / rate`` seconds.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .errors import UsageError, printable, shorten

# A segment table larger than this is refused with one line (a typo'd file, not a trial list).
MAX_SEGMENT_FILE_BYTES = 16 * 2**20
MAX_SEGMENTS = 100_000
COLUMNS = ("onset", "offset", "label", "condition")


@dataclass(frozen=True)
class Segment:
    """``[onset, offset)`` seconds from the start of the recording, with optional labels."""

    onset: float
    offset: float
    label: Optional[str] = None
    condition: Optional[str] = None


@dataclass(frozen=True)
class PlacedSegment:
    """A segment on the model's sample grid: samples ``[sample_start, sample_stop)`` of the
    recording, frames ``[frame_start, frame_start + num_frames)`` of the output."""

    index: int
    segment: Segment
    sample_start: int
    sample_stop: int
    frame_start: int
    num_frames: int


def _number(where: str, name: str, value: Any) -> float:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{where}: {name} {shorten(repr(text), 40)} is not a number") \
                from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where}: {name} must be a number of seconds, got "
                         f"{shorten(repr(value), 40)}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"{where}: {name} must be a finite number of seconds >= 0, got "
                         f"{shorten(repr(value), 40)}")
    return number


def _label(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip() if not isinstance(value, float) or math.isfinite(value) else ""
    return text or None


def _segment(where: str, onset: Any, offset: Any, label: Any = None,
             condition: Any = None) -> Segment:
    start, stop = _number(where, "onset", onset), _number(where, "offset", offset)
    if stop <= start:
        raise UsageError(f"{where}: offset {stop:g} s is not after onset {start:g} s")
    return Segment(start, stop, _label(label), _label(condition))


def _from_mapping(where: str, item: Mapping) -> Segment:
    keys = {str(k).strip().lower(): v for k, v in item.items()}
    missing = [c for c in ("onset", "offset") if c not in keys]
    if missing:
        raise UsageError(f"{where}: no {' or '.join(missing)} (a segment needs onset and "
                         "offset in seconds)")
    return _segment(where, keys["onset"], keys["offset"], keys.get("label"),
                    keys.get("condition"))


def read_segment_file(path: str | os.PathLike) -> tuple[Segment, ...]:
    """The segments of a TSV/CSV table (see the module docstring). Raises UsageError with one
    line naming the file, and the row where a row is at fault."""
    shown = printable(os.fspath(path))
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_SEGMENT_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the segments file ({exc.strerror or exc})") \
            from None
    if len(raw) > MAX_SEGMENT_FILE_BYTES:
        raise UsageError(f"{shown}: the segments file is larger than "
                         f"{MAX_SEGMENT_FILE_BYTES // 2**20} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{shown}: the segments file is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UsageError(f"{shown}: the segments file is empty (it needs a header row with "
                         "onset and offset)")
    ext = os.path.splitext(os.fspath(path))[1].lower()
    delimiter = "\t" if ext in (".tsv", ".tab") else "," if ext == ".csv" else (
        "\t" if "\t" in lines[0] else ",")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [name.strip().lower() for name in rows[0]]
    if "onset" not in header or "offset" not in header:
        raise UsageError(f"{shown}: the header row must name the columns onset and offset "
                         f"(seconds), got {shorten(', '.join(rows[0]), 80)!r}")
    column = {name: header.index(name) for name in COLUMNS if name in header}
    segments = []
    for number, row in enumerate(rows[1:], start=2):
        where = f"{shown} line {number}"
        if len(row) < len(header):
            raise UsageError(f"{where}: {len(row)} columns, the header has {len(header)}")
        segments.append(_segment(where, *(row[column[c]] if c in column else None
                                          for c in COLUMNS)))
    return _checked(shown, segments)


def _checked(where: str, segments: Sequence[Segment]) -> tuple[Segment, ...]:
    if not segments:
        raise UsageError(f"{where}: no segments")
    if len(segments) > MAX_SEGMENTS:
        raise UsageError(f"{where}: more than {MAX_SEGMENTS} segments")
    for i in range(1, len(segments)):
        before, this = segments[i - 1], segments[i]
        if this.onset < before.offset:
            raise UsageError(
                f"{where}: segment {i + 1} (onset {this.onset:g} s) starts before segment {i} "
                f"ends ({before.offset:g} s); segments must be in order of onset and must not "
                "overlap")
    return tuple(segments)


def parse_segments(value: Any) -> Optional[tuple[Segment, ...]]:
    """Segments from a file path, a list of ``[onset, offset]`` pairs or a list of objects
    (``None`` or an empty list: no segments). Raises UsageError (one line)."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        if not os.fspath(value).strip():
            raise UsageError("segments must name a TSV or CSV file, or list segments")
        return read_segment_file(os.path.abspath(os.path.expanduser(os.fspath(value))))
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise UsageError(f"segments must be a TSV/CSV file, a list of [onset, offset] pairs or "
                         f"a list of objects, got {shorten(repr(value), 60)}")
    if not value:
        return None
    if len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in value):
        value = [value]  # one [onset, offset] pair, as jsonencode writes a 1 x 2 matrix
    segments = []
    for number, item in enumerate(value, start=1):
        where = f"segments item {number}"
        if isinstance(item, Mapping):
            segments.append(_from_mapping(where, item))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            segments.append(_segment(where, item[0], item[1]))
        else:
            raise UsageError(f"{where}: expected [onset, offset] or an object with onset and "
                             f"offset, got {shorten(repr(item), 60)}")
    return _checked("segments", segments)


def place_segments(segments: Sequence[Segment], sample_rate: int, num_samples: int,
                   receptive_field: int, num_frames, *, label: str = "<array>"
                   ) -> list[PlacedSegment]:
    """The segments on the sample grid of a ``num_samples`` recording at ``sample_rate`` Hz.

    ``num_frames(samples)``: the model's output-length formula. Each end is rounded to the
    nearest sample. Raises UsageError when a segment ends after the recording or is shorter than
    one receptive field (``receptive_field`` samples)."""
    placed, frame_start = [], 0
    duration = num_samples / sample_rate
    for index, segment in enumerate(segments):
        start = round(segment.onset * sample_rate)
        stop = round(segment.offset * sample_rate)
        name = f"{label}: segment {index + 1} ({segment.onset:g} to {segment.offset:g} s)"
        if stop > num_samples:
            raise UsageError(f"{name} ends after the recording ({duration:.6f} s, "
                             f"{num_samples} samples at {sample_rate} Hz)")
        if stop - start < receptive_field:
            raise UsageError(f"{name} is shorter than one frame ({stop - start} samples; one "
                             f"frame needs {receptive_field})")
        frames = int(num_frames(stop - start))
        placed.append(PlacedSegment(index, segment, start, stop, frame_start, frames))
        frame_start += frames
    return placed


def segments_as_json(segments: Optional[Sequence[Segment]]) -> Optional[list[dict[str, Any]]]:
    """The segments as asked for (fingerprint), or None."""
    if segments is None:
        return None
    return [{"onset": s.onset, "offset": s.offset, "label": s.label, "condition": s.condition}
            for s in segments]
