"""Resampling features to the neural data's rate: frequency response, time and memory.

``response``: gain of tones through ``resample_features`` (50 Hz frames at their centres ->
target rate), measured by least squares on the output grid away from the edges. Reports the
passband ripple (largest |gain| in dB up to 90 % of the lower Nyquist frequency) and the
stopband attenuation: going down, the gain of tones from the target Nyquist frequency to the
frames' Nyquist frequency; going up, the level of the image at ``frame_rate - f`` of every
passband tone.

``cost``: an XLSR-53-shaped run (``layers x 180000 x 1024`` float32 per hour) as a memory map
under /tmp, resampled on one BLAS thread into a memory-mapped output; reports seconds per
layer-hour, the extrapolation to 25 layers, peak RSS and the traced (heap) peak.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_retime.py response --target-rate 128
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_retime.py response --tr 2
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_retime.py cost --target-rate 128 \\
        --layers 1 --hours 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from w2vbackend.retime import resample_features

FRAME_RATE = 50.0
OFFSET = 0.0125
FRAMES_PER_HOUR = 180000
HIDDEN = 1024
XLSR_LAYERS = 25


def _amplitudes(y: np.ndarray, times: np.ndarray, *freqs: float) -> list[float]:
    """Amplitudes of tones at ``freqs`` fitted jointly (one alone would pick up the others'
    leakage over a finite window)."""
    basis = np.concatenate([np.stack([np.cos(2 * np.pi * f * times),
                                      np.sin(2 * np.pi * f * times)], axis=1) for f in freqs],
                           axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return [float(np.hypot(coef[2 * i], coef[2 * i + 1])) for i in range(len(freqs))]


def response(fs: float, points: int = 40, method: str = "kaiser") -> dict:
    seconds = 120.0 if fs >= 10 else 3000.0
    n = int(seconds * FRAME_RATE)
    centres = OFFSET + np.arange(n) / FRAME_RATE
    lower = min(FRAME_RATE, fs) / 2
    rows = []

    def run(f):
        x = np.cos(2 * np.pi * f * centres + 0.3).astype(np.float32)
        y, times, spec = resample_features(x, fs, frame_rate=FRAME_RATE,
                                           frame_center_offset=OFFSET, method=method)
        reach = spec["filter"]["half_width_s"]
        keep = (times > OFFSET + reach) & (times < centres[-1] - reach)
        return y[keep].astype(np.float64), times[keep], spec

    passband = np.linspace(0.005, 0.9, points) * lower
    ripple, images = 0.0, []
    for f in passband:
        y, times, spec = run(f)
        if fs > FRAME_RATE:
            tone, image = _amplitudes(y, times, f, FRAME_RATE - f)
            images.append(20 * np.log10(image + 1e-300))
        else:
            (tone,) = _amplitudes(y, times, f)
        gain = 20 * np.log10(tone)
        ripple = max(ripple, abs(gain))
        rows.append({"hz": f, "gain_db": gain})
    if fs < FRAME_RATE:
        stop = []
        for f in np.linspace(1.0, 0.999 * FRAME_RATE / 2 / lower, points) * lower:
            y, times, _ = run(f)
            level = 20 * np.log10(np.sqrt(2 * np.mean(y * y)) + 1e-300)
            stop.append(level)
            rows.append({"hz": f, "gain_db": level})
        attenuation = -max(stop)
        what = "tones from the target Nyquist to the frames' Nyquist frequency"
    else:
        attenuation = -max(images)
        what = "images at frame_rate - f of passband tones"
    return {"target_rate": fs, "method": method, "passband_edge_hz": 0.9 * lower,
            "passband_ripple_db": ripple, "stopband_attenuation_db": attenuation,
            "stopband_measured_on": what, "filter": spec["filter"],
            "support_frames": spec["support_frames"], "points": rows}


def cost(fs: float, layers: int, hours: float) -> dict:
    frames = int(FRAMES_PER_HOUR * hours)
    folder = Path(tempfile.mkdtemp(prefix="w2v-retime-bench-", dir="/tmp"))
    try:
        # The header through open_memmap, the data with plain writes: no page of the input is
        # mapped into this process before the measurement (its peak RSS starts clean).
        header = np.lib.format.open_memmap(folder / "B.npy", mode="w+", dtype=np.float32,
                                           shape=(layers, frames, HIDDEN))
        offset = header.offset
        del header
        rng = np.random.default_rng(0)
        block = rng.standard_normal((4096, HIDDEN)).astype(np.float32)
        with open(folder / "B.npy", "r+b") as stream:
            stream.seek(offset)
            for _ in range(layers):
                for start in range(0, frames, 4096):
                    stream.write(block[:min(frames, start + 4096) - start].tobytes())
        x = np.load(folder / "B.npy", mmap_mode="r")
        duration = frames / FRAME_RATE + 0.005
        probe = resample_features(x[:, :1, :1], fs, frame_rate=FRAME_RATE,
                                  frame_center_offset=OFFSET, duration=duration)
        n_out = probe.spec["n_samples"]
        out = np.lib.format.open_memmap(folder / "out.npy", mode="w+", dtype=np.float32,
                                        shape=(layers, n_out, HIDDEN))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        cpu0 = time.process_time()
        resample_features(x, fs, frame_rate=FRAME_RATE, frame_center_offset=OFFSET,
                          duration=duration, out=out)
        out.flush()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    per_layer_hour = wall / (layers * hours)
    return {"target_rate": fs, "layers": layers, "hours": hours, "frames": frames,
            "input_gib": layers * frames * HIDDEN * 4 / 2**30,
            "output_gib": layers * n_out * HIDDEN * 4 / 2**30,
            "wall_s": wall, "cpu_s": cpu, "seconds_per_layer_hour": per_layer_hour,
            "extrapolated_s_per_hour_25_layers": per_layer_hour * XLSR_LAYERS,
            "peak_rss_mib_before": rss_before / 1024, "peak_rss_mib_after": rss_after / 1024,
            "traced_heap_peak_mib": heap_peak / 2**20,
            "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("response", "cost"))
    rate = p.add_mutually_exclusive_group(required=True)
    rate.add_argument("--target-rate", type=float)
    rate.add_argument("--tr", type=float)
    p.add_argument("--method", default="kaiser", help="response: kaiser or lanczos")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--json", default=None, help="also write the result here")
    args = p.parse_args()
    fs = args.target_rate if args.tr is None else 1.0 / args.tr
    if args.what == "response":
        result = response(fs, method=args.method)
    else:
        result = cost(fs, args.layers, args.hours)
    brief = {k: v for k, v in result.items() if k != "points"}
    print(json.dumps(brief, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
