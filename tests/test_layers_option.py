"""Every spelling of the same ``layers`` request is one run: the option check, the fingerprint
and the engine read it through one parser."""

from __future__ import annotations

import numpy as np
import pytest
from w2vbackend.errors import UsageError
from w2vbackend.extract import resolve_layers
from w2vbackend.layers import parse_layers
from w2vbackend.writers import normalize_layers_spec

SAME = {
    "last": [None, "", "last", " LAST "],
    "6,12,-1": ["6,12,-1", "[6, 12, -1]", [6, 12, -1], (6.0, 12.0, -1.0), np.array([6, 12, -1])],
    "3": [3, "3", [3], np.int64(3), 3.0],
    "all": ["all", "All"],
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_equivalent_spellings_give_one_fingerprint_and_one_resolution(name):
    spellings = SAME[name]
    fingerprints = {str(normalize_layers_spec(s)) for s in spellings}
    resolutions = {resolve_layers(s, 24) for s in spellings}
    assert len(fingerprints) == 1 and len(resolutions) == 1


@pytest.mark.parametrize("bad", ["six", "1,,2", [], [1.5], [True], True, {"a": 1},
                                 [float("nan")], "1;2"])
def test_malformed_specs_are_usage_errors(bad):
    with pytest.raises(UsageError, match="layers"):
        parse_layers(bad)
