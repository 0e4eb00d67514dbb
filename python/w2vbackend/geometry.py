"""The timing geometry of a wav2vec2-family model's frames (torch-free).

Output frame ``k`` of a recording covers the model-rate input samples
``[k*stride, k*stride + receptive_field)``. Stride and receptive field come from the checkpoint's
own ``conv_kernel``/``conv_stride``, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameGeometry:
    """Which input samples each output frame sees.

    Output frame ``k`` of a recording covers the model-rate input samples
    ``[k*stride, k*stride + receptive_field)``, whatever the recording's length.
    """

    sample_rate: int                 # model input rate (feature_extractor.sampling_rate), Hz
    conv_kernel: tuple[int, ...]     # kernel size of each feature-encoder convolution, samples
    conv_stride: tuple[int, ...]     # stride of each feature-encoder convolution
    stride: int                      # samples per frame: product of conv_stride (320)
    receptive_field: int             # samples seen by one frame (400)

    @classmethod
    def from_kernels(cls, sample_rate: int, conv_kernel, conv_stride) -> FrameGeometry:
        """Geometry of a cascade of unpadded 1-D convolutions.

        ``stride = prod(s_i)``; ``receptive_field = 1 + sum_i (k_i - 1) * prod_{j<i} s_j``.
        """
        kernels = tuple(int(k) for k in conv_kernel)
        strides = tuple(int(s) for s in conv_stride)
        if not kernels or len(kernels) != len(strides) or min(kernels + strides) < 1:
            raise ValueError(f"conv_kernel {kernels} and conv_stride {strides} do not describe "
                             "a convolution cascade")
        receptive_field, jump = 1, 1
        for kernel, stride in zip(kernels, strides):
            receptive_field += (kernel - 1) * jump
            jump *= stride
        return cls(int(sample_rate), kernels, strides, jump, receptive_field)

    def num_frames(self, num_samples: int) -> int:
        """Frames the model outputs for ``num_samples`` input samples (0 when too short).

        Applies the unpadded convolution length formula layer by layer, exactly as transformers'
        ``_get_feat_extract_output_lengths``; equals ``(num_samples - R) // stride + 1``.
        """
        length = int(num_samples)
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            length = (length - kernel) // stride + 1
            if length <= 0:
                return 0
        return length

    @property
    def frame_stride_s(self) -> float:
        """Seconds between the onsets of consecutive frames (0.02 s for 320 samples at 16 kHz)."""
        return self.stride / self.sample_rate

    @property
    def receptive_field_s(self) -> float:
        """Seconds of audio one frame sees (0.025 s for 400 samples at 16 kHz)."""
        return self.receptive_field / self.sample_rate

    @property
    def frame_center_offset_s(self) -> float:
        """Seconds from a frame's onset to the centre of its receptive field (R / 2 / rate)."""
        return self.receptive_field / (2.0 * self.sample_rate)

    def time_axis(self, num_frames: int) -> np.ndarray:
        """``(num_frames,)`` float64 seconds: onset of frame k's receptive field, k*stride/rate."""
        return (np.arange(int(num_frames), dtype=np.int64) * self.stride) / float(self.sample_rate)

