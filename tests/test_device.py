"""Device choice, CPU threads, and the clean-up of thread variables before torch is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from w2vbackend import device as devmod
from w2vbackend.device import choose_device, sanitize_thread_env, set_threads
from w2vbackend.errors import DeviceError, UsageError


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "2.5", "auto", "4 threads", "0x4"])
def test_bad_thread_values_are_removed(value):
    env = {"MKL_NUM_THREADS": value, "OMP_NUM_THREADS": value, "OTHER": value}
    removed = sanitize_thread_env(env)
    assert set(removed) == {"MKL_NUM_THREADS", "OMP_NUM_THREADS"}
    assert env == {"OTHER": value}


@pytest.mark.parametrize("value", ["1", "4", " 8 ", "16", "04"])
def test_positive_thread_values_are_kept(value):
    env = {"MKL_NUM_THREADS": value, "OMP_NUM_THREADS": value}
    assert sanitize_thread_env(env) == ()
    assert env == {"MKL_NUM_THREADS": value, "OMP_NUM_THREADS": value}


def test_sanitize_defaults_to_the_process_environment(monkeypatch):
    monkeypatch.setenv("MKL_NUM_THREADS", "bogus")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert sanitize_thread_env() == ("MKL_NUM_THREADS",)
    assert "MKL_NUM_THREADS" not in os.environ


def _run_python(code: str, **env_updates) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_updates)
    return subprocess.run([sys.executable, "-c", code], env=env, check=False,
                          capture_output=True, text=True, timeout=120)


def test_device_module_does_not_import_torch():
    done = _run_python("import sys, w2vbackend.device; print('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_engine_import_cleans_bad_mkl_value_before_torch_loads():
    code = ("import os, sys; import w2vbackend.engine; "
            "print(os.environ.get('MKL_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'), "
            "'torch' in sys.modules)")
    done = _run_python(code, MKL_NUM_THREADS="not-a-number", OMP_NUM_THREADS="3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "3", "True"]


def _availability(monkeypatch, *, mps: bool, cuda: bool, count: int = 1) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)


@pytest.mark.parametrize(("mps", "cuda", "expected"), [
    (True, True, torch.device("mps")),
    (True, False, torch.device("mps")),
    (False, True, torch.device("cuda", 0)),
    (False, False, torch.device("cpu")),
])
def test_auto_prefers_mps_then_cuda_then_cpu(monkeypatch, mps, cuda, expected):
    _availability(monkeypatch, mps=mps, cuda=cuda)
    assert choose_device("auto") == expected
    assert choose_device(" AUTO ") == expected


def test_explicit_devices_when_available(monkeypatch):
    _availability(monkeypatch, mps=True, cuda=True, count=2)
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("mps") == torch.device("mps")
    assert choose_device("cuda") == torch.device("cuda", 0)
    assert choose_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize(("spec", "words"), [
    ("cuda", ["cuda", "not available"]),
    ("cuda:0", ["cuda:0", "not available"]),
    ("mps", ["mps", "not available"]),
])
def test_absent_device_is_a_clear_device_error(monkeypatch, spec, words):
    _availability(monkeypatch, mps=False, cuda=False)
    with pytest.raises(DeviceError) as info:
        choose_device(spec)
    message = str(info.value)
    assert all(word in message for word in words)
    assert "\n" not in message
    assert info.value.code == "deviceUnavailable"


def test_cuda_index_beyond_the_device_count(monkeypatch):
    _availability(monkeypatch, mps=False, cuda=True, count=2)
    with pytest.raises(DeviceError, match=r"cuda:2.*only 2 CUDA"):
        choose_device("cuda:2")


@pytest.mark.parametrize("spec", ["tpu", "gpu", "cuda:x", "cuda:-1", "cpu0", ""])
def test_unknown_device_spec_is_a_usage_error(spec):
    with pytest.raises(UsageError):
        choose_device(spec)


def test_set_threads_sets_torch_threads():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(None)  # leaves the setting alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_threads_rejects_non_positive_integers(bad):
    with pytest.raises(UsageError):
        set_threads(bad)


def test_thread_variable_names():
    assert devmod.THREAD_ENV_VARS == ("MKL_NUM_THREADS", "OMP_NUM_THREADS")
