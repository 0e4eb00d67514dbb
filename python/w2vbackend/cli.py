"""Command line: ``w2v-extract AUDIO... [options]``, also ``python -m w2vbackend``.

A thin layer over :func:`w2vbackend.runner.run`: options (or a JSON request file) become a
:class:`~w2vbackend.runner.Request`; the outcome becomes one line per failed file on stderr, a
summary, an optional summary JSON file, and the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from .errors import UsageError, W2VError, printable, shorten  # noqa: E402
from .names import DEFAULT_BASENAME  # noqa: E402

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
  B_<rate>Hz.*  with --target-rate or --tr: the features resampled (anti-aliased,
                frame centres) onto grid-start + j / rate s for the samples in
                [grid-start, duration): .npy (float32, layout as B.npy), .mat
                (mTRF-Toolbox: stim [time x dims] single, or {{1 x layers}}; t, fs)
                and .json (resampling spec); recorded under outputs.resampled
                in B.json. RATE as %g with . -> p (a 2 s TR: B_0p5Hz). A changed
                target writes only the new set. The same as
                python -m w2vbackend.retime B --target-rate RATE.
Files are written under temporary names and renamed into place when complete.
A rerun with the same audio content, model and parameters skips the file
("up to date") unless --overwrite. --cnd is written on every run.

layers (transformers' output_hidden_states numbering): 0 = transformer input,
L = last_hidden_state of a model with L layers; negative indices count from
the end; 'all' = 0..L. Default 'last' (last_hidden_state).

segments (--segments FILE): a TSV or CSV table (tab- or comma-separated by
its .tsv/.csv extension), one row per segment, header row first, e.g.
    onset,offset,label,condition
    0.0,12.5,story1,attended
    14.0,26.25,story2,ignored
onset and offset are seconds from the start of the recording (label and
condition optional, other columns ignored); segments must be in order of
onset and must not overlap. Each is rounded to the nearest sample at the
model rate and computed as a recording of its own: no attention context,
normalisation or group-norm statistics cross its edges. Its frames start at
its onset sample s: frame k covers samples [s + k*320, s + k*320 + 400) and is
stamped (s + k*320)/16000 s of the recording (not the recording's 20 ms grid).
The frames of all segments are stored one after another in B.npy/B.mat;
B.json "segments" gives each one's frame_start (0-based) and num_frames,
B.mat segment_frames [n x 2] (1-based first and last frame) and segment_times
[n x 2] (s). With several inputs the same segments apply to each. A segment
that ends after a recording or is shorter than one frame is a usage error.
In a --request file "segments" may also be a list of [onset, offset] pairs
or of objects {{"onset": .., "offset": .., "label": ..}}.

causal (--causal): frames are computed in steps of --causal-step seconds
(default 0.1); each step comes from one plain pass over the audio from
--causal-context seconds (default 8) before the step to the end of the
receptive field of the step's last frame, and only the step's frames are
kept. No frame sees audio beyond its step's last frame (with a 0.02 s step:
nothing beyond its own receptive field). Normalisation and group-norm
statistics are each window's own. Same frames and time axis as the default;
costs about (context + step) / step times as much (81x for 8 s / 0.1 s).
Combines with --segments (causal within each segment) and --layers.

exit status:
  0    every input written or up to date
  1    at least one input failed (one line per failure on stderr)
  2    usage error (bad option, unsafe base name, duplicate outputs, bad or
       out-of-range segments)
  130  interrupted (SIGINT / Ctrl-C); 143 terminated (SIGTERM)
Temporary files are removed on interruption; earlier outputs are never damaged.

--request FILE reads the options from a JSON object whose keys are the long
option names with '_' (chunk_seconds, output_dir, ...) plus "audio" (a path
or a list of paths); options given on the command line take precedence.
"""

class Terminated(BaseException):
    """SIGTERM (or SIGHUP) received: unwinds like KeyboardInterrupt so that cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The epilog's layout kept as written."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so the summary JSON is written."""

    def error(self, message: str):
        raise UsageError(message)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> _Parser:
    """The option parser, made from :data:`w2vbackend.request.OPTIONS`. Its namespace holds only
    the options actually given (the request's defaults fill the rest), so that a ``--request``
    file supplies what the command line leaves out."""
    from .request import OPTIONS

    parser = _Parser(
        prog=PROG,
        description="Embeddings of every frame of whole recordings from wav2vec2-family\n"
                    "models (wav2vec2, XLS-R, HuBERT, WavLM), with an exact time axis.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    for option in OPTIONS:
        shown = "" if option.default is None or option.kind == "flag" else \
            f" (default: {option.default})"
        if option.kind == "paths":
            parser.add_argument("audio", nargs="*", metavar="AUDIO", help=option.help)
        elif option.kind == "flag":
            parser.add_argument(_flag(option.name), action="store_true", help=option.help)
        elif option.kind in ("seconds", "count", "positive", "offset"):
            parser.add_argument(_flag(option.name), type=_cli_number, metavar=option.metavar,
                                help=option.help + shown)
        elif option.kind == "choice":
            parser.add_argument(_flag(option.name), choices=option.choices,
                                help=option.help + shown)
        else:
            parser.add_argument(_flag(option.name), metavar=option.metavar,
                                help=option.help + shown)
    parser.add_argument("--request", metavar="FILE",
                        help="JSON file with the options (see below)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    cluster_options.add_arguments(parser, lambda value: argparse.SUPPRESS)
    return parser


def _cli_number(text: str) -> float:
    """A number from the command line (range checks are the request's)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def parse_request(argv: Sequence[str]):
    """A :class:`~w2vbackend.request.Request` from command-line arguments (and --request)."""
    return parse_command(argv)[0]


def parse_command(argv: Sequence[str]):
    """``(Request, ClusterOptions)`` from command-line arguments (and --request): what to
    compute, and how to run it (here, one shard of it, or as a SLURM job array)."""
    from .request import make_request
    from .request_file import read_request_file

    given = vars(build_parser().parse_args(argv))
    request_file = given.pop("request", None)
    values: dict[str, Any] = {}
    if request_file:
        values = read_request_file(request_file, cluster_options.KEYS)
        if values.get("audio") and given.get("audio"):
            raise UsageError("audio files given both on the command line and in the request "
                             "file; give them in one place")
    if not given.get("audio"):
        given.pop("audio", None)
    values.update(given)
    options = cluster_options.take_options(values)
    if not values.get("audio") and options.wait is None:
        raise UsageError("no audio files given (AUDIO... or \"audio\" in --request)")
    return make_request(values, require_audio=options.wait is None), options


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
    """Write the summary JSON atomically (a new temporary file in the same folder, then
    rename)."""
    import secrets

    from .safe_open import open_new

    folder = os.path.dirname(os.path.abspath(path))
    # A fresh, unguessable name created with O_EXCL | O_NOFOLLOW: a link planted under it is
    # never followed, and the rename below puts a regular file (never a link) at ``path``.
    temp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}-"
                                f"{secrets.token_hex(8)}")
    try:
        with open_new(temp, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2)
            stream.write("\n")
        os.replace(temp, path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        with contextlib.suppress(OSError, ValueError):
            os.unlink(temp)
        reason = getattr(exc, "strerror", None) or str(exc)
        print(f"{PROG}: error: {shorten(path, 400)}: cannot write the summary ({reason})",
              file=sys.stderr)


def _print_summary(outcomes, reporter, quiet: bool) -> None:
    from .runner import STATUS_FAILED, STATUS_UP_TO_DATE, STATUS_WRITTEN, with_file

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
        print(f"  failed: {with_file(outcome.audio, message)}", file=sys.stderr)


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
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        code, error = _interrupted(signal.SIGINT, outcomes)
    except Terminated as exc:
        code, error = _interrupted(exc.signum, outcomes)
    except W2VError as exc:  # pragma: no cover - the runner reports these per file
        error = {"code": exc.code, "message": str(exc)}
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        code = EXIT_FAILED
    except Exception as exc:
        error = {"code": "backendFailed", "message": f"{type(exc).__name__}: {exc}"}
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {printable(str(exc))}",
              file=sys.stderr)
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
