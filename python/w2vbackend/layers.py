"""The ``layers`` option's syntax, in one torch-free place.

The CLI's option check, the outputs' fingerprint and the engine all read a ``layers`` request
through :func:`parse_layers`, so that every spelling of the same request means the same run.
The range (which indices the model has) is checked by ``extract.resolve_layers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from .errors import UsageError

LayersSpec = Union[str, tuple[int, ...]]

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
                or not np.isfinite(item) or not float(item).is_integer()):
            raise UsageError(f"layers: {item!r} is not a layer index")
        indices.append(int(item))
    return tuple(indices)
