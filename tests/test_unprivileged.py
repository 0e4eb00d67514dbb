"""The checks that root cannot make: run as a normal user that this test creates.

As root (CI runs as root) the test adds a user (``useradd``), gives it a Python environment built
from the system's ``/usr/bin/python3``, and runs as that user:

* the permission tests that skip as root (an unreadable recording, a read-only output folder,
  ``w2v.setup`` into a read-only folder);
* a read-only install: the files ``toolbox.prj`` ships are copied into a folder the user cannot
  write, set up there with ``setup_venv.py`` (no options: the environment goes to the per-user
  default ``~/.w2v/venv`` and the backend is a non-editable copy), and a short recording is
  extracted from GNU Octave with a test checkpoint; nothing may appear in the toolbox copy.

To stay fast, the user's environment reuses the installed packages of the environment running
this test (torch alone is several GB) through a ``.pth`` line, read-only; pip, setuptools and
the backend are installed into the user's own environment. Skipped, with the reason, when not
root, without ``useradd``, Octave or a ``/usr/bin/python3`` of the same minor version.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
import soundfile as sf
from synth import build_checkpoint, speech_like

ROOT = Path(__file__).resolve().parents[1]
USER = "w2vci"
SYSTEM_PYTHON = "/usr/bin/python3"
SHIPPED = ("+w2v", "python", "setup_venv.py", "README.md")  # as toolbox.prj's fileset
PERMISSION_TESTS = (
    "tests/test_audio_catalogue.py::test_unreadable_file_is_refused",
    "tests/test_writers.py::test_read_only_output_dir_is_an_output_error",
)


def _reason_to_skip() -> str:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root, to create the unprivileged user (CI runs as root)"
    if shutil.which("useradd") is None:
        return "useradd is not installed"
    if shutil.which("octave") is None:
        return "GNU Octave is not installed"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} does not exist"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import sys, venv, ensurepip; "
                            "print(sys.version_info[1])"], capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != str(sys.version_info[1]):
        return (f"{SYSTEM_PYTHON} lacks venv/ensurepip or is not Python 3.{sys.version_info[1]} "
                "(the version whose packages the user's environment reuses)")
    return ""


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module", autouse=True)
def _runnable():
    """Skip with the reason; under CI (root, Debian) a missing piece is a failure instead."""
    reason = _reason_to_skip()
    if reason:
        (pytest.fail if IN_CI else pytest.skip)(reason)


def as_user(cmd, *, cwd, env=None, timeout=600):
    """Run CMD as the test user, with a clean environment of that user; returns the process."""
    entry = pwd.getpwnam(USER)
    base = {"HOME": entry.pw_dir, "USER": USER, "LOGNAME": USER, "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}
    base.update(env or {})
    return subprocess.run(cmd, cwd=cwd, env=base, user=entry.pw_uid, group=entry.pw_gid,
                          extra_groups=[], capture_output=True, text=True, timeout=timeout)


def readable_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def user_env():
    """The test user, and its environment at the per-user default ~/.w2v/venv."""
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        entry = pwd.getpwnam(USER)
    home = Path(entry.pw_dir)
    shutil.rmtree(home / ".w2v", ignore_errors=True)
    venv = home / ".w2v" / "venv"
    shared = sysconfig.get_paths()["purelib"]
    check = as_user(["test", "-r", os.path.join(shared, "torch", "__init__.py")], cwd="/")
    if check.returncode != 0:
        (pytest.fail if IN_CI else pytest.skip)(
            f"{shared} (this environment's packages) is not readable by other users")
    made = as_user([SYSTEM_PYTHON, "-m", "venv", str(venv)], cwd=str(home))
    assert made.returncode == 0, made.stderr
    purelib = as_user([str(venv / "bin" / "python"), "-c",
                       "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd="/")
    (Path(purelib.stdout.strip()) / "w2v-shared-packages.pth").write_text(shared + "\n")
    return {"home": home, "venv": venv}


@pytest.fixture(scope="module")
def material():
    """A test checkpoint and a short recording that the user can read."""
    folder = readable_folder("w2v_material_")
    checkpoint = build_checkpoint("xlsr", folder / "checkpoint")
    wav = folder / "short recording.wav"
    sf.write(wav, speech_like(1.0, 16000, seed=5), 16000, subtype="PCM_16")
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    yield {"checkpoint": str(checkpoint), "wav": str(wav)}
    shutil.rmtree(folder, ignore_errors=True)


def test_permission_tests_pass_as_a_normal_user(user_env):
    python = str(user_env["venv"] / "bin" / "python")
    proc = as_user([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                    *PERMISSION_TESTS], cwd=str(ROOT), env={"PYTHONPATH": str(ROOT / "python")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(PERMISSION_TESTS)} passed" in proc.stdout, proc.stdout
    octave = as_user(["octave", "--no-gui", "--no-window-system", "--quiet",
                      "tests/matlab/run_tests.m"], cwd=str(ROOT),
                     env={"W2V_TEST_FILTER": "test_setup_needs_a_writable_folder"})
    assert "1 passed, 0 failed, 0 skipped" in octave.stdout, octave.stdout + octave.stderr


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_read_only_install_sets_up_and_extracts(user_env, material):
    toolbox = readable_folder("w2v_readonly_") / "w2v toolbox"
    toolbox.mkdir()
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, toolbox / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        else:
            shutil.copy2(source, toolbox / name)
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(toolbox.parent)], check=True)
    before = snapshot(toolbox)
    work = readable_folder("w2v_work_")
    shutil.chown(work, USER, USER)

    setup = as_user([SYSTEM_PYTHON, str(toolbox / "setup_venv.py")], cwd=str(work))
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert str(user_env["venv"]) in setup.stdout, setup.stdout

    # The paths travel as environment variables: no quoting inside the Octave code.
    script = (
        "addpath(getenv('W2V_TOOLBOX'));"
        "r = w2v.extract(getenv('W2V_WAV'), 'Model', getenv('W2V_MODEL'), "
        "'OutputDir', 'features', 'Device', 'cpu', 'Quiet', true);"
        "b = w2v.B2_model_wav2vec2('AudioFile', getenv('W2V_WAV'), "
        "'Model', getenv('W2V_MODEL'), 'Device', 'cpu', 'Quiet', true);"
        "d = w2v.doctor();"
        "printf('W2V%sW2V', jsonencode(struct('frames', size(r.embeddings, 1), "
        "'npy', r.files.npy, 'b2', b.files.npy, 'venv', d.venv, 'ok', d.ok, "
        "'backend', {d.checks(strcmp({d.checks.name}, 'backend')).detail})));"
    )
    run = as_user(["octave", "--no-gui", "--no-window-system", "--quiet", "--eval", script],
                  cwd=str(work), env={"W2V_TOOLBOX": str(toolbox), "W2V_WAV": material["wav"],
                                      "W2V_MODEL": material["checkpoint"]})
    text = run.stdout
    assert "W2V{" in text, text + run.stderr
    found = json.loads(text[text.index("W2V{") + 3: text.rindex("W2V")])
    assert found["frames"] == 49  # 1 s at 16 kHz: floor((16000 - 400) / 320) + 1
    assert found["npy"] == str(work / "features" / "wav2vec2_embeddings.npy")
    # ProjectRoot defaults to the current folder when the toolbox is read-only.
    assert found["b2"] == str(work / "Models" / "wav2vec2" / "wav2vec2_embeddings.npy")
    assert found["venv"] == str(user_env["venv"])
    assert found["ok"], found
    assert str(user_env["venv"]) in found["backend"], found["backend"]  # the installed copy
    assert snapshot(toolbox) == before, "files were written into the read-only toolbox"
    shutil.rmtree(toolbox.parent, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
