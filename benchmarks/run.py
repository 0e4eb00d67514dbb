"""Speed and memory of w2v against the bare model and the naive method, measured in one run.

    .venv/bin/python benchmarks/run.py                       # everything (about 20 min, 2 cores)
    .venv/bin/python benchmarks/run.py --parts context,layers --seconds 30
    .venv/bin/python benchmarks/run.py --quick               # every part, tiny (smoke test)

Builds random-weight checkpoints with the real shapes of facebook/wav2vec2-large-xlsr-53 and
facebook/wav2vec2-base (benchmarks/shapes.py; timing does not depend on weight values),
synthesises speech-like audio, and writes ``results.json`` and ``results.md`` to the output
folder (default benchmarks/results/). Run it on a quiet machine: absolute times are only as good
as the machine's load; the ratios come from interleaved runs in the same process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

# Local random-weight checkpoints only: never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

ALL_PARTS = ("overhead", "naive", "context", "layers", "precision", "throughput", "memory",
             "stages", "gpu")
DEFAULT_OUTPUT = HERE / "results"

# --quick: every part on a miniature XLSR-like model and a few seconds of audio.
QUICK = {
    "seconds": 4.0, "context_recording_seconds": 6.0, "chunks": (1.0, 2.0),
    "contexts": (0.0, 0.5), "chunk_seconds": 1.0, "context_seconds": 0.5,
    "naive_chunk_seconds": 1.0, "repeats": 1, "shape": "tiny", "base_shape": "tiny-base",
    "truncated_layer": 2, "memory_durations": (2.0, 4.0), "memory_layers": ("last",),
    "subprocess_cli": False, "matmul_sizes": (256, 512), "matmul_seconds": 0.05,
    "quiet_wait_s": 0.0, "stages_long_seconds": 6.0, "stages_short_files": 10,
}


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _parts(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [n for n in names if n not in ALL_PARTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown}; choose from "
                                         f"{','.join(ALL_PARTS)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    from w2vbackend.defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--parts", type=_parts, default=ALL_PARTS,
                   help="comma-separated parts to run: " + ",".join(ALL_PARTS))
    p.add_argument("--quick", action="store_true",
                   help="every part on a tiny model and seconds of audio (a smoke test)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="length of the recording for the timing parts")
    p.add_argument("--context-recording-seconds", type=float, default=70.0,
                   help="length of the recording of the context grid (gets a full pass)")
    p.add_argument("--chunks", type=_floats, default=(10.0, 20.0, 40.0, 60.0),
                   help="chunk lengths of the context grid (s)")
    p.add_argument("--contexts", type=_floats, default=(0.0, 1.0, 2.0, 5.0, 10.0),
                   help="context lengths of the context grid (s)")
    p.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS,
                   help="the pipeline's chunk in the timing parts (engine default)")
    p.add_argument("--context-seconds", type=float, default=DEFAULT_CONTEXT_SECONDS,
                   help="the pipeline's context in the timing parts (engine default)")
    p.add_argument("--no-positional-context", action="store_true",
                   help="engine runs with plain windows (extract(positional_context=False))")
    p.add_argument("--repeats", type=int, default=3,
                   help="interleaved repetitions of every timed variant (medians reported)")
    p.add_argument("--memory-durations", type=_floats, default=(600.0, 7200.0),
                   help="recording lengths of the memory part (s)")
    p.add_argument("--stages-long-seconds", type=float, default=3600.0,
                   help="length of the long 44.1 kHz stereo file of the stage breakdown (s)")
    p.add_argument("--stages-short-files", type=int, default=200,
                   help="number of short files of the stage breakdown")
    p.add_argument("--stages-short-seconds", type=float, default=2.0,
                   help="length of each short file of the stage breakdown (s)")
    p.add_argument("--quiet-wait-s", type=float, default=30.0,
                   help="longest wait for a quiet machine before each measurement (s)")
    p.add_argument("--device", default="cpu", help="device of parts 1-6 (part 8 uses CUDA)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-subprocess", action="store_true",
                   help="do not time w2v-extract as a separate process")
    p.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT,
                   help="where results.json, results.md and the built checkpoints go")
    p.add_argument("--update", action="store_true",
                   help="keep the other parts of an existing results.json and replace only "
                        "the parts run now")
    p.add_argument("--markdown-only", action="store_true",
                   help="measure nothing: rewrite results.md from the output folder's "
                        "results.json")
    return p


def settings_from(args: argparse.Namespace):
    from parts import Settings

    s = Settings(
        seconds=args.seconds, context_recording_seconds=args.context_recording_seconds,
        chunks=args.chunks, contexts=args.contexts, chunk_seconds=args.chunk_seconds,
        context_seconds=args.context_seconds, repeats=args.repeats,
        memory_durations=args.memory_durations, device=args.device, threads=args.threads,
        subprocess_cli=not args.no_subprocess, stages_long_seconds=args.stages_long_seconds,
        stages_short_files=args.stages_short_files,
        stages_short_seconds=args.stages_short_seconds, quiet_wait_s=args.quiet_wait_s,
        positional_context=not args.no_positional_context,
        work_dir=args.output_dir / "work", checkpoint_dir=args.output_dir / "checkpoints")
    if args.quick:
        # One thread: a miniature model's operators are too small to share between threads.
        s = replace(s, **QUICK, threads=args.threads or 1)
    return s


def _jsonable(value: Any) -> Any:
    """Settings and results as JSON: paths as strings, tuples as lists, NaN as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def write_results(results: dict[str, Any], folder: Path) -> None:
    import report

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "results.json.tmp"
    tmp.write_text(json.dumps(_jsonable(results), indent=2) + "\n")
    tmp.replace(folder / "results.json")
    (folder / "results.md").write_text(report.markdown(results))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.markdown_only:
        import report

        results = json.loads((args.output_dir / "results.json").read_text())
        (args.output_dir / "results.md").write_text(report.markdown(results))
        return 0
    settings = settings_from(args)
    if settings.threads is not None:
        from w2vbackend.device import set_threads

        set_threads(settings.threads)
    import common
    from common import load_average, machine_info
    from parts import PARTS, Bench

    common.QUIET_MAX_WAIT_S = settings.quiet_wait_s
    started = time.perf_counter()
    command = " ".join([".venv/bin/python", "benchmarks/run.py",
                        *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    results: dict[str, Any] = {
        "command": command,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "settings": asdict(settings),
        "machine": machine_info(),
        "parts": {},
        "wall_s": 0.0,
    }
    previous = args.output_dir / "results.json"
    if args.update and previous.exists():
        old = json.loads(previous.read_text())
        results["parts"] = old["parts"]
        results["updated"] = {"parts": list(args.parts), "command": command,
                              "started_utc": results["started_utc"],
                              "settings": results["settings"]}
        for key in ("command", "started_utc", "settings", "machine", "wall_s"):
            results[key] = old[key]
    bench = Bench(settings)
    failed = []
    for name in ALL_PARTS:
        if name not in args.parts:
            continue
        print(f"[{time.perf_counter() - started:7.1f} s] {name} ...", file=sys.stderr, flush=True)
        part_started = time.perf_counter()
        try:
            result = PARTS[name](bench)
        except Exception as exc:  # noqa: BLE001, RUF100 - one failed part must not stop the others
            failed.append(name)
            result = {"error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()}
            print(result["traceback"], file=sys.stderr)
        result["part_wall_s"] = time.perf_counter() - part_started
        bench.cache[f"part:{name}"] = result
        results["parts"][name] = result
        if not args.update:
            results["wall_s"] = time.perf_counter() - started
        results["machine"]["load_average_at_end"] = load_average()
        write_results(results, args.output_dir)
    print(f"[{time.perf_counter() - started:7.1f} s] done; wrote "
          f"{args.output_dir / 'results.json'} and results.md", file=sys.stderr)
    if failed:
        print(f"failed parts: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
