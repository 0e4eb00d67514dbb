"""``--files-from FILE``: input paths, one per line, from a text file or standard input (``-``).

Rules: the file is UTF-8; each line is one path, taken as written except for the line ending
and surrounding whitespace (so paths with inner spaces work, paths that begin or end with spaces
do not); blank lines and lines whose first non-blank character is ``#`` are skipped; relative
paths are relative to the current folder, as with ``tar -T`` or ``xargs`` (so the output of
``find stimuli -name '*.wav'`` works as it is).
"""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from .errors import UsageError


def parse_file_list(text: str) -> list[str]:
    """The paths in ``text`` (see the module docstring), in order."""
    paths = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        paths.append(entry)
    return paths


def read_file_list(source: str, stdin: Optional[TextIO] = None) -> list[str]:
    """The paths listed in file ``source``, or on standard input when ``source`` is ``-``.

    Raises UsageError when the file cannot be read or is not UTF-8 text.
    """
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        return parse_file_list(stream.read())
    try:
        with open(source, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the file list ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source}: the file list is not UTF-8 text") from None
    return parse_file_list(text)
