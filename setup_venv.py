#!/usr/bin/env python3
"""Create or update the Python environment of the w2v toolbox.

Usage:
    python3 setup_venv.py               # the environment, with the backend and its dependencies
    python3 setup_venv.py --dev         # editable backend, plus test and lint tools (a checkout)
    python3 setup_venv.py --recreate    # delete the environment and start over
    python3 setup_venv.py --venv DIR    # put the environment somewhere else

Where the environment goes without --venv: $W2V_VENV if set; else <toolbox>/.venv or
~/.w2v/venv, whichever already holds an environment; else <toolbox>/.venv when the toolbox
folder is writable (a checkout) and ~/.w2v/venv when it is not (a read-only install). MATLAB's
w2v functions look in the same places.

Without --dev the backend is installed from a copy of python/ made in a temporary folder, so
nothing (no egg-info, no build/) is written into the toolbox folder; --dev installs it editable.
Windows is not supported.

The script uses the standard library only and runs with any python3 >= 3.9. A second run with
nothing changed finishes in seconds: what was installed is recorded in a stamp file inside the
environment, and pip is only called again when pyproject.toml, the options or the interpreter
change. At the end it prints the interpreter that MATLAB's pyenv should point at.

Exit status: 0 on success, 1 when a step failed (the one-line message says which and where the
log is).
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

MIN_PYTHON = (3, 9)
ROOT = os.path.dirname(os.path.abspath(__file__))
BACKEND = os.path.join(ROOT, "python")
PYPROJECT = os.path.join(BACKEND, "pyproject.toml")
STAMP_NAME = "w2v-setup.json"
LOG_NAME = "w2v-setup.log"


def fail(message):
    """Print one line on stderr and exit with status 1."""
    sys.stderr.write("setup_venv: error: " + message + "\n")
    sys.exit(1)


def say(message):
    sys.stdout.write("setup_venv: " + message + "\n")
    sys.stdout.flush()


def check_python():
    if sys.version_info < MIN_PYTHON:
        fail(
            "Python %d.%d is too old; w2v needs Python >= %d.%d "
            "(run this script with a newer python3)"
            % (sys.version_info[0], sys.version_info[1], MIN_PYTHON[0], MIN_PYTHON[1])
        )
    try:
        import venv  # noqa: F401
    except ImportError:
        fail(
            "this Python has no 'venv' module; on Debian/Ubuntu install it with "
            "'sudo apt-get install python3-venv' (or python%d.%d-venv)" % sys.version_info[:2]
        )


def venv_python(venv_dir):
    return os.path.join(venv_dir, "bin", "python")


def default_venv():
    """Where the environment goes without --venv (the rule MATLAB's gateway also follows)."""
    if os.environ.get("W2V_VENV"):
        return os.environ["W2V_VENV"]
    in_toolbox = os.path.join(ROOT, ".venv")
    per_user = os.path.join(os.path.expanduser("~"), ".w2v", "venv")
    for candidate in (in_toolbox, per_user):
        if os.path.exists(venv_python(candidate)):
            return candidate
    return in_toolbox if os.access(ROOT, os.W_OK) else per_user


def backend_digest():
    """SHA-256 over the backend's sources: a copied (non-editable) install must follow them."""
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(BACKEND)):
        dirs[:] = sorted(d for d in dirs if not ignored_name(d))
        for name in sorted(files):
            if ignored_name(name):
                continue
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, BACKEND).encode("utf-8") + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def ignored_name(name):
    return name in ("__pycache__", "build", "dist") or name.endswith((".egg-info", ".pyc"))


def wanted_state(args):
    """What the environment should hold; a change in any of it triggers a reinstall."""
    with open(PYPROJECT, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    state = {
        "pyproject_sha256": digest,
        "dev": bool(args.dev),
        "python": sys.version.split()[0],
        "backend": BACKEND,
    }
    if not args.dev:
        state["backend_sha256"] = backend_digest()
    return state


def read_stamp(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def run_logged(command, log_path, what):
    """Run one step, appending its output to the log; fail with one line if it fails."""
    with open(log_path, "a") as log:
        log.write("\n$ " + " ".join(command) + "\n")
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        fail("%s failed (exit %d); see the log: %s" % (what, code, log_path))


def create_venv(venv_dir, log_path):
    say("creating %s" % venv_dir)
    parent = os.path.dirname(venv_dir) or "."
    with contextlib.suppress(OSError):
        os.makedirs(parent, exist_ok=True)
    if not os.access(parent, os.W_OK):
        fail("cannot create %s: %s is not writable (use --venv DIR)" % (venv_dir, parent))
    code = subprocess.call(
        [sys.executable, "-m", "venv", venv_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if code != 0 or not os.path.exists(venv_python(venv_dir)):
        shutil.rmtree(venv_dir, ignore_errors=True)
        fail(
            "could not create the virtual environment (ensurepip missing?); on Debian/Ubuntu "
            "install 'python3-venv' (or python%d.%d-venv) and run again" % sys.version_info[:2]
        )
    os.makedirs(venv_dir, exist_ok=True)
    open(log_path, "w").close()


def install(venv_dir, args, log_path):
    python = venv_python(venv_dir)
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install"]
    say("upgrading pip")
    run_logged(pip + ["--upgrade", "pip"], log_path, "pip install --upgrade pip")
    # torch is by far the largest download; installing it on its own makes a failure name it.
    say("installing torch (the largest package; this can take a few minutes)")
    run_logged(pip + ["torch>=2.4"], log_path, "pip install torch")
    if args.dev:
        say("installing the backend (editable) and its dependencies with dev tools")
        target = BACKEND + "[dev]"
        run_logged(pip + ["-e", target], log_path, "pip install -e %s" % target)
    else:
        say("installing the backend and its dependencies")
        with tempfile.TemporaryDirectory(prefix="w2v-backend-") as scratch:
            # pip and setuptools write egg-info and build/ beside the sources: into the copy.
            copy = os.path.join(scratch, "python")
            shutil.copytree(BACKEND, copy, ignore=lambda _d, names: [
                n for n in names if ignored_name(n)])
            # pip always reinstalls a project given as a folder, even at the same version.
            run_logged(pip + [copy], log_path, "pip install of the backend")
    say("checking that the backend imports")
    run_logged(
        [python, "-c", "import torch, transformers, soundfile, scipy, h5py, w2vbackend"],
        log_path,
        "importing the installed backend",
    )


def main(argv=None):
    if os.name == "nt":
        fail("Windows is not supported; use Linux or macOS (or WSL)")
    check_python()
    parser = argparse.ArgumentParser(
        description="Create or update the w2v Python environment.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dev", action="store_true", help="also install test and lint tools")
    parser.add_argument("--recreate", action="store_true", help="delete the environment first")
    parser.add_argument(
        "--venv",
        default=None,
        help="where to create the environment (default: $W2V_VENV, else <toolbox>/.venv when "
        "the toolbox folder is writable, else ~/.w2v/venv)",
    )
    args = parser.parse_args(argv)
    venv_dir = os.path.abspath(args.venv or default_venv())
    stamp_path = os.path.join(venv_dir, STAMP_NAME)
    log_path = os.path.join(venv_dir, LOG_NAME)
    started = time.time()

    if args.recreate and os.path.exists(venv_dir):
        say("removing %s" % venv_dir)
        shutil.rmtree(venv_dir)

    state = wanted_state(args)
    stamp = read_stamp(stamp_path)
    # A --dev environment (editable: it follows the sources) also serves a plain request.
    as_dev = {k: v for k, v in dict(state, dev=True).items() if k != "backend_sha256"}
    if os.path.exists(venv_python(venv_dir)) and stamp is not None and (
        stamp == state or (not args.dev and stamp == as_dev)
    ):
        say("up to date (%s)" % venv_dir)
        print_result(venv_dir, started)
        return 0

    if not os.path.exists(venv_python(venv_dir)):
        create_venv(venv_dir, log_path)
    else:
        say("updating %s" % venv_dir)
    install(venv_dir, args, log_path)
    with open(stamp_path, "w") as handle:
        json.dump(state, handle, indent=2)
    print_result(venv_dir, started)
    return 0


def print_result(venv_dir, started):
    python = venv_python(venv_dir)
    say("done in %.1f s" % (time.time() - started))
    say("MATLAB: pyenv(Version=\"%s\", ExecutionMode=\"OutOfProcess\")" % python)
    print(python)


if __name__ == "__main__":
    sys.exit(main())
