"""Every shell, Python and MATLAB example of the README runs as written.

A small random-weight checkpoint with XLSR-53's layer count stands in for the hub model: it is
put into a private Hugging Face cache under the name ``facebook/wav2vec2-large-xlsr-53`` and
loaded offline, through the same ``from_pretrained`` path a user's download takes. The examples
run in a scratch folder that holds links to the repository's ``.venv``, ``examples`` and
``+w2v``. A block preceded by ``<!-- readme-test: skip: REASON -->`` is not run, and the reason
is reported; one preceded by ``<!-- readme-test: needs MODULE -->`` runs where that optional
package is installed; every other block must succeed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from synth import build_checkpoint

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HUB_ID = "facebook/wav2vec2-large-xlsr-53"
COMMIT = "0" * 39 + "1"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<directive>[^>]*?) -->\n)?"
                   r"```(?P<lang>bash|python|matlab)\n(?P<code>.*?)```", re.S)
OCTAVE = shutil.which("octave")


def readme_blocks() -> list[tuple[str, str, str, int]]:
    """(language, code, directive, line number) of each fenced example."""
    text = README.read_text(encoding="utf-8")
    return [(m["lang"], m["code"], m["directive"] or "", text.count("\n", 0, m.start()) + 1)
            for m in BLOCK.finditer(text)]


BLOCKS = readme_blocks()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> tuple[Path, dict]:
    """(working folder, environment) in which the examples run."""
    root = tmp_path_factory.mktemp("readme")
    snapshot = root / "hf" / "hub" / ("models--" + HUB_ID.replace("/", "--"))
    build_checkpoint("xlsr", snapshot / "snapshots" / COMMIT, num_layers=24)
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text(COMMIT)
    work = root / "work"
    work.mkdir()
    for name in (".venv", "examples", "+w2v"):
        (work / name).symlink_to(ROOT / name)
    env = dict(os.environ, HF_HOME=str(root / "hf"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", W2V_VENV=str(ROOT / ".venv"))
    return work, env


def _ids() -> list[str]:
    return [f"{lang}-line{line}" for lang, _, _, line in BLOCKS]


def test_the_readme_has_examples_of_each_language():
    languages = {lang for lang, _, directive, _ in BLOCKS if not directive.startswith("skip")}
    assert languages == {"bash", "python", "matlab"}


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=_ids())
def test_readme_example_runs(index, scratch):
    lang, code, directive, line = BLOCKS[index]
    if directive.startswith("skip"):
        reason = directive.partition(":")[2].strip()
        assert reason, f"README line {line}: a skipped example must say why"
        pytest.skip(f"README line {line}: {reason}")
    if directive.startswith("needs "):
        module = directive.split()[1]
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"README line {line}: needs the optional package {module}")
    work, env = scratch
    if lang == "bash":
        command = ["bash", "-euo", "pipefail", "-c", code]
    elif lang == "python":
        # Earlier Python examples run first: later ones may use their results.
        earlier = [c for lg, c, d, _ in BLOCKS[:index]
                   if lg == "python" and not d.startswith(("skip", "needs"))]
        command = [str(ROOT / ".venv" / "bin" / "python"), "-c", "\n".join([*earlier, code])]
    else:
        if OCTAVE is None:
            pytest.skip("GNU Octave is not installed (apt-get install octave)")
        command = [OCTAVE, "--no-gui", "--no-window-system", "--norc", "--quiet", "--eval",
                   code]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, (
        f"README line {line} ({lang}) failed with exit {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    if lang == "matlab":
        assert "error:" not in result.stderr.replace(
            "error: ignoring const execution_exception", ""), result.stderr[-3000:]
