"""Writing a :class:`~w2vbackend.calibrate.Calibration` as a report a methods section can cite:
``B.md`` (table, recommendation, a sentence to adapt), ``B.json`` (the same figures) and
``B.png`` (per-frame ``1 - cosine`` against the position relative to the nearest cut, per
setting).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import __version__
from .calibrate import Calibration, SettingFigures
from .defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from .metadata import jsonable, package_versions, utc_now_iso

REPORT_FORMAT = "w2v-calibration"
DEFAULT_REPORT_BASENAME = "w2v_calibration"


def _setting(figures: Optional[SettingFigures]) -> Optional[dict[str, Any]]:
    return None if figures is None else figures.to_json()


def report_document(cal: Calibration) -> dict[str, Any]:
    """The ``B.json`` document."""
    return jsonable({
        "format": REPORT_FORMAT,
        "format_version": 1,
        "written_at": utc_now_iso(),
        "model": cal.model,
        "audio": cal.audio,
        "layers": list(cal.layers),
        "reference": {"start_s": cal.reference_start_s, "seconds": cal.reference_seconds,
                      "wall_time_s": cal.reference_wall_time_s},
        "target": cal.target,
        "positional_context": cal.positional_context,
        "default": {"chunk_seconds": DEFAULT_CHUNK_SECONDS,
                    "context_seconds": DEFAULT_CONTEXT_SECONDS},
        "cost": "model FLOPs per output frame of a long recording, relative to the default",
        "settings": [s.to_json() for s in cal.settings],
        "recommended": _setting(cal.recommended),
        "package_versions": package_versions(),
    })


def _floor(value: float, digits: int = 6) -> str:
    """``value`` rounded down, so that "at least" stays true."""
    return f"{math.floor(value * 10**digits) / 10**digits:.{digits}f}"


def _cell(value: Optional[float], digits: int = 6) -> str:
    return "no cut" if value is None else _floor(value, digits)


def report_markdown(cal: Calibration, figure_name: Optional[str]) -> str:
    """The ``B.md`` report."""
    model, audio = cal.model, cal.audio
    versions = package_versions()
    layers = ", ".join(str(i) for i in cal.layers)
    lines = [
        f"# Chunking calibration: {os.path.basename(str(model['name']))}",
        "",
        f"- model: `{model['name']}` (revision {model['revision'] or 'default'}, "
        f"{model['model_type']}, {model['num_hidden_layers']} layers), {model['device']}, "
        f"{model['dtype']}",
        f"- recording: `{audio['path'] or 'array'}` ({audio['duration_s']:.2f} s); reference: "
        f"one forward pass over {cal.reference_seconds:.2f} s from {cal.reference_start_s:g} s",
        f"- hidden states: {layers} (transformers numbering; per frame the lowest cosine of "
        "these)",
        *([] if cal.positional_context else
          ["- plain windows (`positional_context=False`): the positional convolution sees only "
           "each window's own audio"]),
        f"- w2vbackend {__version__}, torch {versions.get('torch')}, transformers "
        f"{versions.get('transformers')}; written {utc_now_iso()}",
        "",
        f"Target: worst per-frame cosine similarity >= {cal.target:g}. Cost: model FLOPs per "
        f"output frame of a long recording, relative to the default (chunk "
        f"{DEFAULT_CHUNK_SECONDS:g} s, context {DEFAULT_CONTEXT_SECONDS:g} s).",
        "",
        "| chunk (s) | context (s) | cuts | worst cosine | 1 - worst | median cosine | worst "
        "frame from cut (s) | relative cost | wall time (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in cal.settings:
        where = "" if s.worst_frame_from_cut_s is None else f"{s.worst_frame_from_cut_s:+.2f}"
        mark = " *" if s is cal.recommended else ""
        gap = "" if s.worst_cosine is None else f"{1 - s.worst_cosine:.1e}"
        lines.append(f"| {s.chunk_seconds:g}{mark} | {s.context_seconds:g} | {s.cuts} | "
                     f"{_cell(s.worst_cosine)} | {gap} | {_cell(s.median_cosine)} | {where} | "
                     f"{s.relative_cost:.2f}x | {s.wall_time_s:.2f} |")
    lines.append("")
    rec = cal.recommended
    if rec is None:
        lines += [f"**No setting reaches the target {cal.target:g}.** Try longer chunks (or "
                  "`--chunk-seconds inf`, one window, where memory allows) and more context.",
                  ""]
    else:
        lines += [
            f"**Recommended** (*): chunk {rec.chunk_seconds:g} s, context "
            f"{rec.context_seconds:g} s: worst cosine {_floor(rec.worst_cosine)} (1 - cosine "
            f"{1 - rec.worst_cosine:.1e}), median "
            f"{rec.median_cosine:.6f}, {rec.relative_cost:.2f}x the default's cost.",
            "",
            "For a methods section (adapt):",
            "",
            f"> Embeddings (hidden states {layers}) were computed with w2v {__version__} in "
            f"windows keeping {rec.chunk_seconds:g} s of audio each, with {rec.context_seconds:g}"
            f" s of attention context on each side and the positional convolution's full reach."
            f" On a {cal.reference_seconds:.0f}-s excerpt of the stimulus, per-frame cosine "
            f"similarity to a single forward pass over the excerpt was at least "
            f"{_floor(rec.worst_cosine)} (1 - cosine at most {1 - rec.worst_cosine:.1e}; "
            f"median {rec.median_cosine:.6f}).",
            "",
        ]
    if figure_name:
        lines += [f"![per-frame cosine against the position relative to the nearest cut]"
                  f"({figure_name})", ""]
    return "\n".join(lines)


# 1 - cosine is drawn on a log axis (cosines of good settings all read "1.0000" on a linear one);
# exact frames are drawn at this floor.
FIGURE_FLOOR = 1e-9


def write_figure(cal: Calibration, path: Path) -> bool:
    """``B.png``: per chunk one panel, per context one line of ``1 - cosine`` (log axis) of the
    worst frame at each position relative to the nearest cut (s), and the target as a dashed
    line. False when no setting had a cut."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    measured = [s for s in cal.settings if s.cosines is not None]
    if not measured:
        return False
    chunks = sorted({s.chunk_seconds for s in measured})
    fig, axes = plt.subplots(1, len(chunks), figsize=(4.2 * len(chunks), 3.4), sharey=True,
                             squeeze=False)
    for ax, chunk in zip(axes[0], chunks):
        for s in (m for m in measured if m.chunk_seconds == chunk):
            offsets = np.asarray(s.offsets)
            positions = np.unique(offsets)
            worst = np.array([s.cosines[offsets == p].min() for p in positions])
            ax.plot(positions * cal.frame_stride_s, np.maximum(1 - worst, FIGURE_FLOOR), lw=1,
                    label=f"context {s.context_seconds:g} s")
        ax.axhline(1 - cal.target, color="k", ls="--", lw=0.8,
                   label=f"target (cosine {cal.target:g})")
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_yscale("log")
        ax.set_title(f"chunk {chunk:g} s")
        ax.set_xlabel("position relative to the nearest cut (s)")
    axes[0][0].set_ylabel("1 - cosine to one pass\n(worst frame at each position)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_report(cal: Calibration, folder: str | os.PathLike,
                 basename: str = DEFAULT_REPORT_BASENAME) -> dict[str, Optional[Path]]:
    """Write ``B.md``, ``B.json`` and ``B.png`` into ``folder`` (created if missing); returns
    their paths (``png`` None when no setting had a cut)."""
    from .names import validate_basename

    validate_basename(basename)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{basename}.png"
    figure = write_figure(cal, png)
    md = out / f"{basename}.md"
    md.write_text(report_markdown(cal, png.name if figure else None), encoding="utf-8")
    doc = out / f"{basename}.json"
    doc.write_text(json.dumps(report_document(cal), indent=2, allow_nan=False) + "\n",
                   encoding="utf-8")
    return {"md": md, "json": doc, "png": png if figure else None}
