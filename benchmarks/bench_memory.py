"""Peak memory of ``w2v-extract`` for long recordings: output must not be collected in RAM.

Runs the real CLI in a child process on synthesised 10-minute and 2-hour recordings, with one
layer (``last``) and with all hidden states (``all``), using a small local random-weight model,
and reads the child's peak resident set size from ``os.wait4``. The waveform itself (float32 at
the model's rate) has to be in memory; everything beyond it should not depend on the length.

Target: for each layer setting, (peak RSS - waveform) of the 2-hour run is within 10 % of the
10-minute run's.

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py            # full run, a few minutes
    .venv/bin/python benchmarks/bench_memory.py --durations 30 120    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DURATIONS_S = (600.0, 7200.0)
LAYER_MODES = ("last", "all")
SAMPLE_RATE = 16000
# Large enough that all hidden states of 2 hours are ~1.8 GB (a fixed-size leak or a copy of
# the output would show), small enough to run on two CPU cores in minutes.
MODEL_HIDDEN = 256
MODEL_LAYERS = 4
SYNTH_BLOCK_S = 60.0
TARGET_RATIO = 1.10
MIB = 2**20


def build_model(folder: Path, hidden: int = MODEL_HIDDEN, num_layers: int = MODEL_LAYERS
                ) -> Path:
    """An XLSR-like random-weight checkpoint (layer-norm encoder, pre-LN transformer)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from synth import build_checkpoint
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return build_checkpoint("xlsr", folder, hidden=hidden, num_layers=num_layers)


def synthesize_recording(path: Path, duration_s: float) -> Path:
    """A 16-bit mono WAV of speech-like audio, generated and written in one-minute blocks."""
    import soundfile as sf

    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from synth import speech_like
    finally:
        sys.path.remove(str(ROOT / "tests"))
    remaining = round(duration_s * SAMPLE_RATE)
    with sf.SoundFile(path, "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16") as out:
        seed = 0
        while remaining > 0:
            block = speech_like(min(SYNTH_BLOCK_S, remaining / SAMPLE_RATE), SAMPLE_RATE,
                                seed=seed)[:remaining]
            out.write(block)
            remaining -= block.shape[0]
            seed += 1
    return path


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; returns exit code, wall time and the child's peak RSS in bytes."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return {"exit_code": proc.returncode, "wall_s": wall, "peak_rss_bytes": peak,
            "stderr": stderr[-2000:]}


def _cli(audio: Path, model: Path, out: Path, layers: str, mat_version: str) -> list[str]:
    return [sys.executable, "-m", "w2vbackend", str(audio), "--model", str(model),
            "--output-dir", str(out), "--layers", layers, "--mat-version", mat_version,
            "--quiet", "--overwrite", "--summary-json", str(out / "summary.json")]


def run_benchmark(durations: tuple[float, ...] = DURATIONS_S,
                  layer_modes: tuple[str, ...] = LAYER_MODES, *,
                  work_dir: Path | None = None, mat_version: str = "auto",
                  hidden: int = MODEL_HIDDEN, num_layers: int = MODEL_LAYERS) -> dict[str, Any]:
    """Measure every (duration, layers) pair; returns a JSON-serialisable dict with one row per
    run and, per layer setting, the ratio of the longest to the shortest run's memory beyond the
    waveform (target <= 1.10)."""
    own_dir = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="w2v-bench-memory-")) if own_dir else Path(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        model = build_model(root / "model", hidden, num_layers)
        baseline_audio = synthesize_recording(root / "baseline.wav", 2.0)
        baseline = measure(_cli(baseline_audio, model, root / "out-baseline", "last",
                                mat_version))
        for duration in durations:
            audio = synthesize_recording(root / f"rec-{int(duration)}s.wav", duration)
            for layers in layer_modes:
                out = root / f"out-{int(duration)}-{layers}"
                result = measure(_cli(audio, model, out, layers, mat_version))
                if result["exit_code"] != 0:
                    raise RuntimeError(f"w2v-extract failed ({result['exit_code']}): "
                                       f"{result['stderr']}")
                summary = json.loads((out / "summary.json").read_text())["files"][0]
                npy = Path(summary["outputs"]["npy"])
                waveform = 4 * round(duration * SAMPLE_RATE)
                rows.append({
                    "duration_s": duration,
                    "layers": layers,
                    "peak_rss_mib": result["peak_rss_bytes"] / MIB,
                    "waveform_mib": waveform / MIB,
                    "beyond_waveform_mib": (result["peak_rss_bytes"] - waveform) / MIB,
                    "output_npy_mib": npy.stat().st_size / MIB,
                    "mat_version": summary["mat_version"],
                    "wall_s": result["wall_s"],
                })
                shutil.rmtree(out)
            os.unlink(audio)
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
    checks = []
    for layers in layer_modes:
        mine = sorted((r for r in rows if r["layers"] == layers), key=lambda r: r["duration_s"])
        if len(mine) >= 2:
            ratio = mine[-1]["beyond_waveform_mib"] / mine[0]["beyond_waveform_mib"]
            checks.append({"layers": layers, "short_s": mine[0]["duration_s"],
                           "long_s": mine[-1]["duration_s"], "ratio": ratio,
                           "within_target": ratio <= TARGET_RATIO})
    return {
        "model": {"kind": "xlsr-like random weights", "hidden_size": hidden,
                  "num_hidden_layers": num_layers},
        "mat_version": mat_version,
        "baseline_2s_peak_rss_mib": baseline["peak_rss_bytes"] / MIB,
        "rows": rows,
        "checks": checks,
        "target_ratio": TARGET_RATIO,
    }


def _duration_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def markdown_table(result: dict[str, Any]) -> str:
    """The rows and checks of :func:`run_benchmark` as Markdown."""
    lines = [
        (f"Model: {result['model']['kind']}, hidden {result['model']['hidden_size']}, "
         f"{result['model']['num_hidden_layers']} layers; --mat-version "
         f"{result['mat_version']}; peak RSS of a 2-s run (Python, torch, model): "
         f"{result['baseline_2s_peak_rss_mib']:.0f} MiB"),
        "",
        ("| recording | layers | .npy (MiB) | MAT | peak RSS (MiB) | waveform (MiB) "
         "| beyond waveform (MiB) | wall (s) |"),
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {_duration_text(r['duration_s'])} | {r['layers']} | {r['output_npy_mib']:.0f} "
            f"| v{r['mat_version']} | {r['peak_rss_mib']:.0f} | {r['waveform_mib']:.0f} "
            f"| {r['beyond_waveform_mib']:.0f} | {r['wall_s']:.0f} |")
    for c in result["checks"]:
        verdict = "within" if c["within_target"] else "NOT within"
        lines.append("")
        lines.append(f"layers={c['layers']}: {_duration_text(c['long_s'])} / "
                     f"{_duration_text(c['short_s'])} beyond the waveform = {c['ratio']:.3f} "
                     f"({verdict} the {result['target_ratio']:.2f} target)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--durations", type=float, nargs="+", default=list(DURATIONS_S),
                        help="recording lengths in seconds")
    parser.add_argument("--layers", nargs="+", default=list(LAYER_MODES),
                        help="--layers settings to run")
    parser.add_argument("--mat-version", default="auto", choices=("auto", "5", "7.3"))
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the model and outputs here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    result = run_benchmark(tuple(args.durations), tuple(args.layers), work_dir=args.work_dir,
                           mat_version=args.mat_version)
    print(markdown_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(c["within_target"] for c in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
