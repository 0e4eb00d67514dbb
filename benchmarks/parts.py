"""The benchmark parts. Each takes a :class:`Bench` and returns a JSON-serialisable dict.

All models are random-weight checkpoints with the real shapes (benchmarks/shapes.py): time and
memory do not depend on weight values. Cosines against a full pass do depend on them, and a
random model's attention is less local than a trained one's, so the context each frame needs
measured here is, if anything, an overestimate.
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import naive
import numpy as np
import shapes
from common import (
    frame_cosines,
    interleaved,
    measure,
    speech_like,
    summary,
    timed,
)
from flops import WindowFlops, matmul_throughput, time_breakdown

# Targets (CPU, float32, XLSR-shaped model, default settings).
TARGET_E2E_OVER_NAIVE = 1.10
TARGET_WORST_COSINE = 0.999
TARGET_LAYER_RATIO = 0.60
TARGET_MATMUL_FRACTION = 0.75
TARGET_MEMORY_RATIO = 1.10


@dataclass
class Settings:
    """What to run and how big. Lengths in seconds of audio."""

    seconds: float = 60.0                 # recording for the timing parts (1, 2, 4, 5, 6)
    context_recording_seconds: float = 70.0  # recording for the context grid (full pass fits)
    chunks: tuple[float, ...] = (10.0, 20.0, 40.0, 60.0)
    contexts: tuple[float, ...] = (0.0, 1.0, 2.0, 5.0, 10.0)
    chunk_seconds: float = 20.0           # the pipeline's settings under test (engine defaults)
    context_seconds: float = 2.0
    positional_context: bool = True       # engine's positional-reach split (False: plain windows)
    naive_chunk_seconds: float = 20.0
    long_seconds: float = 3600.0          # frame deficit, slip and FLOPs of a long recording
    original_rate: int = 44100            # the CLI reads a file at this rate and resamples
    repeats: int = 3
    shape: str = "xlsr53"
    base_shape: str = "base"
    truncated_layer: int = 12
    memory_durations: tuple[float, ...] = (600.0, 7200.0)
    memory_layers: tuple[str, ...] = ("last", "all")
    stages_long_seconds: float = 3600.0   # part 9: one long 44.1 kHz stereo file
    stages_short_files: int = 200         # part 9: many short files of stages_short_seconds
    stages_short_seconds: float = 2.0
    subprocess_cli: bool = True
    device: str = "cpu"
    threads: int | None = None            # torch CPU threads (None: torch's default)
    matmul_sizes: tuple[int, ...] = (1024, 2048, 4096)
    matmul_seconds: float = 1.0           # per size and dtype
    quiet_wait_s: float = 30.0            # longest wait for a quiet moment before a measurement
    work_dir: Path = Path("benchmarks/results/work")
    checkpoint_dir: Path = Path("benchmarks/results/checkpoints")


@dataclass
class Bench:
    """Settings plus everything built once and shared between parts (models, audio, timings)."""

    settings: Settings
    models: dict = field(default_factory=dict)
    flop_counters: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    stage_dtype: str = "float32"          # dtype of the stage breakdown (part 9)

    @property
    def device(self):
        from w2vbackend.device import choose_device

        return choose_device(self.settings.device)

    def checkpoint(self, shape: str) -> Path:
        return shapes.build(shape, self.settings.checkpoint_dir / shape)

    def model(self, shape: str | None = None, dtype: str = "float32"):
        from w2vbackend.model import load_model

        shape = shape or self.settings.shape
        key = (shape, dtype, str(self.device))
        if key not in self.models:
            loaded = load_model(str(self.checkpoint(shape)), device=self.device, dtype=dtype)
            _warm_up(loaded)
            self.models[key] = loaded
        return self.models[key]

    def flops(self, shape: str | None = None) -> WindowFlops:
        shape = shape or self.settings.shape
        if shape not in self.flop_counters:
            self.flop_counters[shape] = WindowFlops(self.model(shape).model)
        return self.flop_counters[shape]

    def timing_audio(self) -> tuple[Path, np.ndarray]:
        """The timing recording: a WAV at ``original_rate`` and its waveform as the pipeline
        reads it, ``(samples,)`` float32 at 16 kHz (read and resampled by w2vbackend.audio)."""
        if "timing_audio" not in self.cache:
            import soundfile as sf
            from w2vbackend.audio import load_audio

            s = self.settings
            path = s.work_dir / f"recording-{s.seconds:g}s-{s.original_rate}Hz.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, speech_like(s.seconds, s.original_rate, seed=0), s.original_rate,
                     subtype="PCM_16")
            rate = self.model().geometry.sample_rate
            self.cache["timing_audio"] = (path, load_audio(path, rate).waveform)
        return self.cache["timing_audio"]

    def context_audio(self) -> np.ndarray:
        """``(samples,)`` float32 at the model's rate: the recording of the context grid."""
        if "context_audio" not in self.cache:
            rate = self.model().geometry.sample_rate
            self.cache["context_audio"] = speech_like(
                self.settings.context_recording_seconds, rate, seed=1)
        return self.cache["context_audio"]

    def full_pass(self) -> tuple[np.ndarray, float]:
        """transformers' own forward over the whole context recording (its feature extractor
        normalises the whole waveform): ``(num_frames, hidden)`` float32 and its seconds."""
        if "full_pass" not in self.cache:
            import torch

            loaded = self.model()
            waveform = self.context_audio()
            fe = loaded.feature_extractor
            values = fe(waveform, sampling_rate=fe.sampling_rate,
                        return_tensors="pt").input_values.to(self.device)

            def run():
                with torch.inference_mode():
                    return loaded.model(values).last_hidden_state[0].float().cpu().numpy()

            seconds, out = timed(run, self.device)
            self.cache["full_pass"] = (out, seconds)
        return self.cache["full_pass"]

    def on_device(self, device: str) -> Bench:
        return Bench(replace(self.settings, device=device))


def _warm_up(loaded) -> None:
    """One short forward: first calls pay one-time costs (allocator, kernel selection)."""
    import torch

    x = torch.zeros(1, loaded.geometry.sample_rate, device=loaded.device, dtype=loaded.dtype)
    with torch.inference_mode():
        loaded.model(x)


def _plan(bench: Bench, num_samples: int, chunk_seconds: float | None, context_seconds: float):
    from w2vbackend.windows import frames_for_seconds, plan_windows

    geometry = bench.model().geometry
    chunk_frames = (None if chunk_seconds is None
                    else max(1, frames_for_seconds(chunk_seconds, geometry, round_up=False)))
    context_frames = frames_for_seconds(context_seconds, geometry, round_up=True)
    return plan_windows(num_samples, geometry, chunk_frames, context_frames)


def _naive_bounds(bench: Bench, num_samples: int) -> list[tuple[int, int]]:
    geometry = bench.model().geometry
    return naive.chunk_bounds(num_samples, round(bench.settings.naive_chunk_seconds
                                                 * geometry.sample_rate),
                              geometry.receptive_field)


def _naive_inputs(bench: Bench, waveform: np.ndarray, loaded) -> list:
    bounds = _naive_bounds(bench, waveform.shape[0])
    pieces = naive.chunk_inputs(waveform, bounds, loaded.do_normalize)
    return [naive.prepare(p, loaded.device, loaded.dtype) for p in pieces]


def _planned_inputs(waveform: np.ndarray, windows, loaded) -> list:
    """The engine's windows as bare model inputs, normalised over the whole recording."""
    from w2vbackend.normalisation import recording_normalisation

    mean, std = recording_normalisation(waveform) if loaded.do_normalize else (0.0, 1.0)
    inputs = []
    for w in windows:
        piece = ((waveform[w.sample_start:w.sample_stop].astype(np.float64) - mean) / std)
        inputs.append(naive.prepare(piece.astype(np.float32), loaded.device, loaded.dtype))
    return inputs


def _bare(loaded, inputs: list) -> None:
    import torch

    with torch.inference_mode():
        for x in inputs:
            loaded.model(x)


def _extract(bench: Bench, loaded, waveform: np.ndarray, **kwargs):
    from w2vbackend import extract

    kwargs.setdefault("chunk_seconds", bench.settings.chunk_seconds)
    kwargs.setdefault("context_seconds", bench.settings.context_seconds)
    kwargs.setdefault("positional_context", bench.settings.positional_context)
    return extract(waveform, sample_rate=loaded.geometry.sample_rate, model=loaded, **kwargs)


def _cli_args(bench: Bench, wav: Path, out: Path) -> list[str]:
    s = bench.settings
    return [str(wav), "--model", str(bench.checkpoint(s.shape)), "--output-dir", str(out),
            "--device", s.device, "--chunk-seconds", f"{s.chunk_seconds:g}",
            "--context-seconds", f"{s.context_seconds:g}", "--overwrite", "--quiet"] + (
                [] if s.threads is None else ["--threads", str(s.threads)])


def _cli_in_process(args: list[str]) -> None:
    from w2vbackend import cli

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(args)
    if code != 0:
        raise RuntimeError(f"w2v-extract exited with {code}: {stderr.getvalue()[-500:]}")


def _cli_subprocess(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "w2vbackend", *args], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"w2v-extract exited with {result.returncode}: "
                           f"{result.stderr[-500:]}")


# ---------------------------------------------------------------------------------------------
# 1 + 2: end-to-end pipeline, bare model, naive method (one interleaved measurement)

def core_timings(bench: Bench) -> dict[str, Any]:
    """Interleaved wall times on the timing recording of: the naive method's bare model calls
    (independent 20 s chunks, no context, inputs prepared beforehand); the bare model over the
    engine's windows (with context); ``w2v-extract`` in this process (load the checkpoint, read
    and resample the 44.1 kHz file, infer with context, write .npy/.mat/.json); and
    ``w2v-extract`` as a new process (adds interpreter start and imports)."""
    if "core" in bench.cache:
        return bench.cache["core"]
    s = bench.settings
    loaded = bench.model()
    wav, waveform = bench.timing_audio()
    windows = _plan(bench, waveform.shape[0], s.chunk_seconds, s.context_seconds)
    naive_in = _naive_inputs(bench, waveform, loaded)
    planned_in = _planned_inputs(waveform, windows, loaded)
    out_in, out_sub = s.work_dir / "cli-in-process", s.work_dir / "cli-subprocess"
    variants = {
        "naive_bare": lambda: _bare(loaded, naive_in),
        "planned_bare": lambda: _bare(loaded, planned_in),
        "cli_in_process": lambda: _cli_in_process(_cli_args(bench, wav, out_in)),
    }
    _cli_in_process(_cli_args(bench, wav, out_in))  # warm the file cache and the writers
    times = interleaved(variants, s.repeats, bench.device)
    if s.subprocess_cli:
        # Once, after the others: it differs from the in-process run by a constant (interpreter
        # start and imports), which one sample measures well enough.
        times["cli_subprocess"] = [measure(lambda: _cli_subprocess(
            _cli_args(bench, wav, out_sub)), bench.device)[0]]
    for folder in (out_in, out_sub):
        shutil.rmtree(folder, ignore_errors=True)
    bench.cache["core"] = {
        "recording_s": s.seconds,
        "original_sample_rate": s.original_rate,
        "chunk_seconds": s.chunk_seconds,
        "context_seconds": s.context_seconds,
        "engine_windows": len(windows),
        "engine_window_samples": [w.sample_stop - w.sample_start for w in windows],
        "naive_windows": len(naive_in),
        "naive_window_samples": [int(x.shape[1]) for x in naive_in],
        "repeats": s.repeats,
        "timings": {name: summary(values) for name, values in times.items()},
    }
    return bench.cache["core"]


def _ratio(core: dict, a: str, b: str, key: str = "median_s") -> float | None:
    t = core["timings"]
    if a not in t or b not in t:
        return None
    return t[a][key] / t[b][key]


def overhead(bench: Bench) -> dict[str, Any]:
    """Part 1: end-to-end ``w2v-extract`` against the bare model."""
    core = core_timings(bench)
    e2e = _ratio(core, "cli_in_process", "naive_bare")
    t = core["timings"]
    result = {
        **core,
        "ratios": {
            "cli_over_naive_bare": e2e,
            "cli_over_planned_bare": _ratio(core, "cli_in_process", "planned_bare"),
            "planned_bare_over_naive_bare": _ratio(core, "planned_bare", "naive_bare"),
            "cli_subprocess_over_naive_bare": _ratio(core, "cli_subprocess", "naive_bare"),
        },
        # The same ratios from CPU seconds: insensitive to other processes taking cores, but
        # they weigh single-threaded steps (load, resample, write) half as much as wall time.
        "cpu_ratios": {
            "cli_over_naive_bare": _ratio(core, "cli_in_process", "naive_bare", "cpu_median_s"),
            "planned_bare_over_naive_bare": _ratio(core, "planned_bare", "naive_bare",
                                                   "cpu_median_s"),
        },
        "pipeline_beyond_model_s": t["cli_in_process"]["median_s"]
        - t["planned_bare"]["median_s"],
        "process_start_and_imports_s": (t["cli_subprocess"]["median_s"]
                                        - t["cli_in_process"]["median_s"])
        if "cli_subprocess" in t else None,
        "target": {"what": "w2v-extract (in process) / naive bare model time",
                   "limit": TARGET_E2E_OVER_NAIVE, "value": e2e,
                   "met": bool(e2e <= TARGET_E2E_OVER_NAIVE)},
    }
    return result


def naive_method(bench: Bench) -> dict[str, Any]:
    """Part 2: the naive method's speed, frames, time slip and fidelity."""
    s = bench.settings
    core = core_timings(bench)
    loaded = bench.model()
    geometry = loaded.geometry
    # Fidelity: naive frames against the full pass, each naive frame compared with the real
    # frame it is (its time label is wrong, but its row is known).
    waveform = bench.context_audio()
    full, _ = bench.full_pass()
    bounds = _naive_bounds(bench, waveform.shape[0])
    pieces = naive.chunk_inputs(waveform, bounds, loaded.do_normalize)
    seconds, out = timed(lambda: naive.run_chunks(loaded.model, pieces, loaded.device,
                                                  loaded.dtype), bench.device)
    rows = naive.aligned_rows(bounds, geometry)
    cos = frame_cosines(out, full[rows])
    return {
        "chunk_seconds": s.naive_chunk_seconds,
        "speed": {
            "naive_bare_s": core["timings"]["naive_bare"]["median_s"],
            "cli_in_process_s": core["timings"]["cli_in_process"]["median_s"],
            "pipeline_over_naive": _ratio(core, "cli_in_process", "naive_bare"),
            "model_with_context_over_naive": _ratio(core, "planned_bare", "naive_bare"),
        },
        "long_recording": naive.frame_deficit(s.long_seconds, s.naive_chunk_seconds, geometry),
        "timing_recording": naive.frame_deficit(s.seconds, s.naive_chunk_seconds, geometry),
        "fidelity": {
            "recording_s": s.context_recording_seconds,
            "naive_frames": int(out.shape[0]),
            "exact_frames": int(full.shape[0]),
            "worst_cosine": float(cos.min()),
            "mean_cosine": float(cos.mean()),
            "seconds": seconds,
        },
    }


# ---------------------------------------------------------------------------------------------
# 3: context trade-off

def _long_flop_ratio(bench: Bench, chunk: float, context: float) -> float:
    """FLOPs of the engine's windows over those of the naive chunks, for ``long_seconds``."""
    counter = bench.flops()
    rate = bench.model().geometry.sample_rate
    n = round(bench.settings.long_seconds * rate)
    windows = _plan(bench, n, chunk, context)
    naive_lengths = [b - a for a, b in _naive_bounds(bench, n)]
    return (counter.windows([w.sample_stop - w.sample_start for w in windows])
            / counter.windows(naive_lengths))


def context_grid(bench: Bench) -> dict[str, Any]:
    """Part 3: compute overhead against worst per-frame cosine to a full pass, for every
    chunk x context; the bare naive method is re-timed between rows of the grid."""
    s = bench.settings
    loaded = bench.model()
    waveform = bench.context_audio()
    full, full_seconds = bench.full_pass()
    counter = bench.flops()
    naive_in = _naive_inputs(bench, waveform, loaded)
    naive_flops = counter.windows([int(x.shape[1]) for x in naive_in])
    naive_times = [measure(lambda: _bare(loaded, naive_in), bench.device)[0]]
    rows = []
    for chunk in s.chunks:
        for context in s.contexts:
            windows = _plan(bench, waveform.shape[0], chunk, context)
            sample, result = measure(lambda c=chunk, k=context: _extract(
                bench, loaded, waveform, chunk_seconds=c, context_seconds=k), bench.device)
            if result.embeddings.shape != full.shape:
                raise RuntimeError(f"chunk {chunk} context {context}: {result.embeddings.shape}"
                                   f" frames, full pass {full.shape}")
            cos = frame_cosines(result.embeddings, full)
            computed = sum(w.frame_stop - w.frame_start for w in windows)
            rows.append({
                "chunk_s": chunk, "context_s": context, "windows": len(windows),
                "frames_computed_over_kept": computed / full.shape[0],
                "flops_over_naive": counter.windows(
                    [w.sample_stop - w.sample_start for w in windows]) / naive_flops,
                "flops_over_naive_long": _long_flop_ratio(bench, chunk, context),
                "seconds": sample.wall_s,
                "cpu_seconds": sample.cpu_s,
                "others_cores": sample.others_cores,
                "worst_cosine": float(cos.min()),
                "cosine_p0_1": float(np.percentile(cos, 0.1)),
                "mean_cosine": float(cos.mean()),
                "worst_frame_s": float(np.argmin(cos) * loaded.geometry.frame_stride_s),
            })
        naive_times.append(measure(lambda: _bare(loaded, naive_in), bench.device)[0])
    naive = summary(naive_times)
    for row in rows:
        row["time_over_naive"] = row["seconds"] / naive["median_s"]
        row["cpu_over_naive"] = row["cpu_seconds"] / naive["cpu_median_s"]
        # The measured time ratio on this recording, carried to a long recording by the FLOP
        # ratios (this recording's edge windows are short, a long one's are nearly all full).
        row["estimated_long_time_over_naive"] = (row["time_over_naive"]
                                                 * row["flops_over_naive_long"]
                                                 / row["flops_over_naive"])
        row["estimated_long_cpu_over_naive"] = (row["cpu_over_naive"]
                                                * row["flops_over_naive_long"]
                                                / row["flops_over_naive"])
    chosen = choose_defaults(rows)
    return {
        "recording_s": s.context_recording_seconds,
        "long_recording_s": s.long_seconds,
        "naive_chunk_s": s.naive_chunk_seconds,
        "naive_bare": naive,
        "full_pass_s": full_seconds,
        "rows": rows,
        "chosen": chosen,
    }


def choose_defaults(rows: list[dict]) -> dict[str, Any]:
    """The cheapest setting on a long recording whose worst cosine reaches the target; when none
    does, the most faithful one. Cost: the measured CPU-time ratio (one sample per setting, so
    the measure least disturbed by other processes) carried to a long recording."""
    good = [r for r in rows if r["worst_cosine"] >= TARGET_WORST_COSINE]
    if good:
        pool, why = good, ("cheapest (estimated long-recording CPU time over naive) of the "
                           f"settings whose worst cosine >= {TARGET_WORST_COSINE}")
    else:
        pool, why = rows, (f"no setting reached a worst cosine of {TARGET_WORST_COSINE}; "
                           "the most faithful one")
    key = ((lambda r: (r["estimated_long_cpu_over_naive"], -r["worst_cosine"])) if good
           else (lambda r: -r["worst_cosine"]))
    best = min(pool, key=key)
    cheaper_failing = [r for r in rows if r["worst_cosine"] < TARGET_WORST_COSINE
                       and r["estimated_long_cpu_over_naive"]
                       < best["estimated_long_cpu_over_naive"]]
    return {"chunk_s": best["chunk_s"], "context_s": best["context_s"], "rule": why,
            "row": best,
            "meets_time_target": bool(best["estimated_long_cpu_over_naive"]
                                      <= TARGET_E2E_OVER_NAIVE),
            "best_failing_cheaper": max(cheaper_failing, key=lambda r: r["worst_cosine"])
            if cheaper_failing else None}


# ---------------------------------------------------------------------------------------------
# 4: layer truncation

def layers(bench: Bench) -> dict[str, Any]:
    """Part 4: hidden state ``truncated_layer`` against all layers (``last_hidden_state``)."""
    s = bench.settings
    loaded = bench.model()
    _, waveform = bench.timing_audio()
    layer = s.truncated_layer
    times = interleaved({
        "all_layers": lambda: _extract(bench, loaded, waveform),
        f"layer_{layer}": lambda: _extract(bench, loaded, waveform, layers=layer),
    }, s.repeats, bench.device)
    counter = bench.flops()
    n = round(s.naive_chunk_seconds * loaded.geometry.sample_rate)
    stats = {name: summary(v) for name, v in times.items()}
    ratio = stats[f"layer_{layer}"]["median_s"] / stats["all_layers"]["median_s"]
    cpu_ratio = stats[f"layer_{layer}"]["cpu_median_s"] / stats["all_layers"]["cpu_median_s"]
    flop_ratio = counter.one(n, (layer,)) / counter.one(n)
    return {
        "layer": layer, "num_hidden_layers": loaded.num_hidden_layers,
        "recording_s": s.seconds,
        "timings": stats,
        "time_ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "flop_ratio": flop_ratio,
        "target": {"what": f"layer {layer} / all {loaded.num_hidden_layers} layers (time)",
                   "limit": TARGET_LAYER_RATIO, "value": ratio,
                   "met": bool(ratio <= TARGET_LAYER_RATIO)},
    }


# ---------------------------------------------------------------------------------------------
# 5: precision

def precision(bench: Bench) -> dict[str, Any]:
    """Part 5: float32 against bfloat16 (and float16 on GPU): speed and worst deviation."""
    s = bench.settings
    dtypes = ["float32", "bfloat16"] + (["float16"] if bench.device.type == "cuda" else [])
    _, waveform = bench.timing_audio()
    models = {d: bench.model(dtype=d) for d in dtypes}
    outputs: dict[str, np.ndarray] = {}

    def variant(d):
        def run():
            outputs[d] = _extract(bench, models[d], waveform).embeddings
        return run

    times = interleaved({d: variant(d) for d in dtypes}, s.repeats, bench.device)
    reference = outputs["float32"].astype(np.float64)
    scale = float(np.sqrt(np.mean(reference ** 2)))
    rows = []
    stats = {d: summary(times[d]) for d in dtypes}
    for d in dtypes:
        cos = frame_cosines(outputs[d], outputs["float32"])
        rows.append({
            "dtype": d, **stats[d],
            "time_over_float32": stats[d]["median_s"] / stats["float32"]["median_s"],
            "cpu_over_float32": stats[d]["cpu_median_s"] / stats["float32"]["cpu_median_s"],
            "worst_cosine_vs_float32": float(cos.min()),
            "mean_cosine_vs_float32": float(cos.mean()),
            "max_abs_deviation_over_rms": float(np.max(np.abs(outputs[d] - reference))
                                                / scale),
        })
    return {"recording_s": s.seconds, "device": str(bench.device), "rows": rows}


# ---------------------------------------------------------------------------------------------
# 6: FLOPs and the machine's matmul rate

def throughput(bench: Bench) -> dict[str, Any]:
    """Part 6: FLOPs per audio second, measured matmul rates, and the achieved fraction."""
    s = bench.settings
    loaded = bench.model()
    rate = loaded.geometry.sample_rate
    counter = bench.flops()
    n20 = round(s.naive_chunk_seconds * rate)
    n_long = round(s.long_seconds * rate)
    from flops import count

    per_op = count(counter.meta, n20)
    long_windows = _plan(bench, n_long, s.chunk_seconds, s.context_seconds)
    flops_model = {
        "shape": s.shape, "window_s": s.naive_chunk_seconds,
        "gflop_per_audio_s": per_op["total"] / s.naive_chunk_seconds / 1e9,
        "gflop_per_audio_s_by_op": {k: v / s.naive_chunk_seconds / 1e9
                                    for k, v in per_op["by_op"].items()},
        "pipeline_gflop_per_audio_s_long": counter.windows(
            [w.sample_stop - w.sample_start for w in long_windows]) / s.long_seconds / 1e9,
    }
    base = bench.flops(s.base_shape)
    flops_base = {"shape": s.base_shape,
                  "gflop_per_audio_s": base.one(n20) / s.naive_chunk_seconds / 1e9}
    matmul = {d: matmul_throughput(d, bench.device, s.matmul_sizes, s.matmul_seconds)
              for d in ("float32", "bfloat16")}

    core = core_timings(bench)
    _, waveform = bench.timing_audio()
    planned = _plan(bench, waveform.shape[0], s.chunk_seconds, s.context_seconds)
    planned_flops = counter.windows([w.sample_stop - w.sample_start for w in planned])
    naive_flops = counter.windows(core["naive_window_samples"])
    t = core["timings"]
    fp32_peak = matmul["float32"]["best_gflops"]
    achieved = {
        "model_with_context": planned_flops / t["planned_bare"]["median_s"] / 1e9,
        "naive_bare": naive_flops / t["naive_bare"]["median_s"] / 1e9,
        "pipeline_in_process": planned_flops / t["cli_in_process"]["median_s"] / 1e9,
    }
    fractions = {k: v / fp32_peak for k, v in achieved.items()}
    if "part:precision" in bench.cache:
        bf16 = next(r for r in bench.cache["part:precision"]["rows"] if r["dtype"] == "bfloat16")
        achieved["engine_bfloat16"] = planned_flops / bf16["median_s"] / 1e9
        fractions["engine_bfloat16_of_bf16_matmul"] = (achieved["engine_bfloat16"]
                                                       / matmul["bfloat16"]["best_gflops"])
    value = fractions["model_with_context"]
    breakdown = (time_breakdown(loaded, n20, counter.meta) if bench.device.type == "cpu"
                 else None)
    return {
        "time_breakdown_one_window": breakdown,
        "flops": flops_model, "flops_base": flops_base, "matmul": matmul,
        "planned_gflop": planned_flops / 1e9, "naive_gflop": naive_flops / 1e9,
        "achieved_gflops": achieved, "fraction_of_fp32_matmul": fractions,
        "target": {"what": "model FLOP rate / best fp32 matmul rate", "limit":
                   TARGET_MATMUL_FRACTION, "value": value,
                   "met": bool(value >= TARGET_MATMUL_FRACTION)},
    }


# ---------------------------------------------------------------------------------------------
# 7: memory (benchmarks/bench_memory.py)

def memory(bench: Bench) -> dict[str, Any]:
    """Part 7: peak RSS of ``w2v-extract`` for a short and a long recording, one layer and all."""
    import json

    s = bench.settings
    out = s.work_dir / "memory.json"
    # In a fresh, small process: a child's peak RSS (ru_maxrss) starts from its parent's when
    # it is forked, and this process holds several models by now.
    cmd = [sys.executable, str(Path(__file__).with_name("bench_memory.py")),
           "--durations", *map(str, s.memory_durations), "--layers", *s.memory_layers,
           "--work-dir", str(s.work_dir / "memory"), "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    shutil.rmtree(s.work_dir / "memory", ignore_errors=True)
    if not out.exists():
        raise RuntimeError(f"bench_memory.py exited with {done.returncode}: {done.stderr[-800:]}")
    result = json.loads(out.read_text())
    out.unlink()
    worst = max((c["ratio"] for c in result["checks"]), default=math.nan)
    result["target"] = {"what": "(peak RSS - waveform), longest / shortest recording",
                        "limit": TARGET_MEMORY_RATIO, "value": worst,
                        "met": bool(worst <= TARGET_MEMORY_RATIO)}
    return result


# ---------------------------------------------------------------------------------------------
# 8: GPU

def gpu(bench: Bench) -> dict[str, Any]:
    """Part 8: parts 1, 4, 5 and the matmul rates on CUDA, when there is a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        reason = ("torch was built without CUDA" if torch.version.cuda is None
                  else "no CUDA device is visible")
        if bench.settings.shape != "tiny":
            return {"skipped": f"no CUDA GPU here ({reason}; torch {torch.__version__})"}
        # --quick: the same code on the CPU, so that the GPU part is exercised everywhere.
        return {"device": f"cpu (--quick smoke run: {reason})",
                "stages": _stages_on(bench.on_device("cpu"), "bfloat16"),
                "matmul": {d: matmul_throughput(d, bench.device, bench.settings.matmul_sizes,
                                                bench.settings.matmul_seconds)
                           for d in ("float32", "bfloat16")}}
    sub = bench.on_device("cuda")
    sub.settings = replace(sub.settings, subprocess_cli=False)
    result = {"device": torch.cuda.get_device_name(0),
              "stages": _stages_on(sub, "bfloat16"),
              "overhead": overhead(sub), "layers": layers(sub), "precision": precision(sub),
              "matmul": {d: matmul_throughput(d, sub.device, sub.settings.matmul_sizes,
                                              sub.settings.matmul_seconds)
                         for d in ("float32", "bfloat16", "float16")},
              "batching": "windows run one at a time (the engine does not batch windows)"}
    return result


def _stages_on(sub: Bench, dtype: str) -> dict[str, Any]:
    """Part 9 on ``sub``'s device in ``dtype``, with the model's share of the matmul peak."""
    import bench_stages

    sub.stage_dtype = dtype
    return bench_stages.stage_breakdown(sub)


def stages(bench: Bench) -> dict[str, Any]:
    """Part 9: stage breakdown of the long recording and the short files (bench_stages.py)."""
    import bench_stages

    return bench_stages.stage_breakdown(bench)


PARTS = {
    "overhead": overhead,
    "naive": naive_method,
    "context": context_grid,
    "layers": layers,
    "precision": precision,
    "throughput": throughput,
    "memory": memory,
    "stages": stages,
    "gpu": gpu,
}
