"""Where the time of ``w2v-extract`` goes, stage by stage, against the bare model (part 9).

Two workloads, 44.1 kHz stereo 16-bit WAV files: one long recording, and many short ones (a
trial-based stimulus set). Interleaved, ``repeats`` times each (medians reported):

* ``bare``: the bare model over the engine's windows of the same audio (inputs prepared
  beforehand; no reading, resampling, normalisation statistics or writing);
* ``cli``: ``w2v-extract`` in this process (load the checkpoint, hash, decode, resample, infer,
  write .npy/.mat/.json), with the next file decoded while the model computes;
* ``cli_serial``: the same with every step in turn (``runner.PREFETCH = False``).

The ``cli`` runs record the seconds of every stage (:mod:`w2vbackend.stages`, summed over
threads, so overlapped stages count in full). A third table times the resampler on the long
recording: the matrix-product path against scipy's direct polyphase loop with the same filter
and, when python-soxr is installed, soxr's VHQ (with its passband deviation at 90 % of the
target Nyquist frequency, which the project's filter keeps below about 1e-4).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import interleaved, speech_like, summary

STAGE_ORDER = ("load_model", "hash", "fingerprint", "decode", "resample", "normalisation",
               "model", "write_npy", "write_mat", "json", "commit")
TARGET_LONG = 1.05
TARGET_SHORT = 1.30


def _wav(path: Path, seconds: float, rate: int, seed: int) -> Path:
    """A stereo 16-bit WAV of speech-like audio (two different channels)."""
    import soundfile as sf

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        left = speech_like(seconds, rate, seed=seed)
        right = speech_like(seconds, rate, seed=seed + 1000)
        sf.write(path, np.stack([left, right], axis=1), rate, subtype="PCM_16")
    return path


def _bare_inputs(bench, paths: list[Path]) -> list:
    """The engine's windows of every file as bare model inputs (read and resampled once here)."""
    import parts
    from w2vbackend.audio import load_audio

    s, loaded = bench.settings, bench.model(dtype=bench.stage_dtype)
    inputs = []
    for path in paths:
        waveform = load_audio(path, loaded.geometry.sample_rate).waveform
        windows = parts._plan(bench, waveform.shape[0], s.chunk_seconds, s.context_seconds)
        inputs += parts._planned_inputs(waveform, windows, loaded)
    return inputs


def _cli(bench, paths: list[Path], out: Path, prefetch: bool, totals: list) -> None:
    import parts
    from w2vbackend import runner, stages

    s = bench.settings
    args = [*map(str, paths), "--model", str(bench.checkpoint(s.shape)), "--output-dir",
            str(out), "--device", str(bench.device), "--dtype", bench.stage_dtype,
            "--chunk-seconds", f"{s.chunk_seconds:g}", "--context-seconds",
            f"{s.context_seconds:g}", "--overwrite", "--quiet"] + (
                [] if s.threads is None else ["--threads", str(s.threads)])
    previous, runner.PREFETCH = runner.PREFETCH, prefetch
    try:
        with stages.collecting() as times:
            parts._cli_in_process(args)
    finally:
        runner.PREFETCH = previous
    totals.append(times.seconds)


def _workload(bench, name: str, paths: list[Path], audio_s: float) -> dict[str, Any]:
    s = bench.settings
    loaded = bench.model(dtype=bench.stage_dtype)
    inputs = _bare_inputs(bench, paths)
    out = s.work_dir / f"stages-{name}"
    totals: dict[str, list] = {"cli": [], "cli_serial": []}
    variants = {
        "bare": lambda: _bare_model(loaded, inputs),
        "cli": lambda: _cli(bench, paths, out, True, totals["cli"]),
        "cli_serial": lambda: _cli(bench, paths, out, False, totals["cli_serial"]),
    }
    _cli(bench, paths, out, True, [])  # warm the file cache, the writers and the imports
    times = interleaved(variants, s.repeats, bench.device)
    shutil.rmtree(out, ignore_errors=True)
    timings = {k: summary(v) for k, v in times.items()}
    bare = timings["bare"]["median_s"]
    median_run = {k: _median_stages(v) for k, v in totals.items()}
    return {
        "files": len(paths), "audio_s": audio_s, "original_sample_rate": s.original_rate,
        "channels": 2, "dtype": bench.stage_dtype, "timings": timings,
        "ratios": {k: timings[k]["median_s"] / bare for k in ("cli", "cli_serial")},
        "realtime_factor": {k: audio_s / timings[k]["median_s"] for k in timings},
        "stages_s": median_run,
    }


def _bare_model(loaded, inputs: list) -> None:
    import parts

    parts._bare(loaded, inputs)


def _median_stages(runs: list[dict[str, float]]) -> dict[str, float]:
    names = [n for n in STAGE_ORDER if any(n in r for r in runs)] + sorted(
        {n for r in runs for n in r} - set(STAGE_ORDER))
    return {n: float(np.median([r.get(n, 0.0) for r in runs])) for n in names}


def _passband_deviation(fn, orig: int, target: int) -> float:
    """Largest |gain - 1| of ``fn`` for tones up to 90 % of the lower Nyquist frequency."""
    worst = 0.0
    t = np.arange(orig) / orig
    for f in np.linspace(0.1, 0.9, 9) * min(orig, target) / 2:
        y = fn(np.sin(2 * np.pi * f * t).astype(np.float32)).astype(np.float64)
        tt = np.arange(y.shape[0]) / target
        basis = np.stack([np.sin(2 * np.pi * f * tt), np.cos(2 * np.pi * f * tt)], 1)
        keep = slice(target // 10, -(target // 10))
        coef, *_ = np.linalg.lstsq(basis[keep], y[keep], rcond=None)
        worst = max(worst, abs(float(np.hypot(*coef)) - 1.0))
    return worst


def resamplers(bench, seconds: float) -> dict[str, Any]:
    """Seconds per hour of 44.1 kHz mono audio of each resampler, interleaved."""
    from scipy import signal
    from w2vbackend import resample as rs

    s = bench.settings
    orig, target = s.original_rate, 16000
    x = speech_like(seconds, orig, seed=7)
    up, down = rs._ratio(orig, target)
    h = rs._lowpass(up, down) / up
    variants = {"matrix_products": lambda v: rs.resample(v, orig, target),
                "upfirdn_same_filter": lambda v: signal.resample_poly(v, up, down, window=h)}
    with contextlib.suppress(ImportError):
        import soxr

        variants["soxr_vhq"] = lambda v: soxr.resample(v, orig, target, quality="VHQ")
    rs.resample(x[:orig], orig, target)  # build the cached filter matrices
    times = interleaved({k: (lambda f=f: f(x)) for k, f in variants.items()}, s.repeats)
    return {"seconds_of_audio": seconds, "rate": orig, "target": target,
            "rows": {k: {"s_per_hour": summary(v)["median_s"] * 3600 / seconds,
                         "passband_deviation": _passband_deviation(variants[k], orig, target)}
                     for k, v in times.items()}}


def stage_breakdown(bench) -> dict[str, Any]:
    """Part 9: the long recording and the short files, end to end against the bare model."""
    s = bench.settings
    work = s.work_dir / "stages"
    long_path = _wav(work / f"long-{s.stages_long_seconds:g}s.wav", s.stages_long_seconds,
                     s.original_rate, seed=11)
    short_paths = [_wav(work / "short" / f"trial-{i:03d}.wav", s.stages_short_seconds,
                        s.original_rate, seed=100 + i) for i in range(s.stages_short_files)]
    started = time.perf_counter()
    result = {
        "long": _workload(bench, "long", [long_path], s.stages_long_seconds),
        "short": _workload(bench, "short", short_paths,
                           s.stages_short_files * s.stages_short_seconds),
        "resample": resamplers(bench, min(s.stages_long_seconds, 600.0)),
    }
    result["measure_s"] = time.perf_counter() - started
    result["targets"] = {
        "long": {"limit": TARGET_LONG, "value": result["long"]["ratios"]["cli"],
                 "met": bool(result["long"]["ratios"]["cli"] <= TARGET_LONG)},
        "short": {"limit": TARGET_SHORT, "value": result["short"]["ratios"]["cli"],
                  "met": bool(result["short"]["ratios"]["cli"] <= TARGET_SHORT)},
    }
    return result


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def markdown(p: dict[str, Any]) -> list[str]:
    long, short = p["long"], p["short"]
    title = (f"### 9. Stage breakdown ({long['dtype']}; one {_duration(long['audio_s'])} file "
             f"and {short['files']} files of {short['audio_s'] / short['files']:g} s, "
             f"{long['original_sample_rate']} Hz stereo)")
    lines = [title, "", "| variant | long: median | / bare | x real time | short: median "
             "| / bare | x real time |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k in ("bare", "cli", "cli_serial"):
        lt, st = long["timings"][k], short["timings"][k]
        lines.append(f"| {k} | {lt['median_s']:.2f} s "
                     f"| {lt['median_s'] / long['timings']['bare']['median_s']:.3f}x "
                     f"| {long['realtime_factor'][k]:.1f} | {st['median_s']:.2f} s "
                     f"| {st['median_s'] / short['timings']['bare']['median_s']:.3f}x "
                     f"| {short['realtime_factor'][k]:.1f} |")
    lines += ["", "Seconds per stage in one `cli` run (summed over threads; decode, resample "
              "overlap the model):", "",
              "| stage | long | per audio hour | short (all files) | per file |",
              "| --- | ---: | ---: | ---: | ---: |"]
    names = list(dict.fromkeys([*long["stages_s"]["cli"], *short["stages_s"]["cli"]]))
    for n in names:
        a, b = long["stages_s"]["cli"].get(n, 0.0), short["stages_s"]["cli"].get(n, 0.0)
        lines.append(f"| {n} | {a:.3f} s | {a * 3600 / long['audio_s']:.1f} s "
                     f"| {b:.3f} s | {1000 * b / short['files']:.1f} ms |")
    rs = p["resample"]
    lines += ["", f"Resampling {rs['rate']} -> {rs['target']} Hz (timed on "
              f"{_duration(rs['seconds_of_audio'])}):", "",
              "| resampler | s per audio hour | passband deviation to 90 % of Nyquist |",
              "| --- | ---: | ---: |"]
    for k, r in rs["rows"].items():
        lines.append(f"| {k} | {r['s_per_hour']:.1f} | {r['passband_deviation']:.1e} |")
    return lines
