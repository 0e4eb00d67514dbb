"""Every spelling of the same ``layers`` request is one run: the option check, the fingerprint
and the engine read it through one parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
from w2vbackend.errors import UsageError
from w2vbackend.fingerprint import fingerprint_digest, fingerprint_inputs
from w2vbackend.layers import parse_layers, resolve_layers
from w2vbackend.request import make_request

SAME = {
    "last": [None, "", "last", " LAST "],
    "6,12,-1": ["6,12,-1", "[6, 12, -1]", [6, 12, -1], (6.0, 12.0, -1.0), np.array([6, 12, -1])],
    "3": [3, "3", [3], np.int64(3), 3.0],
    "all": ["all", "All"],
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_equivalent_spellings_give_one_resolution(name):
    resolutions = {resolve_layers(s, 24) for s in SAME[name]}
    assert len(resolutions) == 1


def test_last_minus_one_and_the_count_are_one_fingerprint(tmp_path):
    """Resolved before fingerprinting: a rerun spelled differently finds its outputs."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"num_hidden_layers": 24}))
    digests = {fingerprint_digest(fingerprint_inputs(
        make_request({"audio": ["a.wav"], "model": str(model), "layers": spec}), "0" * 64))
        for spec in ("last", -1, "24", [24], (-1,))}
    assert len(digests) == 1
    other = fingerprint_digest(fingerprint_inputs(
        make_request({"audio": ["a.wav"], "model": str(model), "layers": 23}), "0" * 64))
    assert other not in digests


@pytest.mark.parametrize("spec", [[3, 6, -1], [6, -1], "0,-7", [2, 2]])
def test_two_names_for_one_layer_are_refused_not_dropped(spec):
    with pytest.raises(UsageError, match="twice"):
        resolve_layers(spec, 6)


@pytest.mark.parametrize("bad", [1e300, [10**30], "99999999999999999999"])
def test_absurd_indices_are_usage_errors(bad):
    with pytest.raises(UsageError, match="layers"):
        parse_layers(bad)


@pytest.mark.parametrize("bad", ["six", "1,,2", [], [1.5], [True], True, {"a": 1},
                                 [float("nan")], "1;2"])
def test_malformed_specs_are_usage_errors(bad):
    with pytest.raises(UsageError, match="layers"):
        parse_layers(bad)
