"""Command line: ``w2v-calibrate AUDIO --model M [options]``.

A thin layer over :func:`w2vbackend.calibrate.calibrate` and
:func:`w2vbackend.calibration_report.write_report`: one recording, one model, a small grid of
chunk x context settings, a report in Markdown and JSON with a PNG figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Optional

from .device import sanitize_thread_env

sanitize_thread_env()

from . import __version__  # noqa: E402
from .calibrate import (  # noqa: E402
    DEFAULT_CHUNKS,
    DEFAULT_CONTEXTS,
    DEFAULT_REFERENCE_SECONDS,
    DEFAULT_TARGET,
)
from .calibration_report import DEFAULT_REPORT_BASENAME  # noqa: E402
from .defaults import DEFAULT_MODEL, DTYPE_NAMES  # noqa: E402
from .errors import UsageError, W2VError, printable  # noqa: E402

PROG = "w2v-calibrate"
EPILOG = """\
For each chunk x context, the recording's excerpt (--reference-seconds from
--start-seconds) is run chunked and compared frame by frame with one forward
pass over the whole excerpt: worst and median cosine, where the worst frame
lies relative to its nearest cut, and the cost relative to the default setting
(model FLOPs per output frame of a long recording). The recommendation is the
cheapest setting whose worst cosine reaches --target. Choose the longest
--reference-seconds whose single pass fits in memory (attention memory grows
with its square; 60 s of XLS-R-53 in float32 needs about 1 GB beyond the model).

outputs (base name B): B.md (report), B.json (the same figures), B.png (per-frame
cosine against the position relative to the nearest cut, per setting).

exit status: 0 report written, 1 failure, 2 usage error.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of seconds: {text!r}") \
            from None


def _grid(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values)


def build_parser() -> _Parser:
    parser = _Parser(prog=PROG, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Which chunk and context a model needs: a chunk x context "
                                 "table against one forward pass, on your own recording.")
    parser.add_argument("audio", metavar="AUDIO", nargs="?", help="one audio file")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="Hugging Face model id or local model folder (default: %(default)s)")
    parser.add_argument("--layers", default="last",
                        help="hidden states to compare, as for w2v-extract (default: last)")
    parser.add_argument("--chunks", type=_numbers, default=DEFAULT_CHUNKS, metavar="S,S,...",
                        help=f"chunk lengths, seconds (default: {_grid(DEFAULT_CHUNKS)})")
    parser.add_argument("--contexts", type=_numbers, default=DEFAULT_CONTEXTS, metavar="S,S,...",
                        help=f"attention contexts, seconds (default: {_grid(DEFAULT_CONTEXTS)})")
    parser.add_argument("--reference-seconds", type=float, default=DEFAULT_REFERENCE_SECONDS,
                        help="length of the excerpt run as one reference pass (default: "
                             "%(default)g)")
    parser.add_argument("--start-seconds", type=float, default=0.0,
                        help="where the excerpt starts in the recording (default: %(default)g)")
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET,
                        help="worst cosine the recommended setting must reach (default: "
                             "%(default)g)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", default="float32", choices=DTYPE_NAMES,
                        help="precision the model runs in (default: %(default)s)")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of a hub model")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--output-dir", default=".", help="folder for the report (default: .)")
    parser.add_argument("--basename", default=DEFAULT_REPORT_BASENAME,
                        help="base name of the report files (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failures")
    parser.add_argument("--summary-json", metavar="FILE",
                        help="also write the outcome (exit code, error, the report's paths) to "
                             "FILE as JSON (how MATLAB's w2v.calibrate reads it)")
    parser.add_argument("--request", metavar="FILE",
                        help="JSON object with these options (keys with '_': audio, model, "
                             "chunks [list], reference_seconds, ...); the command line's take "
                             "precedence")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# Request-file keys and the kind of value each takes.
_REQUEST_KINDS = {"audio": str, "model": str, "layers": (str, int, list), "chunks": list,
                  "contexts": list, "reference_seconds": (int, float),
                  "start_seconds": (int, float), "target": (int, float), "device": str,
                  "dtype": str, "revision": str, "threads": int, "output_dir": str,
                  "basename": str, "quiet": bool, "verbose": bool}


def _read_request(path: str) -> dict:
    """The options in a JSON request file (how MATLAB passes them: as data, never as a shell
    string); ``[]`` or null means "not given"."""
    from .request_file import MAX_REQUEST_BYTES

    shown = printable(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_REQUEST_BYTES + 1)
        data = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_REQUEST_BYTES else None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the request file ({exc.strerror or exc})") \
            from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UsageError(f"{shown}: the request file is not valid JSON") from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown}: the request file must hold a JSON object (at most "
                         f"{MAX_REQUEST_BYTES // 2**20} MiB)")
    values = {}
    for key, value in data.items():
        kind = _REQUEST_KINDS.get(key)
        if kind is None:
            raise UsageError(f"{shown}: unknown key {key!r}; known: {', '.join(_REQUEST_KINDS)}")
        if value is None or (value == [] and key not in ("chunks", "contexts")):
            continue
        if key in ("chunks", "contexts") and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            value = [value]  # MATLAB's jsonencode writes a 1 x 1 array as a number
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise UsageError(f"{shown}: {key} has the wrong type ({type(value).__name__})")
        if key in ("chunks", "contexts"):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise UsageError(f"{shown}: {key} must be a list of seconds")
            value = tuple(float(v) for v in value)
        values[key] = value
    return values


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The options from the command line over those of ``--request`` over the defaults."""
    parser = build_parser()
    defaults = vars(parser.parse_args([]))
    for action in parser._actions:  # only what the command line gives
        action.default = argparse.SUPPRESS
    given = vars(parser.parse_args(argv))
    values = dict(defaults)
    request_file = given.pop("request", None)
    if request_file:
        values.update(_read_request(request_file))
    values.update(given)
    if not values.get("audio"):
        raise UsageError("no audio file given (AUDIO or \"audio\" in --request)")
    values.pop("request", None)
    return argparse.Namespace(**values)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    from .cli import _prescan_summary_path, write_summary

    argv = list(sys.argv[1:] if argv is None else argv)
    outcome: dict = {"report": None, "error": None}
    code = _main(argv, outcome)
    summary = _prescan_summary_path(argv)
    if summary:
        write_summary(summary, {"ok": code == 0, "exit_code": code, **outcome})
    return code


def _main(argv: list, outcome: dict) -> int:
    verbose = "--verbose" in argv
    try:
        try:
            if any(a in ("-h", "--help", "--version") for a in argv):
                build_parser().parse_args(argv)
            args = parse_arguments(argv)
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        return _run(args, outcome)
    except UsageError as exc:
        print(f"usage: {PROG} AUDIO --model M [options]  (see --help)", file=sys.stderr)
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        outcome["error"] = {"code": exc.code, "message": printable(str(exc))}
        return 2
    except W2VError as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        outcome["error"] = {"code": exc.code, "message": printable(str(exc))}
        return 1
    except Exception as exc:
        outcome["error"] = {"code": "backendFailed",
                            "message": f"{type(exc).__name__}: {printable(str(exc))}"}
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {printable(str(exc))}",
              file=sys.stderr)
        if verbose:
            traceback.print_exc()
        return 1


def _run(args: argparse.Namespace, outcome: dict) -> int:
    from .audio import load_audio
    from .calibrate import calibrate
    from .calibration_report import write_report
    from .device import set_threads
    from .model import load_model
    from .names import validate_basename

    validate_basename(args.basename)
    if not args.verbose:
        # transformers' own bars and notices would mix with ours.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    say = (lambda text: None) if args.quiet else (
        lambda text: print(f"{PROG}: {printable(text)}", file=sys.stderr))
    from .request import check_option

    set_threads(None if args.threads is None else check_option("threads", args.threads))
    loaded = load_model(args.model, revision=args.revision, device=args.device, dtype=args.dtype)
    recording = load_audio(args.audio, loaded.geometry.sample_rate)
    cal = calibrate(recording, loaded, layers=args.layers, chunks=args.chunks,
                    contexts=args.contexts, reference_seconds=args.reference_seconds,
                    start_seconds=args.start_seconds, target=args.target, progress=say)
    paths = write_report(cal, args.output_dir, args.basename)
    outcome["report"] = {kind: (str(path) if path else None) for kind, path in paths.items()}
    rec = cal.recommended
    if rec is None:
        print(f"{PROG}: warning: no setting reaches the target {cal.target:g}", file=sys.stderr)
    else:
        say(f"recommended: --chunk-seconds {rec.chunk_seconds:g} --context-seconds "
            f"{rec.context_seconds:g} (worst cosine {rec.worst_cosine:.7f}, "
            f"{rec.relative_cost:.2f}x the default's cost)")
    say(f"wrote {paths['md']}, {paths['json'].name}"
        + (f", {paths['png'].name}" if paths["png"] else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
