"""setup_venv.py's choices that need no network: where the environment goes, Windows, the stamp."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def setup(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("setup_venv_under_test", ROOT / "setup_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    toolbox = tmp_path / "toolbox"
    toolbox.mkdir()
    monkeypatch.setattr(module, "ROOT", str(toolbox))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("W2V_VENV", raising=False)
    return module


def make_venv(folder: Path) -> None:
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").write_text("")


def test_default_environment_follows_the_documented_order(setup, monkeypatch, tmp_path):
    toolbox, per_user = Path(setup.ROOT) / ".venv", tmp_path / "home" / ".w2v" / "venv"
    writable = {"value": True}
    monkeypatch.setattr(setup.os, "access", lambda _path, _mode: writable["value"])
    assert setup.default_venv() == str(toolbox)            # writable toolbox: a checkout
    writable["value"] = False
    assert setup.default_venv() == str(per_user)           # read-only toolbox
    make_venv(toolbox)
    assert setup.default_venv() == str(toolbox)            # an existing one is used
    monkeypatch.setenv("W2V_VENV", str(tmp_path / "elsewhere"))
    assert setup.default_venv() == str(tmp_path / "elsewhere")


def test_existing_per_user_environment_is_found_from_a_writable_toolbox(setup, tmp_path):
    make_venv(tmp_path / "home" / ".w2v" / "venv")
    assert setup.default_venv() == str(tmp_path / "home" / ".w2v" / "venv")


def test_windows_is_refused_in_one_line(setup, monkeypatch, capsys):
    monkeypatch.setattr(setup.os, "name", "nt")
    with pytest.raises(SystemExit) as info:
        setup.main([])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Windows is not supported" in err


def test_a_copied_backend_is_reinstalled_when_its_sources_change(setup, monkeypatch, tmp_path):
    backend = tmp_path / "python"
    (backend / "w2vbackend").mkdir(parents=True)
    source = backend / "w2vbackend" / "x.py"
    source.write_text("A = 1\n")
    (backend / "pyproject.toml").write_text("[project]\n")
    monkeypatch.setattr(setup, "BACKEND", str(backend))
    monkeypatch.setattr(setup, "PYPROJECT", str(backend / "pyproject.toml"))
    plain = type("Args", (), {"dev": False})()
    first = setup.wanted_state(plain)
    (backend / "w2vbackend" / "__pycache__").mkdir()
    (backend / "w2vbackend" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert setup.wanted_state(plain) == first              # caches do not count
    source.write_text("A = 2\n")
    assert setup.wanted_state(plain) != first
    dev = setup.wanted_state(type("Args", (), {"dev": True})())
    assert "backend_sha256" not in dev                     # editable: follows the sources
