"""What a run tells its user on stderr: progress bars (tqdm) and one-line messages."""

from __future__ import annotations

import sys
from typing import Optional

from .errors import printable


class Reporter:
    """Where the runner says what it does: progress bars and one-line messages on stderr."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False, stream=None):
        self.quiet = quiet
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr
        self._overall = None

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(f"w2v-extract: {printable(message)}")

    def warning(self, message: str) -> None:
        self._write(f"w2v-extract: warning: {printable(message)}")

    def error(self, message: str, tb: Optional[str] = None) -> None:
        self._write(f"w2v-extract: error: {printable(message)}")
        if tb and self.verbose:
            self._write(tb.rstrip("\n"))

    def _write(self, line: str) -> None:
        from tqdm import tqdm

        # tqdm.write keeps open progress bars intact below the message.
        tqdm.write(line, file=self.stream)

    def start_overall(self, total_seconds: float, files: int) -> None:
        if self.quiet or files < 2:
            return
        self._overall = self._bar(total_seconds, f"{files} files", position=0)

    def file_bar(self, name: str, seconds: float):
        if self.quiet:
            return None
        return self._bar(seconds, name, position=1 if self._overall is not None else 0,
                         leave=self._overall is None)

    def advance_overall(self, seconds: float) -> None:
        if self._overall is not None:
            self._overall.update(seconds)

    def grow_overall(self, seconds: float) -> None:
        if self._overall is not None:
            self._overall.total = (self._overall.total or 0) + seconds
            self._overall.refresh()

    def close(self) -> None:
        if self._overall is not None:
            self._overall.close()
            self._overall = None

    def _bar(self, total: float, desc: str, position: int, leave: bool = True):
        from tqdm import tqdm

        interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        return tqdm(total=round(float(total), 2), desc=_short(desc, 40), unit="s audio",
                    file=self.stream, position=position, leave=leave, dynamic_ncols=True,
                    mininterval=0.2 if interactive else 10.0,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio "
                               "[{elapsed}<{remaining}, {rate_fmt}]")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]
