"""Command line: ``python -m w2vbackend.retime B [B ...] --target-rate HZ`` for runs on disk.

Reads each run's ``B.npy`` (memory-mapped) and ``B.json``, resamples every layer onto the grid
``grid_start + j / fs`` (see :mod:`w2vbackend.retime`) and writes, next to it or into
``--output-dir``, ``B_<fs>Hz.npy`` (float32, the input's layout), ``B_<fs>Hz.mat`` (mTRF layout,
see :mod:`w2vbackend.mtrf`) and ``B_<fs>Hz.json`` (the resampling spec and the run it came
from), through :func:`w2vbackend.retime_outputs.write_resampled` (as ``w2v-extract
--target-rate`` does), renamed into place together when complete; optionally one CND
``dataStim.mat`` with one trial per input (in input order) and Eelbrain predictor pickles.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import UsageError, W2VError
from .retime_options import (
    DEFAULT_EDGE,
    DEFAULT_GRID_START,
    DEFAULT_METHOD,
    DEFAULT_PASSBAND_EDGE,
    DEFAULT_STOPBAND_DB,
    EDGE_MODES,
    HELP,
    METHODS,
)
from .retime_outputs import (
    RetimeSettings,
    resampled_paths,
    run_base,
    write_cnd,
    write_resampled,
)

PROG = "python -m w2vbackend.retime"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Resample extracted features (B.npy + B.json) to the neural data's rate.")
    p.add_argument("inputs", nargs="*", help="runs: B, B.npy or B.json")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--target-rate", type=float, help=HELP["target_rate"])
    rate.add_argument("--tr", type=float, help=HELP["tr"])
    p.add_argument("--grid-start", type=float, default=DEFAULT_GRID_START,
                   help=HELP["grid_start"])
    p.add_argument("--n-samples", type=int, default=None,
                   help="output length (default: samples in [grid-start, duration))")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help=HELP["method"])
    p.add_argument("--edge", choices=EDGE_MODES, default=DEFAULT_EDGE, help=HELP["edge"])
    p.add_argument("--stopband-db", type=float, default=DEFAULT_STOPBAND_DB,
                   help="kaiser: attenuation from the lower Nyquist frequency on")
    p.add_argument("--passband-edge", type=float, default=DEFAULT_PASSBAND_EDGE,
                   help="kaiser: flat passband up to this fraction of the lower Nyquist")
    p.add_argument("--output-dir", default=None, help="folder for outputs (default: the run's)")
    p.add_argument("--suffix", default=None, help="appended to B (default: _<rate>Hz)")
    p.add_argument("--mat-version", choices=("auto", "5", "7.3"), default="auto")
    p.add_argument("--no-mat", action="store_true", help="write no per-run .mat")
    p.add_argument("--cnd", default=None, metavar="FILE", help=HELP["cnd"])
    p.add_argument("--eelbrain", default=None, metavar="DIR",
                   help="also write Eelbrain predictors <B>~<model>-layer<i>.pickle here")
    p.add_argument("--request", default=None, metavar="FILE",
                   help="read the options from a JSON object (keys: long option names "
                        "with _, plus inputs)")
    p.add_argument("--summary-json", default=None, metavar="FILE",
                   help="write the written paths (or the failure) of each input here")
    return p


def _options(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if args.request:
        with open(args.request, encoding="utf-8") as stream:
            request = json.load(stream)
        unknown = set(request) - set(vars(args))
        if unknown:
            raise UsageError(f"unknown request keys: {', '.join(sorted(unknown))}")
        for key, value in request.items():
            setattr(args, key, value)
        if isinstance(args.inputs, str):
            args.inputs = [args.inputs]
    if not args.inputs:
        raise UsageError("no inputs given")
    if (args.target_rate is None) == (args.tr is None):
        raise UsageError("give one of --target-rate HZ or --tr SECONDS")
    return args


def settings_of(args: argparse.Namespace) -> RetimeSettings:
    """The resampling settings of the parsed options."""
    return RetimeSettings(
        fs=args.target_rate if args.tr is None else 1.0 / args.tr, grid_start=args.grid_start,
        n_samples=args.n_samples, method=args.method, edge=args.edge,
        stopband_db=args.stopband_db, passband_edge=args.passband_edge,
        mat_version=args.mat_version, write_mat=not args.no_mat)


def process(base: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Resample one run and write its outputs; returns the summary entry."""
    settings = settings_of(args)
    paths = resampled_paths(base, settings, output_dir=args.output_dir, suffix=args.suffix)
    return write_resampled(base, settings, paths,
                           warn=lambda line: print(f"{PROG}: {line}", file=sys.stderr))


def _extras(done: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.cnd:
        write_cnd(args.cnd, done, mat_version=args.mat_version)
    if args.eelbrain:
        from .eelbrain_export import save_predictors

        for d in done:
            save_predictors(args.eelbrain, Path(d["input"]).name,
                            np.asarray(np.load(d["npy"], mmap_mode="r")),
                            tmin=d["grid_start"], tstep=1.0 / d["fs"], model=d["model"],
                            layers=d["layers"], info={"fs": d["fs"], "source": d["input"]})


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = _options(argv)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    summary: list[dict[str, Any]] = []
    status = EXIT_OK
    for item in args.inputs:
        base = run_base(item)
        try:
            summary.append(process(base, args))
        except (W2VError, OSError, ValueError) as exc:
            # Our own errors name the file already.
            where = "" if isinstance(exc, W2VError) else f"{base}: "
            print(f"{PROG}: {where}{exc}", file=sys.stderr)
            summary.append({"input": str(base), "status": "failed", "error": str(exc)})
            status = EXIT_FAILED
    done = [s for s in summary if s["status"] == "written"]
    if status == EXIT_OK and done and (args.cnd or args.eelbrain):
        try:
            _extras(done, args)
        except (W2VError, OSError, ValueError) as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            status = EXIT_FAILED
    if args.summary_json:
        Path(args.summary_json).write_text(
            json.dumps({"status": status, "files": summary}, indent=2) + "\n",
            encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
