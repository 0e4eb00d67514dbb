"""The command strings the MATLAB side builds, run under every shell MATLAB's ``system()`` may use.

MATLAB starts ``$MATLAB_SHELL``, else ``$SHELL``, else ``/bin/sh`` for ``system()``; users run
sh, dash, bash, zsh, tcsh, csh or fish. ``w2v.internal.command_line`` (run here in GNU Octave,
so the strings are exactly the toolbox's) returns a ``/bin/sh -c '...'`` command that holds no
data, plus the environment variables that carry the data. Each shell must run the same program
with the same arguments, send stderr to the named file, set or remove LD_LIBRARY_PATH, and never
execute any part of the hostile names (a marker file would appear).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHELLS = ("sh", "dash", "bash", "zsh", "tcsh", "csh", "fish")
# What the program records: its arguments and LD_LIBRARY_PATH, into the file named last.
PROGRAM = """import json, os, sys
sys.stderr.write("to stderr\\n")
with open(sys.argv[-1], "w", encoding="utf-8") as handle:
    json.dump({"argv": sys.argv[1:-1], "ld": os.environ.get("LD_LIBRARY_PATH")}, handle)
"""


def hostile(marker: Path | str) -> str:
    return (f"it's \"a\" & b; $(touch {marker}) `touch {marker}` ! %PATH% \\ $HOME *?[x] "
            f"~ {{a,b}} #c Aufnahme \u00e4 \u97f3\u58f0")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    octave = shutil.which("octave")
    if octave is None:
        pytest.skip("GNU Octave is not installed (apt-get install --no-install-recommends octave)")
    root = tmp_path_factory.mktemp("shells")
    marker = root / "marker"
    folder = root / hostile(marker)  # a chain of folders: the marker path holds slashes
    folder.mkdir(parents=True)
    # Relative markers would appear in the shell's current folder (checked to stay empty).
    script = folder / ("prog " + hostile("w2v_marker") + ".py")
    script.write_text(PROGRAM, encoding="utf-8")
    wanted = {
        "file": {"argv": [sys.executable, str(script), hostile(marker), "-c", "",
                          str(folder / "out.json")],
                 "stderr": str(folder / "err 'file'.txt"), "library": "/keep me:/$(touch x)"},
        "merged": {"argv": [sys.executable, str(script), "plain", str(folder / "out.json")],
                   "stderr": 1, "library": ""},
        "inherit": {"argv": [sys.executable, str(script), str(folder / "out.json")],
                    "stderr": "", "library": None},
    }
    code = (
        "addpath(getenv('W2V_ROOT')); c = jsondecode(getenv('W2V_CASES')); out = struct();"
        "for n = fieldnames(c)'; k = c.(n{1}); lib = k.library; if isempty(lib) && "
        "~ischar(lib), lib = []; end;"
        "[cmd, env] = w2v.internal.command_line(cellstr(k.argv)', k.stderr, lib);"
        "out.(n{1}) = struct('command', cmd, 'names', {env(:, 1)'}, 'values', {env(:, 2)'});"
        "end; printf('W2V%sW2V', jsonencode(out));"
    )
    env = dict(os.environ, W2V_ROOT=str(ROOT), W2V_CASES=json.dumps(wanted))
    proc = subprocess.run([octave, "--no-gui", "--no-window-system", "--quiet", "--eval", code],
                          env=env, capture_output=True, text=True, timeout=120)
    text = proc.stdout
    assert "W2V{" in text, proc.stdout + proc.stderr
    built = json.loads(text[text.index("W2V{") + 3: text.rindex("W2V")])
    return {"root": root, "marker": marker, "folder": folder, "wanted": wanted, "built": built}


def test_commands_carry_no_data(cases):
    for name, built in cases["built"].items():
        command = built["command"]
        assert command.startswith("/bin/sh -c '") and command.endswith("'"), command
        payload = command[len("/bin/sh -c '"):-1]
        assert not set(payload) & set("'!\\\n"), payload
        for value in built["values"]:
            if len(value) > 3:
                assert value not in command, (name, value)


@pytest.mark.parametrize("shell", SHELLS)
def test_every_shell_runs_the_same_program_with_the_same_data(cases, shell, tmp_path):
    exe = shutil.which(shell)
    if exe is None:
        # Under CI every shell must be there (.ci/run installs them).
        (pytest.fail if IN_CI else pytest.skip)(
            f"{shell} is not installed (apt-get install --no-install-recommends {shell})")
    out = cases["folder"] / "out.json"
    for name, built in cases["built"].items():
        wanted = cases["wanted"][name]
        out.unlink(missing_ok=True)
        env = dict(os.environ, LD_LIBRARY_PATH="/matlab/bin/glnxa64",
                   **dict(zip(built["names"], built["values"])))
        proc = subprocess.run([exe, "-c", built["command"]], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (shell, name, proc.stderr)
        record = json.loads(out.read_text(encoding="utf-8"))
        assert record["argv"] == wanted["argv"][2:-1], (shell, name)
        expected_ld = {None: "/matlab/bin/glnxa64", "": None}.get(wanted["library"],
                                                                  wanted["library"])
        assert record["ld"] == expected_ld, (shell, name)
        if name == "file":
            assert Path(wanted["stderr"]).read_text() == "to stderr\n"
            assert "to stderr" not in proc.stderr
        elif name == "merged":
            assert proc.stdout == "to stderr\n" and proc.stderr == ""
        else:
            assert proc.stderr == "to stderr\n"
    assert not cases["marker"].exists(), "a hostile name was executed"
    assert list(tmp_path.iterdir()) == [], "a hostile name created files"
