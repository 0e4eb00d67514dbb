"""The backend's own error types.

Every error raised on purpose is a :class:`W2VError`. Its ``str()`` is one line a user can act
on (it names the file and the reason), and its ``code`` becomes the MATLAB error identifier
``w2v:<code>``. Anything else that escapes is a bug and is reported as ``w2v:backendFailed``.
"""

from __future__ import annotations


class W2VError(Exception):
    """Base class: an expected failure with a one-line, user-facing message."""

    code = "backendFailed"


class UsageError(W2VError):
    """A bad option or option combination (CLI exit code 2)."""

    code = "badArgument"


class AudioError(W2VError):
    """An audio file that cannot be read or used."""

    code = "audioInvalid"


class AudioNotFoundError(AudioError):
    """The audio path does not exist or is not a file."""

    code = "audioNotFound"


class AudioTooShortError(AudioError):
    """The recording is shorter than one receptive field of the model."""

    code = "audioTooShort"


class ModelError(W2VError):
    """The checkpoint cannot be found, downloaded or used."""

    code = "modelLoadFailed"


class DeviceError(W2VError):
    """The requested compute device is not available."""

    code = "deviceUnavailable"


class OutputError(W2VError):
    """Outputs cannot be written (folder not writable, disk full, locked by another run)."""

    code = "outputFailed"


def printable(text: str) -> str:
    """``text`` as one printable line: control characters (a newline or NUL in a file name) are
    escaped, so that a message stays one line and cannot forge log lines."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def os_reason(exc: OSError) -> str:
    """The operating system's words for ``exc`` ("No such file or directory")."""
    return exc.strerror or type(exc).__name__


def shorten(text: str, width: int = 120) -> str:
    """``text`` made printable and cut to ``width`` characters (a 50 MB name is not echoed)."""
    text = printable(text)
    return text if len(text) <= width else text[:width - 1] + "…"
