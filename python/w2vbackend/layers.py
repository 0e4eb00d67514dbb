"""The ``layers`` option, in one torch-free place: its syntax and its resolution.

:func:`parse_layers` checks the syntax without the model; :func:`resolve_layers` turns any
spelling into the non-negative hidden-state indices of a model with ``L`` transformer layers.
The request is resolved before anything else (the fingerprint hashes the resolved indices), so
``last``, ``-1`` and ``L`` are the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from .errors import UsageError

LayersSpec = Union[str, tuple[int, ...]]

# No wav2vec2-family model has more layers; larger numbers are typos (and 1e300 must not reach
# int() arithmetic).
MAX_LAYER_INDEX = 10_000
_EXPECTED = "expected 'last', 'all', an index or a list of indices such as '6,12,-1'"


def parse_layers(spec) -> LayersSpec:
    """``"last"``, ``"all"`` or a non-empty tuple of (possibly negative) indices.

    Accepted: ``None``, ``""`` or ``"last"`` (-> ``"last"``); ``"all"``; an int (or an
    integer-valued float, as MATLAB sends numbers); a sequence or array of those; a string such
    as ``"6,12,-1"`` or ``"[6, 12]"``. Anything else raises :class:`UsageError`.
    """
    if spec is None:
        return "last"
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("", "last", "all"):
            return text or "last"
        try:
            items: list = [int(p) for p in text.strip("[]()").split(",")]
        except ValueError:
            raise UsageError(f"layers {spec!r}: {_EXPECTED}") from None
    elif isinstance(spec, (bool, np.bool_)):
        raise UsageError(f"layers {spec!r}: {_EXPECTED}")
    elif isinstance(spec, (int, np.integer, float, np.floating)):
        items = [spec]
    elif isinstance(spec, (Sequence, np.ndarray)):
        items = list(np.asarray(spec).ravel()) if isinstance(spec, np.ndarray) else list(spec)
    else:
        raise UsageError(f"layers {spec!r}: {_EXPECTED}")
    if not items:
        raise UsageError("layers: the list of layers is empty")
    indices = []
    for item in items:
        if (isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.number))
                or (isinstance(item, (int, np.integer)) and abs(int(item)) > MAX_LAYER_INDEX)
                or not np.isfinite(item) or not float(item).is_integer()):
            raise UsageError(f"layers: {str(item)[:40]!r} is not a layer index")
        if abs(float(item)) > MAX_LAYER_INDEX:
            raise UsageError(f"layers: {item!r} is not a layer index (models have at most a few "
                             "dozen layers)")
        indices.append(int(item))
    return tuple(indices)


def resolve_layers(spec, num_hidden_layers: int) -> tuple[int, ...]:
    """Hidden-state indices asked for by ``spec``, made non-negative, in the order asked.

    Numbering is transformers' ``output_hidden_states`` numbering for a model with
    ``L = num_hidden_layers`` transformer layers:

    * ``0``: the transformer input (feature projection + positional convolution; for post-LN
      models such as wav2vec2-base also after the encoder LayerNorm);
    * ``i`` in ``1..L-1``: the output of transformer layer ``i``;
    * ``L``: ``last_hidden_state`` (for pre-LN models such as XLS-R, the output of layer ``L``
      followed by the encoder's final LayerNorm, as in transformers 4.x ``hidden_states[L]``).

    Accepted specs: see :func:`parse_layers`; ``"last"`` is ``(L,)`` and ``"all"`` is
    ``(0, ..., L)``. Negative indices count from the end (``-1 == L``, ``-(L+1) == 0``).
    Out-of-range indices, and two entries that name the same layer (``12`` and ``-1`` of a
    12-layer model), raise :class:`UsageError`: the result always has one entry per index asked.

    Other toolkits number differently:

    * transformers 4.x ``hidden_states[i]`` equals our ``i`` for every ``i``. transformers 5
      returns, for pre-LN models only, the last layer's output *before* the final LayerNorm as
      ``hidden_states[L]``; our ``L`` stays ``last_hidden_state``.
    * torchaudio ``extract_features(wave)[0][i]`` (0-based list of layer outputs) is our
      ``i + 1``; it has no index 0, and for pre-LN models its last entry lacks the final
      LayerNorm (so it differs from our ``L``). ``num_layers=n`` returns our ``1..n``.
    * fairseq wav2vec2 ``extract_features(source, padding_mask, layer=k)`` stops after the 0-based
      transformer layer ``k`` and returns our ``k + 1`` (without the final LayerNorm of pre-LN
      models); ``layer=None`` returns our ``L``; ``layer_results[j]`` is our ``j + 1``.
    * fairseq HuBERT and the WavLM reference code ``extract_features(..., output_layer=k)``
      (1-based) return our ``k`` (for ``k = L`` of pre-LN models, without the final LayerNorm).
    """
    total = int(num_hidden_layers)
    parsed = parse_layers(spec)
    if parsed == "last":
        return (total,)
    if parsed == "all":
        return tuple(range(total + 1))
    resolved: list[int] = []
    for index in parsed:
        if not -(total + 1) <= index <= total:
            raise UsageError(f"layers: index {index} is out of range for a model with {total} "
                             f"transformer layers (valid: 0..{total} or -{total + 1}..-1)")
        absolute = index + total + 1 if index < 0 else index
        if absolute in resolved:
            raise UsageError(f"layers: {list(parsed)} names layer {absolute} twice (of a model "
                             f"with {total} transformer layers); give each layer once")
        resolved.append(absolute)
    return tuple(resolved)
