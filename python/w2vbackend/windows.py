"""Window planning: which frames each model call computes and keeps (pure, torch-free).

Output frames ``[0, F)`` (``F`` from the model's own output-length formula for the whole
recording) are split into blocks ``[a, b)``. A block is computed from a window of frames
``[a - C - P_left, b + C + P_right)``, clipped to ``[0, F)``: ``C`` frames of attention context on
each side go through the transformer layers and are discarded, and ``P`` more frames only feed
the feature encoder and the positional convolution (see ``forward.positional_reach``). Windows
start on multiples of the total stride, so frame ``j`` of a window *is* global frame ``s + j``: no
frame is lost or repeated at a cut and the time axis never drifts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import FrameGeometry


@dataclass(frozen=True)
class Window:
    """One model call: the feature encoder and positional convolution compute frames
    ``[input_start, input_stop)`` from input samples ``[sample_start, sample_stop)``; frames
    ``[frame_start, frame_stop)`` of those go through the transformer layers; of those, frames
    ``[keep_start, keep_stop)`` are kept. All indices are global (whole-recording) frame or
    sample indices; ``input_start <= frame_start <= keep_start < keep_stop <= frame_stop <=
    input_stop``."""

    keep_start: int
    keep_stop: int
    frame_start: int
    frame_stop: int
    sample_start: int
    sample_stop: int
    input_start: int
    input_stop: int

    @property
    def offset(self) -> int:
        """Index, within this window's output, of global frame ``keep_start``."""
        return self.keep_start - self.frame_start

    @property
    def crop(self) -> tuple[int, int]:
        """``[start, stop)`` of the feature-encoder sequence (``input_stop - input_start``
        frames) that enters the first transformer layer."""
        return self.frame_start - self.input_start, self.frame_stop - self.input_start


def frames_for_seconds(seconds: float, geometry: FrameGeometry, *, round_up: bool) -> int:
    """Number of frames spanning ``seconds`` (rounded, or rounded up when ``round_up``)."""
    frames = float(seconds) * geometry.sample_rate / geometry.stride
    return math.ceil(frames - 1e-9) if round_up else round(frames)


def plan_windows(num_samples: int, geometry: FrameGeometry, chunk_frames: int | None,
                 context_frames: int, *,
                 positional_frames: tuple[int, int] = (0, 0)) -> list[Window]:
    """Windows that together produce every frame of a ``num_samples`` recording exactly once.

    ``chunk_frames``: frames kept per window (``None``: one window for the whole recording).
    ``context_frames``: extra frames that go through the transformer layers and are discarded,
    on each side of the kept ones. ``positional_frames``: ``(left, right)`` further frames on
    each side that only the feature encoder and positional convolution see (see
    :func:`positional_reach`; ``(0, 0)``: none). All ranges are clipped to the recording.
    Pure function (no model): ``sum(keep_stop - keep_start) == geometry.num_frames(num_samples)``,
    and each window's sample range yields exactly ``input_stop - input_start`` frames. A window
    ends where its last frame's receptive field ends, except that windows containing the
    recording's last frame run to the end of the recording.
    """
    total = geometry.num_frames(num_samples)
    if total == 0:
        return []
    chunk = total if chunk_frames is None else int(chunk_frames)
    left, right = (int(v) for v in positional_frames)
    if chunk < 1 or context_frames < 0 or left < 0 or right < 0:
        raise ValueError("chunk_frames must be >= 1, context_frames and positional_frames >= 0")
    windows = []
    for keep_start in range(0, total, chunk):
        keep_stop = min(total, keep_start + chunk)
        frame_start = max(0, keep_start - context_frames)
        frame_stop = min(total, keep_stop + context_frames)
        input_start = max(0, frame_start - left)
        input_stop = min(total, frame_stop + right)
        # The window reaching the last frame also takes the < stride samples after it: they
        # make no frame, but a plain full pass sees them too (they enter the first-layer
        # GroupNorm statistics of base-like models), so a single window equals the full pass.
        sample_stop = (num_samples if input_stop == total
                       else (input_stop - 1) * geometry.stride + geometry.receptive_field)
        windows.append(Window(
            keep_start=keep_start,
            keep_stop=keep_stop,
            frame_start=frame_start,
            frame_stop=frame_stop,
            sample_start=input_start * geometry.stride,
            sample_stop=sample_stop,
            input_start=input_start,
            input_stop=input_stop,
        ))
    return windows



def plan_causal_windows(num_samples: int, geometry: FrameGeometry, step_frames: int,
                        context_frames: int) -> list[Window]:
    """Causal windows: every frame is computed from audio that ends where the receptive field of
    the last frame of its step ends.

    Output frames ``[0, F)`` are split into steps ``[a, b)`` of ``step_frames``. Step ``[a, b)``
    is computed as a plain forward pass over frames ``[max(0, a - context_frames), b)``, i.e. input
    samples ``[start * stride, (b - 1) * stride + receptive_field)``, and only its frames
    ``[a, b)`` are kept. With ``step_frames == 1`` each frame sees nothing after its own
    receptive field; with larger steps a frame sees at most ``step_frames - 1`` frames of audio
    after its own. Cost: about ``F / step_frames`` windows of ``context_frames + step_frames``
    frames each, i.e. ``(context + step) / step`` times the frames of one pass (plus the
    attention's growth with the window length). Pure function, like :func:`plan_windows`.
    """
    total = geometry.num_frames(num_samples)
    if step_frames < 1 or context_frames < 0:
        raise ValueError("step_frames must be >= 1 and context_frames >= 0")
    windows = []
    for keep_start in range(0, total, step_frames):
        keep_stop = min(total, keep_start + step_frames)
        start = max(0, keep_start - context_frames)
        windows.append(Window(
            keep_start=keep_start, keep_stop=keep_stop, frame_start=start, frame_stop=keep_stop,
            sample_start=start * geometry.stride,
            sample_stop=(keep_stop - 1) * geometry.stride + geometry.receptive_field,
            input_start=start, input_stop=keep_stop))
    return windows
