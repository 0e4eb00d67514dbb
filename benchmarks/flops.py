"""Counting a model's floating-point operations, and measuring what the machine can do.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on a copy of the model's
architecture on the ``meta`` device: no weights, no arithmetic, exact shapes, so counting a
20 s window takes a fraction of a second. One multiply-add counts as 2 FLOPs. On CPU torch runs
attention as ``_scaled_dot_product_flash_attention_for_cpu``, which the counter does not know;
it is given the same formula as the other SDPA kernels (4 * batch * heads * q_len * k_len * d).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

SQUARE_SIZES = (1024, 2048, 4096)
MATMUL_SECONDS = 1.0  # per size and dtype: repeat until this much time has been spent


def meta_copy(model):
    """The model's architecture on the meta device (no memory, no arithmetic)."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        copy = AutoModel.from_config(model.config)
    return copy.eval()


def _sdpa_formula():
    from torch.utils.flop_counter import sdpa_flop_count

    def formula(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    return formula


def counter():
    """A ``FlopCounterMode`` that also counts CPU flash attention."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    mapping = {}
    for name in ("_scaled_dot_product_flash_attention_for_cpu",):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = _sdpa_formula()
    return FlopCounterMode(display=False, custom_mapping=mapping)


def count(meta_model, num_samples: int, layers: Sequence[int] | None = None) -> dict[str, Any]:
    """FLOPs of one forward pass over ``num_samples`` input samples.

    ``layers``: hidden-state indices (the engine's ``hidden_states``, which stops after the
    deepest one); ``None``: a plain forward to ``last_hidden_state``. Returns ``total`` and a
    per-operator breakdown (FLOPs).
    """
    import torch
    from w2vbackend.forward import hidden_states

    x = torch.zeros(1, int(num_samples), device="meta")
    mode = counter()
    # inference_mode breaks weight-norm parametrisations under the counter; no_grad is enough.
    with torch.no_grad(), mode:
        if layers is None:
            meta_model(x)
        else:
            hidden_states(meta_model, x, list(layers))
    by_op = {str(op).replace("aten.", ""): int(n)
             for op, n in mode.get_flop_counts().get("Global", {}).items()}
    return {"total": int(mode.get_total_flops()), "by_op": by_op}


class WindowFlops:
    """FLOPs of many windows of one model, counted once per distinct window length."""

    def __init__(self, model):
        self.meta = meta_copy(model)
        self._count = cache(self._count_uncached)

    def _count_uncached(self, num_samples: int, layers: tuple[int, ...] | None) -> int:
        return count(self.meta, num_samples, layers)["total"]

    def one(self, num_samples: int, layers: Sequence[int] | None = None) -> int:
        return self._count(int(num_samples), None if layers is None else tuple(layers))

    def windows(self, lengths: Sequence[int], layers: Sequence[int] | None = None) -> int:
        """Total FLOPs of windows of the given sample lengths."""
        return int(sum(self.one(n, layers) for n in lengths))


def matmul_throughput(dtype_name: str, device="cpu", sizes: Sequence[int] = SQUARE_SIZES,
                      seconds: float = MATMUL_SECONDS) -> dict[str, Any]:
    """Measured ``torch.matmul`` rate of square ``n x n`` matrices (2 n^3 FLOPs per product).

    For each size: one warm-up product, then products until ``seconds`` have passed; the best
    single product's rate is the machine's attainable rate at that size (GFLOP/s).
    """
    import torch
    from common import synchronize

    dtype = getattr(torch, dtype_name)
    rows = []
    for n in sizes:
        generator = torch.Generator(device="cpu").manual_seed(n)
        a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        torch.matmul(a, b)
        rates = []
        spent = 0.0
        while spent < seconds or len(rates) < 2:
            synchronize(device)
            started = time.perf_counter()
            torch.matmul(a, b)
            synchronize(device)
            elapsed = time.perf_counter() - started
            spent += elapsed
            rates.append(2.0 * n ** 3 / elapsed / 1e9)
        rows.append({"size": n, "best_gflops": float(max(rates)),
                     "median_gflops": float(np.median(rates)), "products": len(rates)})
    best = max(rows, key=lambda r: r["best_gflops"])
    return {"dtype": dtype_name, "device": str(device), "sizes": rows,
            "best_gflops": best["best_gflops"], "best_size": best["size"]}


# Operator names (self time in the profiler) -> what they are, for the time breakdown.
_CATEGORIES = (
    ("attention", ("scaled_dot_product", "flash_attention", "bmm", "softmax")),
    ("matmul", ("addmm", "aten::mm", "matmul", "linear")),
    ("convolution", ("conv",)),
    ("normalisation", ("norm",)),
    ("activation", ("gelu",)),
)
# Counted FLOPs (see count) -> the same categories.
_FLOP_CATEGORIES = {"addmm": "matmul", "mm": "matmul", "convolution": "convolution",
                    "bmm": "attention", "_scaled_dot_product_flash_attention_for_cpu":
                    "attention"}


def _category(name: str) -> str:
    lowered = name.lower()
    for category, needles in _CATEGORIES:
        if any(n in lowered for n in needles):
            return category
    return "other"


def time_breakdown(loaded, num_samples: int, meta_model) -> dict[str, Any]:
    """Where one bare forward over ``num_samples`` samples spends its time: self CPU time per
    operator category (torch.profiler), with the FLOPs counted for each category and the rate
    each achieves (GFLOP/s). CPU only (GPU kernels run asynchronously)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    x = torch.zeros(1, int(num_samples), device=loaded.device, dtype=loaded.dtype)
    with torch.inference_mode():
        loaded.model(x)  # warm-up at this shape
        started = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            loaded.model(x)
        wall = time.perf_counter() - started
    seconds: dict[str, float] = {}
    for event in prof.key_averages():
        category = _category(event.key)
        seconds[category] = seconds.get(category, 0.0) + event.self_cpu_time_total / 1e6
    flops: dict[str, int] = {}
    for op, n in count(meta_model, num_samples)["by_op"].items():
        category = _FLOP_CATEGORIES.get(op, "other")
        flops[category] = flops.get(category, 0) + n
    total = sum(seconds.values())
    rows = []
    for category in sorted(seconds, key=seconds.get, reverse=True):
        rows.append({"category": category, "seconds": seconds[category],
                     "time_share": seconds[category] / total if total else None,
                     "gflop": flops.get(category, 0) / 1e9,
                     "gflops": (flops.get(category, 0) / 1e9 / seconds[category])
                     if seconds[category] > 0 and flops.get(category) else None})
    return {"num_samples": int(num_samples), "wall_s_profiled": wall,
            "threads_note": "self CPU time summed over operators (inter-op threads overlap)",
            "rows": rows}
