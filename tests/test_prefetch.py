"""Preparing the next file while the model computes, and the stage timer.

The prefetcher is checked with events (what runs when, and in which thread); the runner with it
against the runner without it: the same outcomes, the same errors and byte-identical outputs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from w2vbackend import cli, runner, stages
from w2vbackend.prefetch import Prefetcher


class Recorder:
    """``prepare`` that notes which items started, in which thread, and can be held back."""

    def __init__(self, fail: tuple[str, ...] = ()):
        self.started: list[str] = []
        self.threads: dict[str, str] = {}
        self.fail = fail
        self.cond = threading.Condition()

    def __call__(self, item: str) -> str:
        with self.cond:
            self.started.append(item)
            self.threads[item] = threading.current_thread().name
            self.cond.notify_all()
        if item in self.fail:
            raise ValueError(f"cannot prepare {item}")
        return item.upper()

    def wait_started(self, item: str, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: item in self.started, timeout)


def test_the_next_item_is_prepared_in_the_background_and_no_further():
    prepare = Recorder()
    items = ["a", "b", "c"]
    prefetch = Prefetcher(items, prepare)
    assert prefetch.take(items[0]) == "A"
    assert prepare.wait_started("b")  # started without anyone asking for it
    assert "c" not in prepare.started  # one ahead only
    assert prefetch.take(items[1]) == "B"
    assert prepare.wait_started("c")
    assert prefetch.take(items[2]) == "C"
    assert prepare.started == items
    assert set(prepare.threads.values()) == {"w2v-prefetch"}


def test_an_error_is_raised_by_the_take_of_its_item_and_the_next_still_comes():
    prepare = Recorder(fail=("b",))
    items = ["a", "b", "c"]
    prefetch = Prefetcher(items, prepare)
    assert prefetch.take(items[0]) == "A"
    with pytest.raises(ValueError, match="cannot prepare b"):
        prefetch.take(items[1])
    assert prefetch.take(items[2]) == "C"


def test_a_skipped_item_moves_the_preparation_on():
    prepare = Recorder()
    items = ["a", "b", "c"]
    prefetch = Prefetcher(items, prepare)
    prefetch.skip(items[0])
    assert prepare.wait_started("b")
    assert prefetch.take(items[1]) == "B"
    assert prepare.started == ["a", "b", "c"] or prepare.wait_started("c")


def test_disabled_prefetch_runs_in_the_callers_thread_on_demand():
    prepare = Recorder()
    items = ["a", "b"]
    prefetch = Prefetcher(items, prepare, enabled=False)
    assert prepare.started == []
    assert prefetch.take(items[1]) == "B" and prefetch.take(items[0]) == "A"
    assert prepare.started == ["b", "a"]
    assert set(prepare.threads.values()) == {threading.current_thread().name}


def test_stages_add_up_per_thread_and_in_collectors():
    mine = stages.StageTimes()
    with stages.collecting() as every:
        with stages.recording(mine):
            with stages.stage("decode"):
                pass
            with stages.stage("decode"):
                pass

        def other() -> None:
            with stages.stage("model"):
                pass

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    with stages.stage("after"):  # nobody listens: nothing is recorded anywhere
        pass
    assert mine.calls == {"decode": 2}
    assert every.calls == {"decode": 2, "model": 1}
    assert all(v >= 0 for v in every.seconds.values())


def _run(paths, out, checkpoint, prefetch, monkeypatch):
    monkeypatch.setattr(runner, "PREFETCH", prefetch)
    summary = out.parent / f"summary-{prefetch}.json"
    code = cli.main([*map(str, paths), "--model", str(checkpoint), "--output-dir", str(out),
                     "--chunk-seconds", "1", "--quiet", "--summary-json", str(summary)])
    return code, json.loads(summary.read_text())


def test_runs_with_and_without_prefetch_agree_file_by_file(tmp_path, make_wav, xlsr_checkpoint,
                                                           monkeypatch):
    first, _ = make_wav("first.wav", duration_s=2.5, sample_rate=44100, channels=2, seed=1)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    missing = tmp_path / "missing.wav"
    last, _ = make_wav("last.wav", duration_s=3.0, sample_rate=22050, seed=2)
    paths = [first, broken, missing, last]
    results = {}
    for prefetch in (True, False):
        out = tmp_path / f"out-{prefetch}"
        code, summary = _run(paths, out, xlsr_checkpoint, prefetch, monkeypatch)
        results[prefetch] = (code, summary)
    (code_on, on), (code_off, off) = results[True], results[False]
    assert code_on == code_off == 1
    statuses = [f["status"] for f in on["files"]]
    assert statuses == ["written", "failed", "failed", "written"]
    assert statuses == [f["status"] for f in off["files"]]
    assert [f["error"] for f in on["files"]] == [f["error"] for f in off["files"]]
    for file_on, file_off in zip(on["files"], off["files"]):
        if file_on["status"] != "written":
            continue
        npy_on, npy_off = file_on["outputs"]["npy"], file_off["outputs"]["npy"]
        with open(npy_on, "rb") as a, open(npy_off, "rb") as b:
            assert a.read() == b.read()
        doc = json.loads(Path(file_on["outputs"]["json"]).read_text())
        timing = doc["timing"]["stages_s"]
        assert {"hash", "decode", "resample", "model", "write_npy", "write_mat"} <= set(timing)
        assert doc["audio"]["resampler"]["down"] == 441  # 44.1 and 22.05 kHz: 441 to 160 or 320
