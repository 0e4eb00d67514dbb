"""Reading a JSON request file: the options as data (how MATLAB passes them), never as a shell
string. Values are checked by :func:`w2vbackend.request.make_request`, not here."""

from __future__ import annotations

import json
from typing import Any

from .errors import UsageError, printable, shorten
from .request import OPTION_BY_NAME, REQUEST_KEYS

# A request file is a flat object; deeper nesting is refused before it can exhaust the stack.
MAX_REQUEST_BYTES = 16 * 2**20
MAX_REQUEST_DEPTH = 8


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def read_request_file(path: str, extra_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The option values in a JSON request file (an object whose keys are option names, or
    ``extra_keys``: the options of how to run, see :mod:`w2vbackend.cluster_options`).

    As MATLAB's ``jsonencode`` writes it: an empty array ``[]`` means "not given" for options
    that have a default. Values are checked by :func:`make_request`, not here.
    """
    shown = printable(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_REQUEST_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read the request file ({exc.strerror or exc})") \
            from None
    if len(raw) > MAX_REQUEST_BYTES:
        raise UsageError(f"{shown}: the request file is larger than "
                         f"{MAX_REQUEST_BYTES // 2**20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise UsageError(f"{shown}: the request file is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{shown}: the request file is not valid JSON "
                         f"({shorten(str(exc), 120)})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown}: the request file must hold a JSON object")
    if _depth(data, MAX_REQUEST_DEPTH) > MAX_REQUEST_DEPTH:
        raise UsageError(f"{shown}: the request file is nested too deeply")
    unknown = sorted(set(data) - set(REQUEST_KEYS) - set(extra_keys))
    if unknown:
        raise UsageError(f"{shown}: unknown key(s) in the request file: "
                         f"{', '.join(shorten(k, 40) for k in unknown)}; known: "
                         f"{', '.join((*REQUEST_KEYS, *extra_keys))}")
    return {key: (None if key in OPTION_BY_NAME and value == [] and OPTION_BY_NAME[key].nullable
                  else value) for key, value in data.items()}
