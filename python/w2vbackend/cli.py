"""Command line: ``w2v-extract AUDIO... [options]``, also ``python -m w2vbackend``.

A thin layer over :func:`w2vbackend.runner.run`: options (or a JSON request file) become a
:class:`~w2vbackend.runner.Request`; the outcome becomes one line per failed file on stderr, a
summary, an optional summary JSON file, and the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any, Optional

from .device import sanitize_thread_env

# Before numpy or torch load their thread pools: MATLAB can leave MKL_NUM_THREADS/OMP_NUM_THREADS
# set to values those libraries choke on, and they read them once, at load time.
sanitize_thread_env()

from . import __version__, cluster_options  # noqa: E402
from .errors import UsageError, W2VError  # noqa: E402
from .writers import DEFAULT_BASENAME, MAT_VERSIONS  # noqa: E402

PROG = "w2v-extract"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# Killed by a signal: 128 + the signal number, as shells report it (130 for SIGINT/Ctrl-C,
# 143 for SIGTERM, 129 for SIGHUP).
EXIT_SIGNAL_BASE = 128

EPILOG = f"""\
outputs (base name B, default {DEFAULT_BASENAME}; with several inputs each file
gets <file stem>_B):
  B.npy         float32 embeddings, (num_frames, hidden_size) for one layer,
                (num_layers, num_frames, hidden_size) for several
  B.mat         embeddings [frames x hidden (x layers)] single, time_axis [frames x 1]
                (s), model_name, sample_rate, frame_stride, layers [1 x L],
                receptive_field, frame_center_offset; MAT v5 up to 128 MiB of
                embeddings, else v7.3 (--mat-version)
  B.json        metadata, sparse time axis, fingerprint
  B.mat.failed  only when no MAT-file could be written (holds the reason)
Files are written under temporary names and renamed into place when complete.
A rerun with the same audio content, model and parameters skips the file
("up to date") unless --overwrite.

layers (transformers' output_hidden_states numbering): 0 = transformer input,
L = last_hidden_state of a model with L layers; negative indices count from
the end; 'all' = 0..L. Default 'last' (last_hidden_state).

exit status:
  0    every input written or up to date
  1    at least one input failed (one line per failure on stderr)
  2    usage error (bad option, unsafe base name, duplicate outputs)
  130  interrupted (SIGINT / Ctrl-C); 143 terminated (SIGTERM)
Temporary files are removed on interruption; earlier outputs are never damaged.

--request FILE reads the options from a JSON object whose keys are the long
option names with '_' (chunk_seconds, output_dir, ...) plus "audio" (a path
or a list of paths); options given on the command line take precedence.
"""

# Keys whose value may be null (or MATLAB's empty array) for "use the default".
_NULLABLE_KEYS = ("revision", "summary_json", "context_seconds", "threads", "layers")
REQUEST_KEYS = ("audio", "output_dir", "basename", "model", "device", "chunk_seconds",
                "context_seconds", "layers", "dtype", "revision", "overwrite", "mat_version",
                "threads", "quiet", "verbose", "summary_json", "group_norm")


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) received: unwinds like KeyboardInterrupt so that cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option; the epilog's layout kept as written."""


# Appended to help texts that state their default in words: formats to nothing, and its presence
# stops argparse from adding "(default: None)".
_NO_DEFAULT = "%(default).0s"


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so the summary JSON is written."""

    def error(self, message: str):
        raise UsageError(message)


def build_parser(*, suppress_defaults: bool = False) -> _Parser:
    """The option parser. ``suppress_defaults`` gives a parser whose namespace holds only the
    options actually given (used to let them override a --request file)."""
    from .defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS, DEFAULT_MODEL
    from .runner import DTYPES, GROUP_NORM_MODES

    parser = _Parser(
        prog=PROG,
        description="Embeddings of every frame of whole recordings from wav2vec2-family\n"
                    "models (wav2vec2, XLS-R, HuBERT, WavLM), with an exact time axis.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        argument_default=argparse.SUPPRESS if suppress_defaults else None,
    )

    def default(value):
        return argparse.SUPPRESS if suppress_defaults else value

    parser.add_argument("audio", nargs="*", metavar="AUDIO",
                        help="audio files (WAV, FLAC, OGG, MP3, AIFF, ...)" + _NO_DEFAULT)
    parser.add_argument("--model", default=default(DEFAULT_MODEL),
                        help="Hugging Face model id or local model folder")
    parser.add_argument("--device", default=default("auto"),
                        help="auto (MPS, else CUDA, else CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--chunk-seconds", type=float, default=default(DEFAULT_CHUNK_SECONDS),
                        help="seconds of audio whose frames one model call keeps")
    parser.add_argument("--context-seconds", type=float,
                        default=default(DEFAULT_CONTEXT_SECONDS),
                        help="seconds of real audio on each side of a chunk that go through the "
                             "transformer layers and are discarded (attention context); the "
                             "positional convolution's reach (~1.3 s) is always added")
    parser.add_argument("--output-dir", default=default("."),
                        help="folder for the outputs (created if missing)")
    parser.add_argument("--basename", default=default(DEFAULT_BASENAME),
                        help="base name of the output files; with several inputs each file "
                             "gets <file stem>_<basename>")
    parser.add_argument("--layers", default=default("last"),
                        help="'last', 'all', or hidden-state indices such as 12 or 6,12,-1")
    parser.add_argument("--dtype", choices=DTYPES, default=default("float32"),
                        help="precision the model runs in (outputs are float32)")
    parser.add_argument("--revision", default=default(None),
                        help="branch, tag or commit of a hub model (default: the default "
                             "branch)" + _NO_DEFAULT)
    parser.add_argument("--threads", type=int, default=default(None),
                        help="CPU threads for torch (default: torch's choice)" + _NO_DEFAULT)
    parser.add_argument("--overwrite", action="store_true", default=default(False),
                        help="recompute even when the outputs are up to date" + _NO_DEFAULT)
    parser.add_argument("--mat-version", choices=MAT_VERSIONS, default=default("auto"),
                        help="MAT-file format: auto (v5 when small, else v7.3), 5 or 7.3")
    parser.add_argument("--group-norm", choices=GROUP_NORM_MODES, default=default("recording"),
                        help="group-norm feature encoders (wav2vec2-base, HuBERT): first-layer "
                             "statistics of the whole recording, or of each window")
    parser.add_argument("--quiet", action="store_true", default=default(False),
                        help="no progress bars or progress messages (errors are still shown)"
                             + _NO_DEFAULT)
    parser.add_argument("--verbose", action="store_true", default=default(False),
                        help="print tracebacks of failures" + _NO_DEFAULT)
    parser.add_argument("--request", metavar="FILE", default=default(None),
                        help="JSON file with the options (see below)" + _NO_DEFAULT)
    parser.add_argument("--summary-json", metavar="FILE", default=default(None),
                        help="write a machine-readable outcome to FILE" + _NO_DEFAULT)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    cluster_options.add_arguments(parser, default)
    return parser


# --------------------------------------------------------------------------------------------
# Request file


def _expect(key: str, value: Any, kinds: tuple, what: str) -> Any:
    if isinstance(value, bool) and bool not in kinds:
        raise UsageError(f"request: {key} must be {what}, got {value!r}")
    if not isinstance(value, kinds):
        raise UsageError(f"request: {key} must be {what}, got {value!r}")
    return value


def _request_value(key: str, value: Any) -> Any:
    """Check and convert one value of a request file (as MATLAB's jsonencode writes it: an
    empty MATLAB array ``[]`` arrives as ``[]`` and means "not given" for optional values)."""
    if value == [] and key in _NULLABLE_KEYS:
        value = None
    if key == "audio":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            raise UsageError("request: audio must be a path or a list of paths")
        return items
    if key in ("output_dir", "basename", "model", "device", "dtype", "group_norm"):
        return _expect(key, value, (str,), "a string")
    if key in ("revision", "summary_json"):
        if value is None or value == "":
            return None
        return _expect(key, value, (str,), "a string or null")
    if key in ("chunk_seconds", "context_seconds"):
        if value is None and key == "context_seconds":
            return None
        return float(_expect(key, value, (int, float), "a number"))
    if key == "threads":
        if value is None:
            return None
        number = _expect(key, value, (int, float), "a positive integer or null")
        if not math.isfinite(number) or float(number) != int(number):
            raise UsageError(f"request: threads must be a positive integer, got {value!r}")
        return int(number)
    if key in ("overwrite", "quiet", "verbose"):
        return _expect(key, value, (bool,), "true or false")
    if key == "mat_version":
        return str(_expect(key, value, (str, int, float), '"auto", "5" or "7.3"'))
    if key == "layers":
        if value is None:
            return None
        if isinstance(value, list):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and float(v).is_integer() for v in value):
                raise UsageError(f"request: layers must be indices, got {value!r}")
            return [int(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _expect(key, value, (str, int), '"last", "all", an index or a list')
    raise UsageError(f"request: unknown key {key!r}")  # pragma: no cover


def read_request_file(path: str) -> dict[str, Any]:
    """The options in a JSON request file, checked. Unknown keys are a usage error."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the request file ({exc.strerror or exc})") \
            from None
    except ValueError as exc:
        raise UsageError(f"{path}: the request file is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the request file must hold a JSON object")
    unknown = sorted(set(data) - set(REQUEST_KEYS) - set(cluster_options.KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key(s) in the request file: {', '.join(unknown)}; "
                         f"known: {', '.join(REQUEST_KEYS)}")
    return {key: value if key in cluster_options.KEYS else _request_value(key, value)
            for key, value in data.items()}


def parse_request(argv: Sequence[str]):
    """A :class:`~w2vbackend.runner.Request` from command-line arguments (and --request)."""
    return parse_command(argv)[0]


def parse_command(argv: Sequence[str]):
    """(Request, :class:`~w2vbackend.cluster_options.ClusterOptions`) from the arguments."""
    from .runner import Request

    namespace = vars(build_parser().parse_args(argv))
    given = vars(build_parser(suppress_defaults=True).parse_args(argv))
    request_file = namespace.pop("request")
    if request_file:
        from_file = read_request_file(request_file)
        if "audio" in from_file and namespace["audio"]:
            raise UsageError("audio files given both on the command line and in the request "
                             "file; give them in one place")
        for key, value in from_file.items():
            if key not in given or (key == "audio" and not namespace["audio"]):
                namespace[key] = value
    options = cluster_options.take_options(namespace)
    if not namespace["audio"] and options.wait is None:
        raise UsageError("no audio files given (AUDIO... or \"audio\" in --request)")
    return Request(**namespace), options


# --------------------------------------------------------------------------------------------
# Signals, summary, main


_terminating = False


def _on_terminate(signum, frame) -> None:
    global _terminating
    if _terminating:  # already unwinding: let the cleanup finish
        return
    _terminating = True
    raise Terminated(signum)


def _install_signal_handlers() -> dict[int, Any]:
    """SIGTERM and SIGHUP raise :class:`Terminated` (SIGINT already raises KeyboardInterrupt),
    so that ``finally`` blocks remove temporary files before the process exits."""
    global _terminating
    _terminating = False
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            current = signal.getsignal(number)
            if current is signal.SIG_IGN:  # e.g. started under nohup: keep ignoring
                continue
            previous[number] = signal.signal(number, _on_terminate)
        except (ValueError, OSError):  # not the main thread
            pass
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(number, handler)


def _prescan_summary_path(argv: Sequence[str]) -> Optional[str]:
    """--summary-json's value even when the rest of the command line does not parse."""
    for i, arg in enumerate(argv):
        if arg == "--summary-json" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--summary-json="):
            return arg.split("=", 1)[1]
    return None


def write_summary(path: str, document: dict[str, Any]) -> None:
    """Write the summary JSON atomically (temporary file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(temp, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2)
            stream.write("\n")
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        print(f"{PROG}: error: {path}: cannot write the summary ({exc.strerror or exc})",
              file=sys.stderr)


def _print_summary(outcomes, reporter, quiet: bool) -> None:
    from .runner import STATUS_FAILED, STATUS_UP_TO_DATE, STATUS_WRITTEN, _with_file

    failed = [o for o in outcomes if o.status == STATUS_FAILED]
    if quiet and not failed:
        return
    counts = {s: sum(o.status == s for o in outcomes)
              for s in (STATUS_WRITTEN, STATUS_UP_TO_DATE, STATUS_FAILED)}
    noun = "file" if len(outcomes) == 1 else "files"
    print(f"{PROG}: {len(outcomes)} {noun}: {counts[STATUS_WRITTEN]} written, "
          f"{counts[STATUS_UP_TO_DATE]} up to date, {counts[STATUS_FAILED]} failed",
          file=sys.stderr)
    for outcome in failed:
        message = (outcome.error or {}).get("message", "not processed")
        print(f"  failed: {_with_file(outcome.audio, message)}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    # Again, for callers that changed the environment after importing this module.
    sanitize_thread_env()
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = _install_signal_handlers()
    summary_path = _prescan_summary_path(argv)
    outcomes: list = []
    error: Optional[dict[str, str]] = None
    verbose = "--verbose" in argv
    try:
        try:
            if any(a in ("-h", "--help") for a in argv):
                build_parser().parse_args(argv)
            request, options = parse_command(argv)
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        summary_path = request.summary_json or summary_path
        verbose = request.verbose
        code = _run(request, outcomes, options)
    except UsageError as exc:
        error = {"code": exc.code, "message": str(exc)}
        print(f"usage: {PROG} AUDIO... [options]  (see --help)", file=sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        code, error = _interrupted(signal.SIGINT, outcomes)
    except Terminated as exc:
        code, error = _interrupted(exc.signum, outcomes)
    except W2VError as exc:  # pragma: no cover - the runner reports these per file
        error = {"code": exc.code, "message": str(exc)}
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        code = EXIT_FAILED
    except Exception as exc:
        error = {"code": "backendFailed", "message": f"{type(exc).__name__}: {exc}"}
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if verbose:
            traceback.print_exc()
        code = EXIT_FAILED
    finally:
        _restore_signal_handlers(previous)
    if summary_path:
        from .runner import summary_document

        write_summary(summary_path, summary_document(outcomes, code, error))
    return code


def _run(request, outcomes: list, options=None) -> int:
    from .runner import Reporter, exit_code_for, run

    reporter = Reporter(quiet=request.quiet, verbose=request.verbose)
    if options is not None and (options.submits or options.shard is not None):
        from . import cluster

        found, code = cluster.run_request(request, options, reporter)
        outcomes.extend(found)
        if not cluster.unfinished(found):
            _print_summary(outcomes, reporter, request.quiet)
        return code
    run(request, reporter, into=outcomes)
    _print_summary(outcomes, reporter, request.quiet)
    return exit_code_for(outcomes)


def _interrupted(signum: int, outcomes: list) -> tuple[int, dict[str, str]]:
    name = signal.Signals(signum).name
    message = f"interrupted by {name}; temporary files removed, earlier outputs kept"
    for outcome in outcomes:
        if outcome.status == "failed" and outcome.error is None:
            outcome.fail("interrupted", f"interrupted by {name} before this file was finished")
    print(f"{PROG}: {message}", file=sys.stderr)
    return EXIT_SIGNAL_BASE + int(signum), {"code": "interrupted", "message": message}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
