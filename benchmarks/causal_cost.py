"""Cost of causal mode relative to the default, on an XLSR-53-shaped random model, in one run.

    .venv/bin/python benchmarks/causal_cost.py                       # per-window (CPU-sized)
    .venv/bin/python benchmarks/causal_cost.py --full --seconds 30   # whole runs (GPU)

Causal mode computes each step of ``step`` seconds from one pass over ``context + step``
seconds, so a recording of ``F`` frames costs about ``F / step_frames`` windows of that length.
Variants are timed interleaved in one process (benchmarks/common.py):

* default: the engine's default settings over the whole recording;
* per-window (default mode): one steady-state causal window (``context + step`` seconds) of
  each step, whose median time times the plan's number of windows is the projected cost of the
  whole recording (an upper bound: the first ``context`` seconds' windows are shorter);
* ``--full``: the engine's causal mode over the whole recording (what the projection stands
  for; minutes on a CPU for 0.1 s steps).

Prints one JSON document: medians, the ratios to the default, and the planned frames.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
import shapes  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length")
    parser.add_argument("--context", type=float, default=8.0, help="causal context, seconds")
    parser.add_argument("--steps", default="0.1,1", help="causal steps, seconds (comma list)")
    parser.add_argument("--shape", default="xlsr53", choices=sorted(shapes.SHAPES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true",
                        help="time whole causal runs instead of one window per step")
    parser.add_argument("--quiet-wait", type=float, default=common.QUIET_MAX_WAIT_S,
                        help="longest wait for a quiet machine before each measurement, s")
    parser.add_argument("--checkpoints", type=Path, default=HERE / "results" / "checkpoints")
    args = parser.parse_args(argv)
    common.QUIET_MAX_WAIT_S = args.quiet_wait

    from w2vbackend import extract
    from w2vbackend.model import load_model
    from w2vbackend.windows import frames_for_seconds, plan_causal_windows

    loaded = load_model(str(shapes.build(args.shape, args.checkpoints / args.shape)),
                        device=args.device)
    geometry, rate = loaded.geometry, loaded.geometry.sample_rate
    audio = common.speech_like(args.seconds, rate, seed=0)
    steps = [float(v) for v in args.steps.split(",") if v.strip()]
    variants = {"default": lambda: extract(audio, model=loaded, sample_rate=rate)}
    planned = {}
    for step in steps:
        context_frames = frames_for_seconds(args.context, geometry, round_up=True)
        step_frames = max(1, frames_for_seconds(step, geometry, round_up=False))
        windows = plan_causal_windows(audio.shape[0], geometry, step_frames, context_frames)
        planned[step] = {"windows": len(windows),
                         "frames_computed": sum(w.frame_stop - w.frame_start for w in windows),
                         "frames_kept": geometry.num_frames(audio.shape[0])}
        if args.full:
            variants[f"causal_{step:g}s"] = (
                lambda step=step: extract(audio, model=loaded, sample_rate=rate, causal=True,
                                          causal_context=args.context, causal_step=step))
        else:
            window = audio[:(context_frames + step_frames - 1) * geometry.stride
                           + geometry.receptive_field]
            variants[f"causal_{step:g}s_window"] = (
                lambda window=window, frames=context_frames + step_frames: extract(
                    window, model=loaded, sample_rate=rate, causal=True, causal_context=0,
                    causal_step=frames * geometry.stride / rate))
    extract(audio[:rate], model=loaded, sample_rate=rate)  # warm-up
    samples = common.interleaved(variants, args.repeats, device=loaded.device)
    medians = {name: common.median([s.wall_s for s in rows]) for name, rows in samples.items()}
    cpu = {name: common.median([s.cpu_s for s in rows]) for name, rows in samples.items()}
    report = {"shape": args.shape, "seconds": args.seconds, "context_s": args.context,
              "device": str(loaded.device), "full": args.full, "repeats": args.repeats,
              "median_s": medians, "cpu_median_s": cpu,
              "planned": {f"{k:g}": v for k, v in planned.items()},
              "others_cores_max": max((s.others_cores or 0.0) for rows in samples.values()
                                      for s in rows),
              "ratio_to_default": {}, "cpu_ratio_to_default": {}}
    for step in steps:
        name = f"causal_{step:g}s" if args.full else f"causal_{step:g}s_window"
        total = medians[name] * (1 if args.full else planned[step]["windows"])
        report["ratio_to_default"][f"{step:g}"] = total / medians["default"]
        report["cpu_ratio_to_default"][f"{step:g}"] = (
            cpu[name] * (1 if args.full else planned[step]["windows"]) / cpu["default"])
        report["planned"][f"{step:g}"]["frame_ratio"] = (
            planned[step]["frames_computed"] / planned[step]["frames_kept"])
    report["machine"] = common.machine_info()
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
