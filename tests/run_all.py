"""Run every check of the project: lint, the Python tests, MISS_HIT and the MATLAB tests in Octave.

Usage (from the repository root, after ``python3 setup_venv.py --dev``):

    .venv/bin/python tests/run_all.py            # everything
    .venv/bin/python tests/run_all.py --only pytest -- -k audio   # one step, extra pytest args

Steps: ``ruff`` (Python lint), ``pytest`` (backend tests), ``mh`` (MISS_HIT style, lint and
metrics on the MATLAB code), ``octave`` (tests/matlab in GNU Octave). The pytest step includes
the shell matrix (w2v's command strings under sh, dash, bash, zsh, tcsh, csh and fish) and, when
run as root, the tests as an unprivileged user (``tests/test_unprivileged.py``: permission tests
and a read-only install). A step whose tool is missing
is reported as skipped with the reason, except under CI (``CI=true``), where every tool must be
there. Exit status 0 only when every step passed. The last line totals the tests of all steps.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MATLAB_PATHS = ["+w2v", "tests/matlab", "buildfile.m"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Step:
    def __init__(self, name: str):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.ok = True
        self.note = ""


def tool(name: str) -> str | None:
    """Prefer the tool installed beside this interpreter (the venv), then PATH."""
    local = BIN / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def run(cmd: list[str], **kwargs) -> int:
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, **kwargs)


def missing(step: Step, what: str) -> Step:
    step.note = f"skipped: {what} not found"
    if IN_CI:
        step.ok = False
        step.note = f"failed: {what} not found (required under CI)"
    return step


def step_ruff(_extra: list[str]) -> Step:
    step = Step("ruff")
    ruff = tool("ruff")
    if ruff is None:
        return missing(step, "ruff")
    targets = [p for p in ("python", "tests", "benchmarks", "setup_venv.py") if (ROOT / p).exists()]
    code = run([ruff, "check", "--config", "python/pyproject.toml", *targets])
    step.ok = code == 0
    (step.passed, step.failed) = (1, 0) if step.ok else (0, 1)
    return step


def step_pytest(extra: list[str]) -> Step:
    step = Step("pytest")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        code = run([sys.executable, "-m", "pytest", "tests", "-q", f"--junitxml={report}", *extra])
        if report.exists():
            suite = ET.parse(report).getroot()
            suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
            total = int(suite.get("tests", 0))
            step.failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            step.skipped = int(suite.get("skipped", 0))
            step.passed = total - step.failed - step.skipped
    # Exit 5 is "no tests collected": never a pass.
    step.ok = code == 0 and step.passed > 0
    return step


def step_mh(_extra: list[str]) -> Step:
    step = Step("mh")
    paths = [p for p in MATLAB_PATHS if (ROOT / p).exists()]
    if not paths:
        step.note = "skipped: no MATLAB code yet"
        return step
    for name, args in (("mh_style", []), ("mh_lint", []), ("mh_metric", ["--ci"])):
        exe = tool(name)
        if exe is None:
            return missing(step, name)
        if run([exe, *args, *paths]) == 0:
            step.passed += 1
        else:
            step.failed += 1
    step.ok = step.failed == 0
    return step


def step_octave(_extra: list[str]) -> Step:
    step = Step("octave")
    runner = ROOT / "tests" / "matlab" / "run_tests.m"
    if not runner.exists():
        step.note = "skipped: no MATLAB tests yet"
        return step
    octave = shutil.which("octave")
    if octave is None:
        return missing(step, "GNU Octave (apt-get install --no-install-recommends octave)")
    cmd = [octave, "--no-gui", "--no-window-system", "--quiet", str(runner.relative_to(ROOT))]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    summary = None
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        match = re.fullmatch(r"(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*", line)
        if match:
            summary = match
    code = proc.wait()
    if summary:
        step.passed, step.failed = int(summary.group(1)), int(summary.group(2))
        step.skipped = int(summary.group(3) or 0)
    step.ok = code == 0 and summary is not None and step.passed > 0
    return step


STEPS = {"ruff": step_ruff, "pytest": step_pytest, "mh": step_mh, "octave": step_octave}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(STEPS), action="append",
                        help="run only this step (repeatable)")
    parser.add_argument("extra", nargs="*", help="extra arguments for pytest (after --)")
    args = parser.parse_args(argv)
    results = []
    for name in args.only or list(STEPS):
        started = time.time()
        print(f"\n===== {name} =====", flush=True)
        step = STEPS[name](args.extra)
        step.note = step.note or ("ok" if step.ok else "FAILED")
        print(f"===== {name}: {step.note} ({time.time() - started:.0f} s)", flush=True)
        results.append(step)
    print("\nsummary:")
    for step in results:
        print(f"  {step.name:8s} {step.note:50s} passed {step.passed}, failed {step.failed}, "
              f"skipped {step.skipped}")
    passed = sum(s.passed for s in results)
    failed = sum(s.failed for s in results) + sum(1 for s in results if not s.ok and s.failed == 0)
    skipped = sum(s.skipped for s in results)
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if all(s.ok for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
