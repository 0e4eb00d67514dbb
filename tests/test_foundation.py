"""The project's foundation: one version number, and setup_venv.py's promises."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import w2vbackend

ROOT = Path(__file__).resolve().parents[1]


def load_setup_module():
    spec = importlib.util.spec_from_file_location("setup_venv", ROOT / "setup_venv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_version_is_read_from_the_one_version_file():
    text = (ROOT / "python" / "w2vbackend" / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", text)
    assert w2vbackend.__version__ == text
    from importlib.metadata import version

    assert version("w2vbackend") == text


def test_setup_refuses_too_old_python(monkeypatch, capsys):
    setup = load_setup_module()
    monkeypatch.setattr(setup.sys, "version_info", (3, 8, 10, "final", 0))
    with pytest.raises(SystemExit) as excinfo:
        setup.check_python()
    assert excinfo.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "3.8" in err and ">= 3.9" in err


def test_setup_names_the_debian_package_when_venv_is_missing(monkeypatch, capsys):
    setup = load_setup_module()
    monkeypatch.setitem(sys.modules, "venv", None)  # makes `import venv` raise ImportError
    with pytest.raises(SystemExit):
        setup.check_python()
    err = capsys.readouterr().err.strip()
    assert "python3-venv" in err and len(err.splitlines()) == 1


def test_failed_pip_step_names_the_step_and_the_log(tmp_path, capsys):
    setup = load_setup_module()
    log = tmp_path / "setup.log"
    with pytest.raises(SystemExit):
        setup.run_logged([sys.executable, "-c", "import sys; sys.exit(3)"], str(log),
                         "pip install torch")
    err = capsys.readouterr().err.strip()
    assert "pip install torch failed (exit 3)" in err and str(log) in err


def test_stamp_changes_with_options_and_pyproject():
    setup = load_setup_module()
    plain = setup.wanted_state(type("A", (), {"dev": False})())
    dev = setup.wanted_state(type("A", (), {"dev": True})())
    assert plain != dev
    assert plain["pyproject_sha256"] == dev["pyproject_sha256"]


@pytest.mark.skipif(not (ROOT / ".venv" / "w2v-setup.json").exists(),
                    reason="needs the .venv made by setup_venv.py --dev")
def test_second_setup_run_is_quick_and_installs_nothing():
    command = [sys.executable, str(ROOT / "setup_venv.py"), "--dev"]
    # The first run brings the environment in line with pyproject.toml (a no-op when it is).
    first = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    started = time.time()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    elapsed = time.time() - started
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout
    assert "installing" not in proc.stdout
    assert elapsed < 15
    # The last line is the interpreter that MATLAB's pyenv should use.
    assert Path(proc.stdout.strip().splitlines()[-1]).name.startswith("python")


def test_no_exported_name_is_also_a_submodule():
    """``from w2vbackend import extract`` must give the function, also after something imported
    the module that defines it (a submodule of the same name would shadow it)."""
    import pkgutil

    import w2vbackend

    modules = {m.name for m in pkgutil.iter_modules(w2vbackend.__path__)}
    assert not modules & set(w2vbackend.__all__)
    code = ("import w2vbackend.engine, w2vbackend.runner\n"
            "from w2vbackend import extract, run, load_model, load_audio, Result\n"
            "assert callable(extract) and callable(run) and isinstance(Result, type)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_and_the_up_to_date_path_do_not_import_torch():
    code = ("import sys, w2vbackend, w2vbackend.cli, w2vbackend.request, w2vbackend.runner, "
            "w2vbackend.fingerprint\nassert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
