"""The command line end to end with a small local checkpoint: files against the engine's arrays,
many files with one model load, skip-if-unchanged, request and summary JSON, errors and exit
codes, the lock, output-folder problems."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import soundfile as sf
from synth import speech_like
from w2vbackend import cli
from w2vbackend import request as request_module
from w2vbackend.lock import OutputLock
from writers_fixtures import file_digests, temp_files

BIN = Path(sys.executable).parent


@pytest.fixture()
def wav(tmp_path):
    """Write speech-like audio to tmp_path/name; returns the path."""

    def _make(name="speech.wav", duration_s=4.0, seed=0, sample_rate=16000):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, speech_like(duration_s, sample_rate, seed=seed), sample_rate,
                 subtype="PCM_16")
        return path

    return _make


@pytest.fixture()
def run_cli(xlsr_checkpoint, tmp_path, capsys):
    """Run main() in this process with the small checkpoint; returns (code, stderr, summary)."""

    def _run(*args, model=True, out="out"):
        argv = [str(a) for a in args]
        if model:
            argv += ["--model", str(xlsr_checkpoint)]
        if out and "--output-dir" not in argv:
            argv += ["--output-dir", str(tmp_path / out)]
        summary = tmp_path / "summary.json"
        if summary.exists():
            summary.unlink()
        code = cli.main([*argv, "--summary-json", str(summary), "--quiet"]
                        if "--quiet" not in argv and "--no-quiet" not in argv
                        else [a for a in argv if a != "--no-quiet"] + ["--summary-json",
                                                                       str(summary)])
        err = capsys.readouterr().err
        return code, err, json.loads(summary.read_text()) if summary.exists() else None

    return _run


def test_outputs_equal_the_engines_arrays(run_cli, wav, tmp_path, xlsr_checkpoint):
    from w2vbackend import extract
    from w2vbackend.audio import file_sha256

    audio = wav("a b.wav", duration_s=6.0)
    code, err, summary = run_cli(audio, "--layers", "1,-1", "--chunk-seconds", "2",
                                 "--context-seconds", "0.5")
    assert code == 0, err
    reference = extract(str(audio), model=str(xlsr_checkpoint), layers="1,-1",
                        chunk_seconds=2, context_seconds=0.5)
    out = tmp_path / "out"
    npy = np.load(out / "wav2vec2_embeddings.npy")
    assert npy.dtype == np.float32 and npy.shape == reference.embeddings.shape == (2, 299, 32)
    np.testing.assert_allclose(npy, reference.embeddings, rtol=0, atol=1e-6)

    mat = scipy.io.loadmat(out / "wav2vec2_embeddings.mat")
    assert mat["embeddings"].shape == (299, 32, 2)
    for position in range(2):
        np.testing.assert_array_equal(mat["embeddings"][:, :, position], npy[position])
    np.testing.assert_array_equal(mat["time_axis"][:, 0], reference.time_axis)
    assert mat["layers"][0].tolist() == [1, 4]
    assert str(mat["model_name"][0]) == str(xlsr_checkpoint)

    meta = json.loads((out / "wav2vec2_embeddings.json").read_text())
    assert meta["audio"]["path"] == str(audio)
    assert meta["audio"]["sha256"] == file_sha256(audio)
    assert meta["audio"]["duration_s"] == pytest.approx(6.0)
    assert meta["audio"]["original_sample_rate"] == 16000
    assert meta["audio"]["original_channels"] == 1
    assert meta["model"]["name"] == str(xlsr_checkpoint)
    assert {"revision", "commit_hash"} <= set(meta["model"])
    assert meta["device"] == "cpu" and meta["dtype"] == "float32"
    assert meta["chunk_seconds"] == 2.0 and meta["context_seconds"] == 0.5
    assert meta["num_frames"] == 299 and meta["hidden_size"] == 32
    assert meta["layers"] == [1, 4]
    assert meta["frame_stride"] == 0.02 and meta["receptive_field"] == 0.025
    assert meta["time_axis_seconds"] == [0.0, reference.time_axis[-1]]
    norm = reference.metadata
    assert meta["normalisation"]["mean"] == pytest.approx(norm["normalisation_mean"])
    assert meta["normalisation"]["std"] == pytest.approx(norm["normalisation_std"])
    assert set(meta["package_versions"]) >= {"w2vbackend", "torch", "transformers", "numpy"}
    assert meta["wall_time_s"] > 0 and meta["written_at"].endswith("Z")
    assert summary["files"][0]["status"] == "written"
    assert summary["files"][0]["outputs"]["mat"] == str(out / "wav2vec2_embeddings.mat")


def test_default_is_the_last_hidden_state_in_two_dimensions(run_cli, wav, tmp_path):
    code, err, _ = run_cli(wav(duration_s=3.0))
    assert code == 0, err
    npy = np.load(tmp_path / "out" / "wav2vec2_embeddings.npy")
    assert npy.shape == (149, 32)
    mat = scipy.io.loadmat(tmp_path / "out" / "wav2vec2_embeddings.mat")
    assert mat["embeddings"].shape == (149, 32) and mat["layers"].tolist() == [[4]]


def test_rerun_is_up_to_date_without_loading_the_model(run_cli, wav, tmp_path, monkeypatch):
    audio = wav()
    assert run_cli(audio)[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded for an up-to-date input")

    monkeypatch.setattr("w2vbackend.model.load_model", no_load)
    code, err, summary = run_cli(audio, "--no-quiet")
    assert code == 0
    assert summary["files"][0]["status"] == "up_to_date"
    assert "up to date" in err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == before


@pytest.mark.parametrize("change", [
    ["--chunk-seconds", "1"], ["--context-seconds", "0.3"], ["--layers", "2"],
    ["--mat-version", "7.3"], ["--overwrite"], ["--group-norm", "window"], "audio", "delete-mat",
])
def test_any_change_recomputes(run_cli, wav, tmp_path, change):
    audio = wav()
    assert run_cli(audio)[0] == 0
    extra = []
    if change == "audio":
        wav(seed=7)  # same name, other content
    elif change == "delete-mat":
        (tmp_path / "out" / "wav2vec2_embeddings.mat").unlink()
    else:
        extra = change
    code, err, summary = run_cli(audio, *extra)
    assert code == 0, err
    assert summary["files"][0]["status"] == "written"


def test_a_changed_default_context_recomputes(run_cli, wav, monkeypatch):
    """The default is resolved before fingerprinting: outputs made under an old default are
    not taken as up to date under a new one, and an explicit value equal to the default is the
    same run."""
    from w2vbackend.defaults import DEFAULT_CONTEXT_SECONDS

    audio = wav()
    assert run_cli(audio)[2]["files"][0]["status"] == "written"
    explicit = run_cli(audio, "--context-seconds", str(DEFAULT_CONTEXT_SECONDS))[2]
    assert explicit["files"][0]["status"] == "up_to_date"
    # A new default (the request's table is where defaults live) recomputes the old outputs.
    option = request_module.OPTION_BY_NAME["context_seconds"]
    monkeypatch.setitem(request_module.OPTION_BY_NAME, "context_seconds", dataclasses.replace(
        option, default=DEFAULT_CONTEXT_SECONDS + 1.0))
    changed = run_cli(audio)[2]
    assert changed["files"][0]["status"] == "written"


def test_many_files_one_failure_does_not_stop_the_others(run_cli, wav, tmp_path):
    good1, good2 = wav("one.wav", seed=1), wav("two.wav", seed=2)
    bad = tmp_path / "bad.wav"
    bad.write_text("this is not audio\n")
    missing = tmp_path / "missing.wav"
    code, err, summary = run_cli(good1, bad, missing, good2)
    assert code == 1
    statuses = [(Path(f["audio"]).name, f["status"], (f["error"] or {}).get("code"))
                for f in summary["files"]]
    assert statuses == [("one.wav", "written", None), ("bad.wav", "failed", "audioInvalid"),
                        ("missing.wav", "failed", "audioNotFound"), ("two.wav", "written", None)]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}_wav2vec2_embeddings.{e}" for s in ("one", "two") for e in ("npy", "mat", "json"))
    error_lines = [line for line in err.splitlines() if line.startswith("w2v-extract: error:")]
    assert len(error_lines) == 2
    assert any("bad.wav" in line for line in error_lines)
    assert any("missing.wav" in line for line in error_lines)
    assert "Traceback" not in err
    assert "4 files: 2 written, 0 up to date, 2 failed" in err


def test_verbose_adds_the_traceback(run_cli, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    code, err, _ = run_cli(bad, "--verbose")
    assert code == 1 and "Traceback" in err


def test_an_unexpected_exception_is_backend_failed_and_others_continue(run_cli, wav,
                                                                     monkeypatch):
    import w2vbackend.engine as engine

    real = engine.run_engine

    def flaky(audio, *args, **kwargs):
        if str(audio.path).endswith("boom.wav"):
            raise ZeroDivisionError("something\nbroke")
        return real(audio, *args, **kwargs)

    monkeypatch.setattr(engine, "run_engine", flaky)
    code, err, summary = run_cli(wav("boom.wav"), wav("fine.wav", seed=3))
    assert code == 1
    first, second = summary["files"]
    assert first["error"] == {"code": "backendFailed",
                              "message": "ZeroDivisionError: something broke"}
    assert second["status"] == "written"
    assert "w2v-extract: error: " in err and "Traceback" not in err


@pytest.mark.parametrize("args,needle", [
    (["--basename", "../escape"], "path separator"),
    (["--basename", "a..b"], "'..'"),
    (["--layers", "six"], "layers"),
    (["--chunk-seconds", "0"], "chunk_seconds"),
    (["--chunk-seconds", "abc"], "not a number"),
    (["--mat-version", "6"], "invalid choice"),
    (["--threads", "0"], "threads"),
])
def test_usage_errors_exit_2_with_a_summary(run_cli, wav, tmp_path, args, needle):
    code, err, summary = run_cli(wav(), *args)
    assert code == 2
    assert needle in err
    assert summary["exit_code"] == 2 and summary["ok"] is False
    assert summary["error"]["code"] == "badArgument"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_duplicate_outputs_are_refused_before_any_work(run_cli, wav, tmp_path, monkeypatch):
    monkeypatch.setattr("w2vbackend.model.load_model", lambda *a, **k: 1 / 0)
    code, err, _ = run_cli(wav("x/a.wav"), wav("y/a.wav"))
    assert code == 2 and "would both write" in err
    assert not (tmp_path / "out").exists()


def test_a_layer_the_model_lacks_is_a_usage_error(run_cli, wav):
    code, err, _ = run_cli(wav(), "--layers", "9")
    assert code == 2 and "out of range" in err


def test_request_file_with_matlab_style_values(run_cli, wav, tmp_path, xlsr_checkpoint):
    audio = wav("with 'quote' & $(x).wav")
    request = {"audio": str(audio), "output_dir": str(tmp_path / "req"), "basename": "emb",
               "model": str(xlsr_checkpoint), "device": "cpu", "chunk_seconds": 2,
               "context_seconds": 0.5, "layers": [0, -1], "dtype": "float32",
               "revision": None, "overwrite": False, "mat_version": 7.3, "threads": 1,
               "quiet": True, "verbose": False, "summary_json": None, "group_norm": "recording"}
    (tmp_path / "request.json").write_text(json.dumps(request))
    code, err, summary = run_cli("--request", tmp_path / "request.json", model=False, out=None)
    assert code == 0, err
    assert summary["files"][0]["mat_version"] == "7.3"
    assert np.load(tmp_path / "req" / "emb.npy").shape == (2, 199, 32)
    # An option on the command line wins over the request file.
    code, _, summary = run_cli("--request", tmp_path / "request.json", "--basename", "other",
                               model=False, out=None)
    assert code == 0 and summary["files"][0]["basename"] == "other"
    # MATLAB's empty array [] means "default" for optional values.
    request.update(layers=[], revision=[], threads=[], context_seconds=[], basename="empty")
    (tmp_path / "request.json").write_text(json.dumps(request))
    code, err, summary = run_cli("--request", tmp_path / "request.json", model=False, out=None)
    assert code == 0, err
    assert np.load(tmp_path / "req" / "empty.npy").shape == (199, 32)


@pytest.mark.parametrize("content,needle", [
    ({"audio": ["a.wav"], "colour": "red"}, "unknown key"),
    ({"audio": 5}, "audio must be"),
    ({"audio": ["a.wav"], "overwrite": "yes"}, "overwrite must be"),
    ({"audio": ["a.wav"], "layers": [1.5]}, "not a layer index"),
    ({"audio": ["a.wav"], "threads": float("nan")}, "threads must be"),
    ({"audio": ["a.wav"], "threads": float("inf")}, "threads must be"),
    ([1, 2], "JSON object"),
    ("{not json", "not valid JSON"),
])
def test_bad_request_files_are_usage_errors(run_cli, tmp_path, content, needle):
    path = tmp_path / "request.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    code, err, summary = run_cli("--request", path, model=False)
    assert code == 2 and needle in err
    assert summary["error"]["code"] == "badArgument"


def test_a_locked_output_is_refused_cleanly(run_cli, wav, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out / "wav2vec2_embeddings.lock"):
        code, _, summary = run_cli(wav())
    assert code == 1
    assert summary["files"][0]["error"]["code"] == "outputFailed"
    assert "wav2vec2_embeddings.lock" in summary["files"][0]["error"]["message"]
    assert sorted(os.listdir(out)) == []


def test_output_dir_that_is_a_file(run_cli, wav, tmp_path):
    (tmp_path / "out").write_text("a file")
    code, err, summary = run_cli(wav())
    assert code == 1
    assert summary["files"][0]["error"]["code"] == "outputFailed"
    assert "is a file" in err and len(err.strip().splitlines()) >= 1


def test_disk_full_keeps_earlier_outputs(run_cli, wav, tmp_path, monkeypatch):
    import errno

    audio = wav()
    assert run_cli(audio)[0] == 0
    before = file_digests(tmp_path / "out")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    code, _, summary = run_cli(audio, "--overwrite")
    assert code == 1
    assert summary["files"][0]["error"]["code"] == "outputFailed"
    assert "disk full" in summary["files"][0]["error"]["message"]
    assert file_digests(tmp_path / "out") == before
    assert temp_files(tmp_path / "out") == []


def test_progress_bars_and_messages_unless_quiet(run_cli, wav):
    files = [wav("p1.wav"), wav("p2.wav", seed=1)]
    code, err, _ = run_cli(*files, "--no-quiet")
    assert code == 0
    assert "s audio" in err and "2 files" in err and "wrote" in err
    code, err, _ = run_cli(*files, "--overwrite")  # --quiet
    assert code == 0 and err == ""


def test_help_lists_options_and_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--model", "--device", "--chunk-seconds", "--context-seconds",
                   "--output-dir", "--basename", "--layers", "--dtype", "--revision",
                   "--threads", "--overwrite", "--mat-version", "--quiet", "--verbose",
                   "--request", "--summary-json"):
        assert option in text
    assert "exit status" in text and "130" in text and "143" in text
    assert "facebook/wav2vec2-large-xlsr-53" in text


def test_defaults_agree_with_the_engine():
    import inspect

    from w2vbackend import extract, model

    parameters = inspect.signature(extract).parameters
    for name in ("chunk_seconds", "context_seconds", "model", "dtype", "device", "group_norm"):
        assert parameters[name].default == request_module.OPTION_BY_NAME[name].default, name
    assert set(request_module.OPTION_BY_NAME["dtype"].choices) == set(model.DTYPES)


def test_console_script_with_shell_characters_in_names(xlsr_checkpoint, wav, tmp_path):
    """A real process: the installed w2v-extract, names that a shell would execute."""
    audio = wav("$(touch PWNED) a;b&c 'q' ü.wav", duration_s=2.0)
    out = tmp_path / "out dir"
    result = subprocess.run(
        [str(BIN / "w2v-extract"), str(audio), "--model", str(xlsr_checkpoint),
         "--output-dir", str(out), "--quiet", "--summary-json", str(tmp_path / "s.json")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.rglob("PWNED"))
    assert (out / "wav2vec2_embeddings.npy").exists()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["files"][0]["audio"] == str(audio)


def test_python_dash_m_exit_code_for_a_failed_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "w2vbackend", str(tmp_path / "nope.wav"),
                             "--output-dir", str(tmp_path), "--quiet"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("w2v-extract: error: ") and "nope.wav" in lines[0]
    assert "Traceback" not in result.stderr


def test_thread_variables_are_cleaned_when_the_cli_loads_and_torch_waits(tmp_path):
    """MATLAB can leave MKL_NUM_THREADS=auto; the CLI removes it before numpy/torch load, and
    importing the CLI does not import torch (an up-to-date run never needs it)."""
    env = dict(os.environ, MKL_NUM_THREADS="auto", OMP_NUM_THREADS="")
    code = ("import os, sys, w2vbackend.cli; "
            "print(os.environ.get('MKL_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'), "
            "'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.stdout.split() == ["None", "None", "False"], result.stderr
