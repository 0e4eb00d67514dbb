"""Command line: ``python -m w2vbackend.retime B [B ...] --target-rate HZ`` for runs on disk.

Reads each run's ``B.npy`` (memory-mapped) and ``B.json``, resamples every layer onto the grid
``grid_start + j / fs`` (see :mod:`w2vbackend.retime`) and writes, next to it or into
``--output-dir``, ``B_<fs>Hz.npy`` (float32, the input's layout), ``B_<fs>Hz.mat`` (mTRF layout,
see :mod:`w2vbackend.mtrf`) and ``B_<fs>Hz.json`` (the resampling spec and the run it came
from), each under a temporary name and renamed when complete; optionally one CND
``dataStim.mat`` with one trial per input (in input order) and Eelbrain predictor pickles.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import UsageError, W2VError
from .retime import (
    DEFAULT_PASSBAND_EDGE,
    DEFAULT_STOPBAND_DB,
    EDGE_MODES,
    METHODS,
    output_length,
    resample_features,
)

PROG = "python -m w2vbackend.retime"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The .mat holds the features in memory while it is written; above this it is left out.
MAT_MAX_BYTES = 2**31


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Resample extracted features (B.npy + B.json) to the neural data's rate.")
    p.add_argument("inputs", nargs="*", help="runs: B, B.npy or B.json")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--target-rate", type=float, help="output rate in Hz (e.g. 128)")
    rate.add_argument("--tr", type=float, help="fMRI: one sample per TR seconds (e.g. 2.0)")
    p.add_argument("--grid-start", type=float, default=0.0,
                   help="time (s, in the recording) of output sample 0")
    p.add_argument("--n-samples", type=int, default=None,
                   help="output length (default: samples in [grid-start, duration))")
    p.add_argument("--method", choices=METHODS, default="kaiser",
                   help="kaiser: anti-aliasing windowed sinc; lanczos: normalised Lanczos-3")
    p.add_argument("--edge", choices=EDGE_MODES, default="edge",
                   help="beyond the recording: repeat the first/last frame, or zeros")
    p.add_argument("--stopband-db", type=float, default=DEFAULT_STOPBAND_DB,
                   help="kaiser: attenuation from the lower Nyquist frequency on")
    p.add_argument("--passband-edge", type=float, default=DEFAULT_PASSBAND_EDGE,
                   help="kaiser: flat passband up to this fraction of the lower Nyquist")
    p.add_argument("--output-dir", default=None, help="folder for outputs (default: the run's)")
    p.add_argument("--suffix", default=None, help="appended to B (default: _<rate>Hz)")
    p.add_argument("--mat-version", choices=("auto", "5", "7.3"), default="auto")
    p.add_argument("--no-mat", action="store_true", help="write no per-run .mat")
    p.add_argument("--cnd", default=None, metavar="FILE",
                   help="also write a CND dataStim.mat (variable stim), one trial per input")
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


def run_base(path: str | os.PathLike) -> Path:
    """``B`` from ``B``, ``B.npy`` or ``B.json``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".npy", ".json") else path


def load_run(base: Path) -> tuple[np.ndarray, dict]:
    """(memory-mapped embeddings, parsed metadata) of the run ``base``."""
    npy, meta_path = base.with_name(base.name + ".npy"), base.with_name(base.name + ".json")
    for path in (npy, meta_path):
        if not path.is_file():
            raise UsageError(f"{path}: not found")
    with open(meta_path, encoding="utf-8") as stream:
        meta = json.load(stream)
    for key in ("frame_stride", "frame_center_offset"):
        if not isinstance(meta.get(key), (int, float)):
            raise UsageError(f"{meta_path}: no {key}")
    return np.load(npy, mmap_mode="r"), meta


def _duration(meta: dict) -> Optional[float]:
    audio = meta.get("audio") or {}
    if audio.get("num_samples") and audio.get("sample_rate"):
        return audio["num_samples"] / audio["sample_rate"]
    return audio.get("duration_s") or audio.get("duration")


def _rate_label(fs: float) -> str:
    text = f"{fs:.6g}".replace(".", "p")
    return f"_{text}Hz"


def _model(meta: dict) -> str:
    model = meta.get("model")
    return str(model.get("name") if isinstance(model, dict) else model or "model")


def process(base: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Resample one run and write its outputs; returns the summary entry."""
    x, meta = load_run(base)
    fs = args.target_rate if args.tr is None else 1.0 / args.tr
    folder = Path(args.output_dir) if args.output_dir else base.parent
    folder.mkdir(parents=True, exist_ok=True)
    out_base = folder / (base.name + (args.suffix if args.suffix is not None
                                      else _rate_label(fs)))
    npy = out_base.with_name(out_base.name + ".npy")
    temp = npy.with_name(f".{npy.name}.{os.getpid()}.tmp")
    kwargs = {"frame_rate": 1.0 / meta["frame_stride"],
              "frame_center_offset": meta["frame_center_offset"], "duration": _duration(meta),
              "grid_start": args.grid_start, "n_samples": args.n_samples,
              "method": args.method, "edge": args.edge, "stopband_db": args.stopband_db,
              "passband_edge": args.passband_edge}
    if kwargs["duration"] is None:
        kwargs["duration"] = _frames_duration(x, meta)
    n_samples = (int(args.n_samples) if args.n_samples is not None
                 else output_length(kwargs["duration"], fs, args.grid_start))
    if n_samples < 1:
        raise UsageError(f"the grid holds no samples (grid start {args.grid_start} s)")
    shape = (*x.shape[:-2], n_samples, x.shape[-1])
    try:
        out = np.lib.format.open_memmap(temp, mode="w+", dtype=np.float32, shape=shape)
        result = resample_features(x, fs, **{**kwargs, "n_samples": n_samples}, out=out)
        out.flush()
        del out
        os.replace(temp, npy)
    finally:
        if temp.exists():
            temp.unlink()
    layers = list(meta.get("layers") or [-1])
    features = np.load(npy, mmap_mode="r")
    written: dict[str, Any] = {"npy": str(npy), "mat": None, "json": None}
    spec, mat_note = result.spec, None
    if not args.no_mat:
        if features.nbytes > MAT_MAX_BYTES:
            mat_note = (f"features are {features.nbytes / 2**30:.1f} GiB; no .mat written "
                        "(read the .npy, or resample fewer layers)")
            print(f"{PROG}: {base}: {mat_note}", file=sys.stderr)
        else:
            from .cnd import feature_names
            from .mtrf import write_mtrf

            mat = out_base.with_name(out_base.name + ".mat")
            write_mtrf(mat, [np.asarray(features)], [result.times], fs=fs,
                       names=feature_names(_model(meta), layers), layers=layers,
                       model_name=_model(meta), grid_start=args.grid_start, spec=spec,
                       mat_version=args.mat_version)
            written["mat"] = str(mat)
    doc = {"format": "w2v-resampled-features", "format_version": 1,
           "source": {"npy": str(base) + ".npy", "json": str(base) + ".json",
                      "model": _model(meta), "layers": layers,
                      "audio": meta.get("audio"), "fingerprint": meta.get("fingerprint")},
           "npy_shape": list(shape),
           "npy_layout": ("(num_layers, n_samples, hidden_size)" if len(shape) == 3
                          else "(n_samples, hidden_size)"),
           "resampling": spec, "mat_note": mat_note, "outputs": written}
    json_path = out_base.with_name(out_base.name + ".json")
    written["json"] = str(json_path)
    temp_json = json_path.with_name(f".{json_path.name}.{os.getpid()}.tmp")
    temp_json.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(temp_json, json_path)
    return {"input": str(base), "status": "written", **written, "fs": fs,
            "n_samples": n_samples, "model": _model(meta), "layers": layers,
            "grid_start": args.grid_start, "spec": spec}


def _frames_duration(x: np.ndarray, meta: dict) -> float:
    frames = x.shape[-2]
    return 2.0 * meta["frame_center_offset"] + (frames - 1) * meta["frame_stride"]


def _extras(done: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.cnd:
        from .cnd import feature_names, write_cnd_stim

        first = done[0]
        trials = [np.load(d["npy"], mmap_mode="r") for d in done]
        write_cnd_stim(args.cnd, [np.asarray(t) for t in trials],
                       names=feature_names(first["model"], first["layers"]), fs=first["fs"],
                       original_fs=first["spec"]["frame_rate"],
                       pipeline={"software": "w2v", "model": first["model"],
                                 "layers": first["layers"], "inputs": [d["input"] for d in done],
                                 "resampling": first["spec"]}, mat_version=args.mat_version)
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
