"""Running the model on one window: hidden states of chosen layers, cropped before layer 0.

The transformer input of a frame is its feature vector plus a convolutional positional embedding
over its neighbours (wav2vec2/HuBERT/WavLM: kernel ``num_conv_pos_embeddings`` = 128, i.e.
frames ``j - 64 .. j + 63``; data2vec-audio: several such convolutions, reaches added). A window's
feature encoder and that convolution therefore run over ``P`` more frames on each side, and the
sequence is cropped back just before the first transformer layer (:func:`hidden_states` with
``crop``), so every transformer-layer input equals the full pass's exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from .device import sanitize_thread_env

# Before torch loads MKL/OpenMP (a no-op when model.py already did it).
sanitize_thread_env()

import torch  # noqa: E402

# Model types whose encoder is: positional convolution(s) added to the features, (LayerNorm for
# post-LN), ``encoder.dropout``, then the layers, with nothing else depending on the sequence
# length before layer 0 (WavLM's relative position bias is computed inside layer 0).
POSITIONAL_SPLIT_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")


def positional_reach(model) -> tuple[int, int]:
    """``(left, right)``: frames before and after frame ``j`` that its positional embedding reads.

    Derived from the modules of ``model.encoder.pos_conv_embed``: output ``i`` of a stride-1
    ``Conv1d`` with kernel ``K`` and zero padding ``p`` on both sides reads inputs
    ``i - p .. i - p + K - 1``, i.e. ``p`` frames to the left and ``K - 1 - p`` to the right
    (for even ``K`` the same-pad layer then drops the one extra output at the end, which keeps
    output ``i`` aligned with input ``i``); stacked convolutions (data2vec-audio) add up.
    wav2vec2/HuBERT/WavLM with ``K = 128``: ``(64, 63)``. Returns ``(0, 0)`` (no positional split)
    for model types or module layouts this does not know, so those run with plain windows.
    """
    config = getattr(model, "config", None)
    encoder = getattr(model, "encoder", None)
    pos_conv = getattr(encoder, "pos_conv_embed", None)
    if (getattr(config, "model_type", None) not in POSITIONAL_SPLIT_MODEL_TYPES
            or pos_conv is None or not isinstance(getattr(encoder, "dropout", None),
                                                  torch.nn.Dropout)):
        return 0, 0
    left = right = 0
    for module in pos_conv.modules():
        if isinstance(module, torch.nn.Conv1d):
            padding = module.padding
            if (isinstance(padding, str) or module.stride != (1,) or module.dilation != (1,)
                    or module.padding_mode != "zeros"):
                return 0, 0
            left += int(padding[0])
            right += int(module.kernel_size[0]) - 1 - int(padding[0])
    if left < 0 or right < 0:
        return 0, 0
    return left, right



class _StopForward(BaseException):
    """Raised by a hook to end a forward pass once the deepest requested layer is captured.
    A BaseException so that no ``except Exception`` inside the model swallows it."""


def _crop_hook(start: int, stop: int):
    """Forward hook for ``encoder.dropout`` (the step right before layer 0): keeps frames
    ``[start, stop)`` of its ``(batch, frames, hidden)`` output."""
    def hook(module, args, output):
        if output.shape[1] < stop:
            raise RuntimeError(f"cannot keep frames [{start}, {stop}) of a sequence of "
                               f"{output.shape[1]} frames")
        return output[:, start:stop]
    return hook


def hidden_states(model, input_values: torch.Tensor, layers: Sequence[int], *,
                  crop: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Hidden states ``layers`` (transformers numbering, non-negative) for one unpadded input.

    ``input_values``: ``(1, num_samples)`` in the model's dtype and device. Returns one
    ``(num_frames, hidden_size)`` tensor per index. Index ``i < L`` is the input of transformer
    layer ``i`` (what ``output_hidden_states`` records); index ``L`` is ``last_hidden_state``.
    When every index is below ``L`` the pass ends at the deepest one: layers after it never run.
    ``crop=(start, stop)``: only frames ``[start, stop)`` of the feature-encoder sequence, taken
    after the positional embedding (and the encoder LayerNorm of post-LN models), enter the
    transformer layers; then ``num_frames == stop - start``. Needs a model for which
    :func:`positional_reach` is not ``(0, 0)``.
    """
    blocks = model.encoder.layers
    total = len(blocks)
    wanted = set(layers)
    if not wanted or min(wanted) < 0 or max(wanted) > total:
        raise ValueError(f"hidden-state indices must lie in 0..{total}, got {list(layers)}")
    if crop is not None and not 0 <= crop[0] < crop[1]:
        raise ValueError(f"crop must be (start, stop) with 0 <= start < stop, got {crop}")
    deepest = max(wanted)
    captured: dict[int, torch.Tensor] = {}

    def make_hook(index: int):
        def hook(module, args, kwargs):
            state = args[0] if args else kwargs["hidden_states"]
            captured[index] = state
            if index == deepest:
                raise _StopForward
        return hook

    handles = [blocks[i].register_forward_pre_hook(make_hook(i), with_kwargs=True)
               for i in sorted(wanted) if i < total]
    if crop is not None:
        handles.append(model.encoder.dropout.register_forward_hook(_crop_hook(*crop)))
    try:
        output = model(input_values)
        captured[total] = output.last_hidden_state
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return [captured[i][0] for i in layers]

