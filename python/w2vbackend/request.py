"""One request model: every option of a run, its default, its check, in one table (torch-free).

The command line (``w2v-extract``), a JSON request file (how MATLAB passes its options) and
Python keyword arguments all go through :func:`make_request` (or :func:`engine_settings` for the
engine's subset), so an option is checked by one rule wherever it comes from, defaults come from
:mod:`w2vbackend.defaults` only, and everything is resolved (absolute paths, the layers' syntax)
before the outputs are fingerprinted. Nothing downstream validates again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Optional

from .defaults import (
    DEFAULT_CAUSAL_CONTEXT_SECONDS,
    DEFAULT_CAUSAL_STEP_SECONDS,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    DEFAULT_MODEL,
    DTYPE_NAMES,
    GROUP_NORM_MODES,
)
from .errors import UsageError, shorten
from .layers import LayersSpec, parse_layers
from .names import DEFAULT_BASENAME, validate_basename
from .retime_options import (
    DEFAULT_EDGE,
    DEFAULT_GRID_START,
    DEFAULT_METHOD,
    EDGE_MODES,
    HELP,
    MAX_TARGET_RATE,
    MAX_TR_SECONDS,
    METHODS,
)
from .segments import Segment, parse_segments

MAT_VERSIONS = ("auto", "5", "7.3")
# Bounds that catch typos and absurd values with one clear line: one-frame windows would run
# ~70x slower, a day-long window cannot fit in memory, and no machine has thousands of cores.
MIN_CHUNK_SECONDS = 0.5
MAX_CHUNK_SECONDS = 86_400.0
MAX_CONTEXT_SECONDS = 3600.0
MAX_THREADS = 1024
VERIFY_ALONE = ("verify checks the cuts of the default chunked run; it cannot be combined with "
                "segments or causal (whose windows are each a plain forward pass)")


@dataclass(frozen=True)
class Option:
    """One option: its request key (also the Python keyword and ``--key-with-dashes``), its
    kind, its default and its help text."""

    name: str
    kind: str  # text | path | choice | seconds | count | flag | layers | paths | positive |
    #            offset | segments
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    nullable: bool = False   # None (JSON null, MATLAB []) means "the default"
    metavar: Optional[str] = None


OPTIONS: tuple[Option, ...] = (
    Option("audio", "paths", (), "audio files (WAV, FLAC, OGG, MP3, AIFF, ...)"),
    Option("model", "text", DEFAULT_MODEL, "Hugging Face model id or local model folder"),
    Option("device", "text", "auto", "auto (MPS, else CUDA, else CPU), cpu, cuda, cuda:N or mps"),
    Option("chunk_seconds", "seconds", DEFAULT_CHUNK_SECONDS,
           f"seconds of audio whose frames one model call keeps ({MIN_CHUNK_SECONDS:g} to "
           f"{MAX_CHUNK_SECONDS:g})"),
    Option("context_seconds", "seconds", DEFAULT_CONTEXT_SECONDS,
           "seconds of real audio on each side of a chunk that go through the transformer layers "
           "and are discarded (attention context, 0 to 3600); the positional convolution's reach "
           "(~1.3 s) is always added", nullable=True),
    Option("output_dir", "path", ".", "folder for the outputs (created if missing)"),
    Option("basename", "text", DEFAULT_BASENAME,
           "base name of the output files; with several inputs each file gets "
           "<file stem>_<basename>"),
    Option("layers", "layers", "last",
           "'last', 'all', or hidden-state indices such as 12 or 6,12,-1 (each layer once)",
           nullable=True),
    Option("dtype", "choice", "float32", "precision the model runs in (outputs are float32)",
           choices=DTYPE_NAMES),
    Option("revision", "text", None, "branch, tag or commit of a hub model (default: the "
           "default branch)", nullable=True),
    Option("threads", "count", None, f"CPU threads for torch, 1 to {MAX_THREADS} (default: "
           "torch's choice)", nullable=True),
    Option("overwrite", "flag", False, "recompute even when the outputs are up to date"),
    Option("mat_version", "choice", "auto",
           "MAT-file format: auto (v5 when small, else v7.3), 5 or 7.3", choices=MAT_VERSIONS),
    Option("group_norm", "choice", "recording",
           "group-norm feature encoders (wav2vec2-base, HuBERT): first-layer statistics of the "
           "whole recording, or of each window", choices=GROUP_NORM_MODES),
    Option("verify", "flag", False, "also run one forward pass over the chunk on each side of "
           "a cut and compare the frames around the cut with it (worst and median cosine, in "
           "the .json 'fidelity' block; a warning when the worst cosine is below 0.999); costs "
           "one extra pass over two chunks"),
    Option("target_rate", "positive", None,
           HELP["target_rate"] + "; also writes B_<rate>Hz.npy/.mat/.json, the features "
           "resampled onto the grid grid_start + j / rate (see below)", nullable=True,
           metavar="HZ"),
    Option("tr", "positive", None, HELP["tr"] + "; instead of --target-rate", nullable=True,
           metavar="SECONDS"),
    Option("grid_start", "offset", DEFAULT_GRID_START,
           HELP["grid_start"] + ", with --target-rate or --tr", nullable=True,
           metavar="SECONDS"),
    Option("method", "choice", DEFAULT_METHOD, HELP["method"] + ", with --target-rate or --tr",
           choices=METHODS, nullable=True),
    Option("edge", "choice", DEFAULT_EDGE, HELP["edge"] + ", with --target-rate or --tr",
           choices=EDGE_MODES, nullable=True),
    Option("cnd", "path", None, HELP["cnd"] + " of the run, in input order (needs "
           "--target-rate or --tr)", nullable=True, metavar="FILE"),
    Option("segments", "segments", None,
           "TSV or CSV table with a header row naming the columns onset and offset (seconds "
           "from the start of the recording) and optionally label and condition; each segment "
           "is computed as its own recording (nothing crosses its edges) and its frames keep "
           "their time in the recording (see 'segments' below)", nullable=True, metavar="FILE"),
    Option("causal", "flag", False,
           "causal features: each step of --causal-step seconds is computed from audio that "
           "ends with the step's last frame, with --causal-context seconds of past audio "
           "(costs about (context + step) / step times the default; see 'causal' below)"),
    Option("causal_context", "seconds", DEFAULT_CAUSAL_CONTEXT_SECONDS,
           "with --causal: seconds of past audio before each step (0 to 3600)",
           nullable=True, metavar="SECONDS"),
    Option("causal_step", "seconds", DEFAULT_CAUSAL_STEP_SECONDS,
           "with --causal: seconds of frames kept per window, rounded to whole frames (at least "
           "one frame, 0.02 s)", nullable=True, metavar="SECONDS"),
    Option("quiet", "flag", False, "no progress bars or progress messages (errors are still "
           "shown)"),
    Option("verbose", "flag", False, "print tracebacks of failures"),
    Option("summary_json", "path", None, "write a machine-readable outcome to FILE",
           nullable=True, metavar="FILE"),
)
OPTION_BY_NAME = {option.name: option for option in OPTIONS}
REQUEST_KEYS = tuple(OPTION_BY_NAME)


@dataclass(frozen=True)
class Request:
    """One run: the inputs and every option, checked and resolved (see ``w2v-extract --help``).

    ``audio``: absolute paths. ``model``: hub id, or a local folder's absolute path. ``layers``:
    ``"last"``, ``"all"`` or a tuple of indices (resolved against the model by the engine).
    ``chunk_seconds``: ``None`` for one window over the whole recording. ``target_rate`` (Hz)
    or ``tr`` (s), at most one: the resampled set to write as well (``None``: none);
    ``cnd``: absolute path of the CND file to write over all inputs, or ``None``.
    ``segments``: ``None`` (the whole recording) or the segments in order of onset.
    """

    @property
    def resample_rate(self) -> Optional[float]:
        """The resampled set's rate in Hz (``1 / tr`` for a TR), or None."""
        return self.target_rate if self.tr is None else 1.0 / self.tr

    audio: tuple[str, ...]
    model: str
    device: str
    chunk_seconds: Optional[float]
    context_seconds: float
    output_dir: str
    basename: str
    layers: LayersSpec
    dtype: str
    revision: Optional[str]
    threads: Optional[int]
    overwrite: bool
    mat_version: str
    group_norm: str
    verify: bool
    target_rate: Optional[float]
    tr: Optional[float]
    grid_start: float
    method: str
    edge: str
    cnd: Optional[str]
    segments: Optional[tuple[Segment, ...]]
    causal: bool
    causal_context: float
    causal_step: float
    quiet: bool
    verbose: bool
    summary_json: Optional[str]


assert tuple(f.name for f in fields(Request)) == REQUEST_KEYS, "OPTIONS and Request disagree"


def _what(value: Any) -> str:
    return shorten(repr(value), 80)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number, got {_what(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise UsageError(f"{name} {_what(value)} is out of range") from None
    if math.isnan(number):
        raise UsageError(f"{name} must be a number, got {_what(value)}")
    return number


def _text(name: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{name} must be text, got {_what(value)}")
    if "\x00" in value:
        raise UsageError(f"{name} {_what(value)} contains a NUL character")
    if not empty_ok and not value.strip():
        raise UsageError(f"{name} must not be empty")
    return value


def check_option(name: str, value: Any) -> Any:
    """``value`` of option ``name``, checked and normalised; ``None`` of a nullable option is the
    default. Raises :class:`UsageError` (one line naming the option) otherwise."""
    option = OPTION_BY_NAME.get(name)
    if option is None:
        raise UsageError(f"unknown option {_what(name)}; known: {', '.join(REQUEST_KEYS)}")
    if value is None or (isinstance(value, list) and not value and option.nullable):
        if option.nullable or option.default is None:
            return option.default
        raise UsageError(f"{name} must be given (got null)")
    kind = option.kind
    if kind == "paths":
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(items, (list, tuple)) or not items:
            raise UsageError("audio must be a path or a list of paths")
        return tuple(os.path.abspath(_text("audio path", os.fspath(v) if isinstance(
            v, os.PathLike) else v)) for v in items)
    if kind in ("text", "path"):
        text = _text(name, os.fspath(value) if isinstance(value, os.PathLike) else value)
        return text
    if kind == "choice":
        text = str(value).strip().lower() if isinstance(value, (str, int, float)) and not \
            isinstance(value, bool) else None
        if name == "mat_version" and text is not None:
            text = _MAT_ALIASES.get(text)
        if text not in option.choices:
            raise UsageError(f"{name} {_what(value)} is not one of {', '.join(option.choices)}")
        return text
    if kind == "seconds":
        number = _number(name, value)
        if name == "chunk_seconds":
            if math.isinf(number) and number > 0:
                return None  # one window over the whole recording
            if not MIN_CHUNK_SECONDS <= number <= MAX_CHUNK_SECONDS:
                raise UsageError(f"chunk_seconds must lie in {MIN_CHUNK_SECONDS:g} to "
                                 f"{MAX_CHUNK_SECONDS:g} seconds, got {_what(value)}")
            return number
        if name == "causal_step" and not 0.0 < number <= MAX_CONTEXT_SECONDS:
            raise UsageError(f"causal_step must lie above 0 and at most "
                             f"{MAX_CONTEXT_SECONDS:g} seconds, got {_what(value)}")
        if not 0.0 <= number <= MAX_CONTEXT_SECONDS:
            raise UsageError(f"{name} must lie in 0 to {MAX_CONTEXT_SECONDS:g} seconds, got "
                             f"{_what(value)}")
        return number
    if kind == "positive":
        number = _number(name, value)
        bound = MAX_TARGET_RATE if name == "target_rate" else MAX_TR_SECONDS
        unit = "Hz" if name == "target_rate" else "seconds"
        if not 0.0 < number <= bound:
            raise UsageError(f"{name} must be above 0 and at most {bound:g} {unit}, got "
                             f"{_what(value)}")
        return number
    if kind == "offset":
        number = _number(name, value)
        if not abs(number) <= MAX_TR_SECONDS:
            raise UsageError(f"{name} must lie in -{MAX_TR_SECONDS:g} to {MAX_TR_SECONDS:g} "
                             f"seconds, got {_what(value)}")
        return number
    if kind == "count":
        number = _number(name, value)
        if not number.is_integer() or not 1 <= number <= MAX_THREADS:
            raise UsageError(f"{name} must be a whole number from 1 to {MAX_THREADS}, got "
                             f"{_what(value)}")
        return int(number)
    if kind == "flag":
        if not isinstance(value, bool):
            raise UsageError(f"{name} must be true or false, got {_what(value)}")
        return value
    if kind == "layers":
        return parse_layers(value)
    if kind == "segments":
        return parse_segments(value)
    raise AssertionError(f"option kind {kind}")  # pragma: no cover


_MAT_ALIASES = {"5": "5", "5.0": "5", "v5": "5", "7": "5", "7.0": "5", "v7": "5",
                "7.3": "7.3", "v7.3": "7.3", "auto": "auto"}


def make_request(values: Mapping[str, Any], *, require_audio: bool = True) -> Request:
    """A checked, resolved :class:`Request` from option values (missing ones: defaults);
    ``require_audio=False`` allows a request without inputs (collecting a job array).

    Paths are made absolute (the audio, the output folder, and a local model folder, which is
    recorded by its path in the outputs and the fingerprint); the base name is checked.
    """
    unknown = sorted(set(values) - set(REQUEST_KEYS))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(shorten(u, 40) for u in unknown)}; "
                         f"known: {', '.join(REQUEST_KEYS)}")
    if not values.get("audio") and require_audio:
        raise UsageError("no audio files given")
    checked = {name: (check_option(name, values[name]) if name in values
                      else OPTION_BY_NAME[name].default) for name in REQUEST_KEYS}
    local = os.path.expanduser(checked["model"])
    if os.path.isdir(local):
        checked["model"] = os.path.abspath(local)
    checked["output_dir"] = os.path.abspath(checked["output_dir"])
    validate_basename(checked["basename"])
    _check_resampling(values, checked)
    if checked["verify"] and (checked["segments"] or checked["causal"]):
        raise UsageError(VERIFY_ALONE)
    return Request(**checked)


def _check_resampling(values: Mapping[str, Any], checked: dict[str, Any]) -> None:
    """The resampling options need a target; a target is a rate or a TR, not both."""
    if checked["target_rate"] is not None and checked["tr"] is not None:
        raise UsageError("give target_rate (Hz) or tr (s), not both")
    if checked["target_rate"] is None and checked["tr"] is None:
        given = [name for name in ("grid_start", "method", "edge", "cnd")
                 if values.get(name) is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise UsageError(f"{', '.join(given)} {verb} to resampled features; give "
                             "target_rate (Hz) or tr (s) as well")
    if checked["cnd"] is not None:
        checked["cnd"] = os.path.abspath(os.path.expanduser(checked["cnd"]))


def engine_settings(*, layers: Any = None, chunk_seconds: Any = DEFAULT_CHUNK_SECONDS,
                    context_seconds: Any = DEFAULT_CONTEXT_SECONDS,
                    group_norm: Any = "recording", positional_context: bool = True,
                    causal: Any = False, causal_context: Any = DEFAULT_CAUSAL_CONTEXT_SECONDS,
                    causal_step: Any = DEFAULT_CAUSAL_STEP_SECONDS):
    """The engine's options checked by the same rules as a request's (``chunk_seconds=None``:
    one window)."""
    from .engine import EngineSettings

    if layers is None:
        layers = OPTION_BY_NAME["layers"].default
    if not isinstance(positional_context, bool):
        raise UsageError(f"positional_context must be true or false, got "
                         f"{_what(positional_context)}")
    return EngineSettings(
        layers=check_option("layers", layers),
        chunk_seconds=(None if chunk_seconds is None
                       else check_option("chunk_seconds", chunk_seconds)),
        context_seconds=check_option("context_seconds", context_seconds),
        group_norm=check_option("group_norm", group_norm),
        positional_context=positional_context,
        causal=check_option("causal", causal),
        causal_context_seconds=check_option("causal_context", causal_context),
        causal_step_seconds=check_option("causal_step", causal_step))


def settings_of(request: Request):
    """The engine's part of a request."""
    from .engine import EngineSettings

    return EngineSettings(layers=request.layers, chunk_seconds=request.chunk_seconds,
                          context_seconds=request.context_seconds,
                          group_norm=request.group_norm, causal=request.causal,
                          causal_context_seconds=request.causal_context,
                          causal_step_seconds=request.causal_step)
