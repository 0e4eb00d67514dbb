"""The benchmark script runs from a clone: ``benchmarks/run.py --quick`` runs every part on a
miniature model and writes a complete results.json and results.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What every part must report (the README's table and the targets are built from these).
PART_KEYS = {
    "overhead": {"timings", "ratios", "target", "engine_windows", "naive_windows"},
    "naive": {"speed", "long_recording", "fidelity"},
    "context": {"rows", "chosen", "naive_bare", "full_pass_s"},
    "layers": {"timings", "time_ratio", "flop_ratio", "target"},
    "precision": {"rows"},
    "throughput": {"flops", "flops_base", "matmul", "achieved_gflops",
                   "fraction_of_fp32_matmul", "target"},
    "memory": {"rows", "checks", "target"},
    "stages": {"long", "short", "resample", "targets"},
}
MACHINE_KEYS = {"cpu_model", "logical_cpus", "torch_threads", "torch", "transformers"}


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                           "--output-dir", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (json.loads((out / "results.json").read_text()),
            (out / "results.md").read_text())


def test_every_part_reports_its_keys(quick_results):
    results, _ = quick_results
    assert set(results["machine"]) >= MACHINE_KEYS
    parts = results["parts"]
    assert set(parts) == set(PART_KEYS) | {"gpu"}
    for name, keys in PART_KEYS.items():
        assert "error" not in parts[name], parts[name].get("traceback")
        assert keys <= set(parts[name]), (name, keys - set(parts[name]))
    gpu = parts["gpu"]
    # --quick runs the GPU part's code on the CPU when there is no CUDA device.
    assert "error" not in gpu, gpu.get("traceback")
    assert {"stages", "matmul"} <= set(gpu)
    assert gpu["stages"]["long"]["dtype"] == "bfloat16"
    assert gpu["device"].startswith("cpu") or {"overhead", "layers", "precision"} <= set(gpu)


def test_grid_and_timings_are_complete(quick_results):
    results, _ = quick_results
    parts, settings = results["parts"], results["settings"]
    rows = parts["context"]["rows"]
    assert {(r["chunk_s"], r["context_s"]) for r in rows} == {
        (c, k) for c in settings["chunks"] for k in settings["contexts"]}
    for r in rows:
        assert -1.0 <= r["worst_cosine"] <= r["mean_cosine"] <= 1.0 + 1e-6
        assert r["seconds"] > 0 and r["flops_over_naive"] > 0
    for name in ("naive_bare", "planned_bare", "cli_in_process"):
        assert parts["overhead"]["timings"][name]["median_s"] > 0
    assert {r["dtype"] for r in parts["precision"]["rows"]} >= {"float32", "bfloat16"}
    assert parts["throughput"]["matmul"]["float32"]["best_gflops"] > 0


def test_naive_frame_deficit_matches_the_formula(quick_results):
    results, _ = quick_results
    long = results["parts"]["naive"]["long_recording"]
    chunk = round(long["chunk_seconds"] * 16000)
    total = round(long["duration_s"] * 16000)
    # Unpadded convolutions: (n - 400) // 320 + 1 frames for n samples.
    per_chunk = (chunk - 400) // 320 + 1
    exact = (total - 400) // 320 + 1
    assert long["naive_frames"] == per_chunk * (total // chunk)
    assert long["frame_deficit"] == exact - per_chunk * (total // chunk) > 0
    last_onset = (total - chunk + (per_chunk - 1) * 320) / 16000
    assert long["time_slip_at_end_s"] == pytest.approx(
        last_onset - (long["naive_frames"] - 1) * 0.02)


def test_markdown_has_the_summary_table(quick_results):
    _, markdown = quick_results
    assert markdown.startswith("## Performance")
    assert "| measure | measured | target | verdict |" in markdown
    assert "### 3. Context trade-off" in markdown
