"""The results of benchmarks/run.py as Markdown: a summary against the targets, then each part."""

from __future__ import annotations

from typing import Any


def _x(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def _s(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} s"


def _cos(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.5f}"


def _verdict(target: dict | None, lower_is_better: bool = True) -> str:
    if not target or target.get("value") is None:
        return "n/a"
    if target["met"]:
        return "met"
    value, limit = target["value"], target["limit"]
    by = value / limit - 1 if lower_is_better else 1 - value / limit
    return f"missed by {100 * by:.0f}%"


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (f"{m['cpu_model']}, {m['usable_cpus'] or m['logical_cpus']} cores, torch "
            f"{m['torch']} ({m['torch_threads']} threads, {m['cpu_capability']}), transformers "
            f"{m['transformers']}; load average at start {m['load_average_at_start']}")


def summary_table(results: dict[str, Any]) -> list[str]:
    parts = results["parts"]
    rows = ["| measure | measured | target | verdict |", "| --- | ---: | ---: | --- |"]
    ov = parts.get("overhead", {})
    if "target" in ov:
        rows.append(f"| `w2v-extract` end to end (load, resample 44.1 kHz, infer with "
                    f"{ov['context_seconds']:g} s context, write) / naive bare model, "
                    f"{_duration(ov['recording_s'])} | {_x(ov['target']['value'])} (CPU "
                    f"{_x(ov['cpu_ratios']['cli_over_naive_bare'])}) "
                    f"| <= {ov['target']['limit']:.2f}x | {_verdict(ov['target'])} |")
        rows.append(f"| bare model over the pipeline's windows / naive bare model "
                    f"| {_x(ov['ratios']['planned_bare_over_naive_bare'])} (CPU "
                    f"{_x(ov['cpu_ratios']['planned_bare_over_naive_bare'])}) | | |")
    ctx = parts.get("context", {})
    if "chosen" in ctx:
        row = ctx["chosen"]["row"]
        ok = row["worst_cosine"] >= 0.999
        rows.append(f"| worst per-frame cosine against a full pass, chunk {row['chunk_s']:g} s, "
                    f"context {row['context_s']:g} s | {_cos(row['worst_cosine'])} | >= 0.999 "
                    f"| {'met' if ok else 'missed'} |")
        long_cpu = row["estimated_long_cpu_over_naive"]
        rows.append(f"| same setting: estimated time / naive on a "
                    f"{_duration(ctx['long_recording_s'])} recording (engine only) "
                    f"| {_x(row['estimated_long_time_over_naive'])} (CPU {_x(long_cpu)}) "
                    f"| <= 1.10x | {'met' if long_cpu <= 1.10 else 'missed'} |")
    lay = parts.get("layers", {})
    if "target" in lay:
        rows.append(f"| layer {lay['layer']} / all {lay['num_hidden_layers']} layers (time; "
                    f"FLOPs {_x(lay['flop_ratio'])}) | {_x(lay['time_ratio'])} (CPU "
                    f"{_x(lay['cpu_ratio'])}) "
                    f"| <= {lay['target']['limit']:.2f}x | {_verdict(lay['target'])} |")
    thr = parts.get("throughput", {})
    if "target" in thr:
        t = thr["target"]
        rows.append(f"| model FLOP rate / best fp32 matmul rate "
                    f"({thr['achieved_gflops']['model_with_context']:.0f} / "
                    f"{thr['matmul']['float32']['best_gflops']:.0f} GFLOP/s) "
                    f"| {100 * t['value']:.0f}% | >= {100 * t['limit']:.0f}% "
                    f"| {_verdict(t, lower_is_better=False)} |")
    mem = parts.get("memory", {})
    if "target" in mem:
        for c in mem["checks"]:
            rows.append(f"| peak RSS beyond the waveform, {_duration(c['long_s'])} / "
                        f"{_duration(c['short_s'])}, layers={c['layers']} "
                        f"| {_x(c['ratio'], 3)} | <= {mem['target']['limit']:.2f}x "
                        f"| {'met' if c['within_target'] else 'missed'} |")
    pre = parts.get("precision", {})
    for r in pre.get("rows", []):
        if r["dtype"] != "float32":
            rows.append(f"| {r['dtype']} / float32 time (worst cosine "
                        f"{_cos(r['worst_cosine_vs_float32'])}) "
                        f"| {_x(r['time_over_float32'])} | | |")
    stg = parts.get("stages", {})
    for key, what in (("long", "one long file"), ("short", "short files")):
        if key in stg.get("targets", {}):
            t, w = stg["targets"][key], stg[key]
            rows.append(f"| `w2v-extract` end to end / bare model, {what} "
                        f"({w['files']} x {w['audio_s'] / w['files']:g} s, 44.1 kHz stereo) "
                        f"| {_x(t['value'], 3)} | <= {t['limit']:.2f}x | {_verdict(t)} |")
    nai = parts.get("naive", {})
    if "long_recording" in nai:
        lr = nai["long_recording"]
        rows.append(f"| naive {lr['chunk_seconds']:g} s chunks, {_duration(lr['duration_s'])}:"
                    f" frames lost / time slip at the end | {lr['frame_deficit']} / "
                    f"{lr['time_slip_at_end_s']:.2f} s | 0 / 0 s (pipeline: exact) | |")
    return rows


def part_tables(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    parts = results["parts"]
    for name, part in parts.items():
        if "skipped" in part:
            out += [f"### {_TITLES.get(name, name)}", "", f"Skipped: {part['skipped']}", ""]
            continue
        if "error" in part:
            out += [f"### {_TITLES.get(name, name)}", "", f"Failed: {part['error']}", ""]
            continue
        render = _RENDER.get(name)
        if render is not None:
            out += [*render(part), ""]
    return out


def _overhead(p: dict) -> list[str]:
    title = (f"### 1. Pipeline overhead ({_duration(p['recording_s'])} at "
             f"{p['original_sample_rate']} Hz; {p['engine_windows']} windows of chunk "
             f"{p['chunk_seconds']:g} s + context {p['context_seconds']:g} s; naive: "
             f"{p['naive_windows']} chunks; median of {p['repeats']})")
    lines = [title, "", "| variant | median | min | max | / naive bare | CPU / naive bare "
             "| others' cores (max) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    base = p["timings"]["naive_bare"]
    for name, t in p["timings"].items():
        others = "n/a" if t["others_cores_max"] is None else f"{t['others_cores_max']:.2f}"
        lines.append(f"| {name} | {_s(t['median_s'], 2)} | {_s(t['min_s'], 2)} "
                     f"| {_s(t['max_s'], 2)} | {_x(t['median_s'] / base['median_s'])} "
                     f"| {_x(t['cpu_median_s'] / base['cpu_median_s'])} | {others} |")
    lines.append("")
    lines.append(f"Pipeline beyond the model (load, read, resample, normalise, copy, write): "
                 f"{p['pipeline_beyond_model_s']:.2f} s; process start and imports: "
                 f"{_s(p['process_start_and_imports_s'], 2)}.")
    return lines


def _naive(p: dict) -> list[str]:
    lr, fid = p["long_recording"], p["fidelity"]
    speed = (f"- Speed: `w2v-extract` / naive bare = {_x(p['speed']['pipeline_over_naive'])}; "
             f"bare model with context / naive = "
             f"{_x(p['speed']['model_with_context_over_naive'])}.")
    slip = (f"- {_duration(lr['duration_s'])}: {lr['num_chunks']} chunks of "
            f"{lr['frames_per_full_chunk']} frames = {lr['naive_frames']} frames instead of "
            f"{lr['exact_frames']} ({lr['frame_deficit']} lost); its last frame is labelled "
            f"{lr['last_frame_label_s']:.2f} s but starts at {lr['last_frame_true_onset_s']:.2f}"
            f" s: a slip of {lr['time_slip_at_end_s']:.2f} s.")
    fidelity = (f"- Fidelity on {_duration(fid['recording_s'])}: worst per-frame cosine against "
                f"a full pass {_cos(fid['worst_cosine'])} (mean {_cos(fid['mean_cosine'])}), "
                f"comparing each naive frame with the real frame it is.")
    return [f"### 2. Naive method ({p['chunk_seconds']:g} s chunks, no context)", "",
            speed, slip, fidelity]


def _context(p: dict) -> list[str]:
    long = _duration(p["long_recording_s"])
    title = (f"### 3. Context trade-off ({_duration(p['recording_s'])} recording, full pass "
             f"{p['full_pass_s']:.1f} s; naive bare {p['naive_bare']['median_s']:.2f} s)")
    header = (f"| chunk | context | windows | FLOPs / naive | FLOPs / naive, {long} "
              f"| time / naive | CPU / naive | est. CPU / naive, {long} | worst cosine "
              "| mean cosine |")
    lines = [title, "", header, "|" + " ---: |" * 10]
    for r in p["rows"]:
        lines.append(f"| {r['chunk_s']:g} s | {r['context_s']:g} s | {r['windows']} "
                     f"| {_x(r['flops_over_naive'])} | {_x(r['flops_over_naive_long'])} "
                     f"| {_x(r['time_over_naive'])} | {_x(r['cpu_over_naive'])} "
                     f"| {_x(r['estimated_long_cpu_over_naive'])} "
                     f"| {_cos(r['worst_cosine'])} | {_cos(r['mean_cosine'])} |")
    c = p["chosen"]
    lines += ["", f"Chosen: chunk {c['chunk_s']:g} s, context {c['context_s']:g} s ({c['rule']})."]
    return lines


def _layers(p: dict) -> list[str]:
    t = p["timings"]
    return [f"### 4. Layer truncation ({_duration(p['recording_s'])})", "",
            "| layers | median | ratio | CPU ratio |", "| --- | ---: | ---: | ---: |"] + [
        f"| {name} | {_s(v['median_s'], 2)} | "
        f"{_x(v['median_s'] / t['all_layers']['median_s'])} "
        f"| {_x(v['cpu_median_s'] / t['all_layers']['cpu_median_s'])} |"
        for name, v in t.items()] + [
        "", f"FLOP ratio: {_x(p['flop_ratio'])}."]


def _precision(p: dict) -> list[str]:
    lines = [f"### 5. Precision ({_duration(p['recording_s'])}, {p['device']})", "",
             "| dtype | median | / float32 | CPU / float32 | worst cosine vs float32 "
             "| max abs dev / rms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in p["rows"]:
        lines.append(f"| {r['dtype']} | {_s(r['median_s'], 2)} | {_x(r['time_over_float32'])} "
                     f"| {_x(r['cpu_over_float32'])} "
                     f"| {_cos(r['worst_cosine_vs_float32'])} "
                     f"| {r['max_abs_deviation_over_rms']:.4f} |")
    return lines


def _throughput(p: dict) -> list[str]:
    f = p["flops"]
    ops = ", ".join(f"{k} {v:.1f}" for k, v in f["gflop_per_audio_s_by_op"].items())
    per_second = (f"- {f['shape']}: {f['gflop_per_audio_s']:.1f} GFLOP per audio second in "
                  f"{f['window_s']:g} s windows ({ops}); with the pipeline's context on a long "
                  f"recording {f['pipeline_gflop_per_audio_s_long']:.1f}. "
                  f"{p['flops_base']['shape']}: {p['flops_base']['gflop_per_audio_s']:.1f}.")
    lines = ["### 6. Throughput", "", per_second,
             "- matmul (best of square sizes): " + ", ".join(
                 f"{d} {m['best_gflops']:.0f} GFLOP/s (n={m['best_size']})"
                 for d, m in p["matmul"].items()) + ".",
             "", "| run | GFLOP/s | of the matmul rate of its dtype |", "| --- | ---: | ---: |"]
    for k, v in p["achieved_gflops"].items():
        bf16 = k.endswith("bfloat16")
        frac = v / p["matmul"]["bfloat16" if bf16 else "float32"]["best_gflops"]
        lines.append(f"| {k} | {v:.0f} | {100 * frac:.0f}% ({'bf16' if bf16 else 'fp32'}) |")
    b = p.get("time_breakdown_one_window")
    if b:
        intro = (f"Where one {b['num_samples'] / 16000:g} s window's forward spends its time "
                 "(self CPU time per operator kind, torch.profiler):")
        lines += ["", intro, "",
                  "| operators | share of time | GFLOP | GFLOP/s |", "| --- | ---: | ---: | ---: |"]
        for r in b["rows"]:
            rate = "" if r["gflops"] is None else f"{r['gflops']:.0f}"
            lines.append(f"| {r['category']} | {100 * r['time_share']:.0f}% "
                         f"| {r['gflop']:.1f} | {rate} |")
    return lines


def _memory(p: dict) -> list[str]:
    import bench_memory

    return ["### 7. Memory", "", bench_memory.markdown_table(p)]


def _stages(p: dict) -> list[str]:
    import bench_stages

    return bench_stages.markdown(p)


def _gpu(p: dict) -> list[str]:
    lines = [f"### 8. GPU ({p['device']})", ""]
    for key, render in (("overhead", _overhead), ("layers", _layers),
                        ("precision", _precision), ("stages", _stages)):
        if key in p:
            lines += [*render(p[key]), ""]
    lines.append("matmul: " + ", ".join(f"{d} {m['best_gflops']:.0f} GFLOP/s"
                                        for d, m in p["matmul"].items()))
    return lines


_TITLES = {"overhead": "1. Pipeline overhead", "naive": "2. Naive method",
           "context": "3. Context trade-off", "layers": "4. Layer truncation",
           "precision": "5. Precision", "throughput": "6. Throughput", "memory": "7. Memory",
           "gpu": "8. GPU", "stages": "9. Stage breakdown"}

_RENDER = {"overhead": _overhead, "naive": _naive, "context": _context, "layers": _layers,
           "precision": _precision, "throughput": _throughput, "memory": _memory,
           "stages": _stages, "gpu": _gpu}


def markdown(results: dict[str, Any]) -> str:
    lines = ["## Performance", "", f"Machine: {machine_line(results)}.",
             f"Command: `{results['command']}` (total {results['wall_s'] / 60:.1f} min)."]
    updated = results.get("updated")
    if updated:
        lines.append(f"Parts {', '.join(updated['parts'])} re-measured afterwards with "
                     f"`{updated['command']}` ({updated['started_utc']}).")
    lines.append("")
    lines += [*summary_table(results), ""]
    lines += part_tables(results)
    return "\n".join(lines).rstrip() + "\n"
