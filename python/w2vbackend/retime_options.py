"""The resampling options that ``w2v-extract`` and ``python -m w2vbackend.retime`` share: their
choices, defaults and help text, and the name of a resampled set (numpy- and scipy-free, so the
request table can use them without importing the signal processing)."""

from __future__ import annotations

METHODS = ("kaiser", "lanczos")
EDGE_MODES = ("edge", "zeros")
DEFAULT_METHOD = "kaiser"
DEFAULT_EDGE = "edge"
DEFAULT_GRID_START = 0.0
DEFAULT_STOPBAND_DB = 80.0
DEFAULT_PASSBAND_EDGE = 0.9
# Bounds of the request's checks: above 100 kHz a feature series is a sound, not a neural
# clock; a TR above an hour is a typo.
MAX_TARGET_RATE = 100_000.0
MAX_TR_SECONDS = 3600.0

HELP = {
    "target_rate": "output rate in Hz (e.g. 128)",
    "tr": "fMRI: one sample per TR seconds (e.g. 2.0)",
    "grid_start": "time (s, in the recording) of output sample 0",
    "method": "kaiser: anti-aliasing windowed sinc; lanczos: normalised Lanczos-3",
    "edge": "beyond the recording: repeat the first/last frame, or zeros",
    "cnd": "also write a CND dataStim.mat (variable stim), one trial per input",
}


def rate_label(fs: float) -> str:
    """The suffix of a resampled set: ``_128Hz``, ``_0p5Hz`` (a TR of 2 s)."""
    text = f"{fs:.6g}".replace(".", "p")
    return f"_{text}Hz"
