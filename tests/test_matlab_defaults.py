"""The defaults that MATLAB's help text states are the backend's defaults.

MATLAB sends only the options a user sets (``+w2v/+internal/option_table.m``), so the backend
decides every default; this test reads the ``[default]`` of each option in the help of
``w2v.extract`` and ``w2v.B2_model_wav2vec2`` and compares it with the default of the backend's
option parser for the request key that ``option_table.m`` maps the option to. Options that
MATLAB handles itself (no request key) and the pipeline's own paths are not the backend's.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from w2vbackend.cluster_options import ClusterOptions
from w2vbackend.request import OPTION_BY_NAME

# Every option the backend takes from a request, with its default: what to compute (the
# request table) and how to run it (the cluster options).
BACKEND_DEFAULTS = {**{name: option.default for name, option in OPTION_BY_NAME.items()},
                    **{f.name: f.default_factory() if callable(f.default_factory) else f.default
                       for f in fields(ClusterOptions)}}

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_OWN = {"AudioFile", "OutputDir", "ProjectRoot"}  # the lab pipeline's own defaults


def option_keys() -> dict[str, str]:
    """Option name -> request key ('' for MATLAB-side options), from option_table.m."""
    text = (ROOT / "+w2v" / "+internal" / "option_table.m").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*'(\w+)', '(\w*)', @", text, flags=re.MULTILINE)
    assert len(rows) >= 10, "option_table.m no longer has the expected row layout"
    return dict(rows)


def help_defaults(name: str) -> dict[str, str]:
    """Option -> the text inside its last top-level [...] in the help's option list."""
    lines = (ROOT / "+w2v" / f"{name}.m").read_text(encoding="utf-8").splitlines()
    blocks: dict[str, str] = {}
    current = None
    for line in lines:
        start = re.match(r"^\s*%\s{5}([A-Z]\w+)\s{2,}(.*)$", line)
        more = re.match(r"^\s*%\s{6,}(\S.*)$", line)
        if start:
            current = start.group(1)
            blocks[current] = start.group(2)
        elif more and current:
            blocks[current] += " " + more.group(1)
        else:
            current = None
    return {option: last_bracket(text) for option, text in blocks.items() if "[" in text}


def last_bracket(text: str) -> str:
    end = text.rindex("]")
    depth = 0
    for k in range(end, -1, -1):
        depth += {"]": 1, "[": -1}.get(text[k], 0)
        if depth == 0:
            return text[k + 1:end].strip()
    raise AssertionError(f"unbalanced brackets in {text!r}")


def as_value(text: str):
    """A MATLAB default as written in help text -> Python value (None for 'use the default')."""
    if re.match(r"^(\[\]|'')(\s*=.*)?$", text):
        return None
    if text in ("true", "false"):
        return text == "true"
    quoted = re.fullmatch(r"'([^']*)'", text)
    if quoted:
        return quoted.group(1)
    try:
        return float(text)
    except ValueError:
        return NOT_A_LITERAL


NOT_A_LITERAL = object()


@pytest.mark.parametrize("function", ["extract", "B2_model_wav2vec2"])
def test_help_defaults_are_the_backends(function):
    keys = option_keys()
    documented = help_defaults(function)
    checked = []
    for option, text in documented.items():
        key = keys.get(option, "")
        if not key or (function == "B2_model_wav2vec2" and option in PIPELINE_OWN):
            continue
        backend = BACKEND_DEFAULTS[key]
        stated = as_value(text)
        if stated is NOT_A_LITERAL:  # a default described in words ("one per file")
            continue
        if isinstance(stated, float) and backend is not None:
            backend = float(backend)
        assert stated == backend, f"{function}.m says {option} [{text}]; the backend: {backend!r}"
        checked.append(option)
    assert len(checked) >= (12 if function == "extract" else 7), checked


def test_every_backend_option_is_a_key_the_backend_knows():
    for option, key in option_keys().items():
        if key:
            assert key in BACKEND_DEFAULTS, f"{option} maps to {key!r}, unknown to the backend"
