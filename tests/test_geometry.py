"""Frame geometry and window planning: exact frame counts and no drift, at every length."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import CONV_KERNEL, CONV_STRIDE
from w2vbackend.defaults import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from w2vbackend.geometry import FrameGeometry
from w2vbackend.windows import frames_for_seconds, plan_windows

SR = 16000
ONE_HOUR = 3600 * SR
GEOMETRY = FrameGeometry.from_kernels(SR, CONV_KERNEL, CONV_STRIDE)
# fairseq's wav2vec (v1/v2 small) feature encoder: another cascade, to show nothing is hard-coded
OTHER = FrameGeometry.from_kernels(SR, (10, 8, 4, 4, 4, 1, 1), (5, 4, 2, 2, 2, 1, 1))


@pytest.fixture(scope="module")
def xlsr_model(checkpoints):
    from transformers import AutoModel

    return AutoModel.from_pretrained(checkpoints["xlsr"]).eval()


def reference_lengths(model, lengths) -> list[int]:
    """transformers' own output-length formula."""
    out = model._get_feat_extract_output_lengths(torch.tensor(lengths, dtype=torch.long))
    return [int(v) for v in out]


def boundary_lengths(geometry: FrameGeometry) -> list[int]:
    r, s = geometry.receptive_field, geometry.stride
    chunk = int(DEFAULT_CHUNK_SECONDS * SR)
    near = [r, r - 1, r + 1, r + s - 1, r + s, r + s + 1, 2 * r, chunk - 1, chunk, chunk + 1,
            ONE_HOUR - 1, ONE_HOUR, ONE_HOUR + 1]
    # every frame boundary k*s + r (and one sample either side) for small and large k
    for k in [*list(range(40)), 999, 1000, 1001, 179998, 179999, 180000]:
        near += [k * s + r - 1, k * s + r, k * s + r + 1]
    return sorted({n for n in near if n > 0})


def test_xlsr_geometry_from_kernels():
    assert GEOMETRY.stride == 320
    assert GEOMETRY.receptive_field == 400
    assert GEOMETRY.frame_stride_s == pytest.approx(0.02)
    assert GEOMETRY.receptive_field_s == pytest.approx(0.025)
    assert GEOMETRY.frame_center_offset_s == pytest.approx(0.0125)


def test_other_cascade_geometry():
    # R = 1 + 9*1 + 7*5 + 3*20 + 3*40 + 3*80 + 0 + 0
    assert OTHER.stride == 160
    assert OTHER.receptive_field == 465


def test_geometry_of_loaded_checkpoint_matches_config(checkpoints):
    from w2vbackend.model import load_model

    loaded = load_model(str(checkpoints["base"]), device="cpu")
    assert loaded.geometry == GEOMETRY


def test_num_frames_equals_transformers_for_every_small_length(xlsr_model):
    lengths = list(range(GEOMETRY.receptive_field - 5, 4000))
    ours = [GEOMETRY.num_frames(n) for n in lengths]
    assert ours == reference_lengths(xlsr_model, lengths)


def test_num_frames_equals_transformers_at_every_boundary(xlsr_model):
    lengths = boundary_lengths(GEOMETRY)
    ours = [GEOMETRY.num_frames(n) for n in lengths]
    assert ours == reference_lengths(xlsr_model, lengths)
    r, s = GEOMETRY.receptive_field, GEOMETRY.stride
    assert GEOMETRY.num_frames(r) == 1
    assert GEOMETRY.num_frames(r - 1) == 0
    assert GEOMETRY.num_frames(r + s - 1) == 1
    assert GEOMETRY.num_frames(r + s) == 2
    # one hour at 16 kHz: (57_600_000 - 400) // 320 + 1
    assert GEOMETRY.num_frames(ONE_HOUR) == 179_999


def test_num_frames_is_zero_below_one_receptive_field():
    assert [GEOMETRY.num_frames(n) for n in (0, 1, 9, 10, 100, 399)] == [0] * 6


@given(st.integers(min_value=1, max_value=10 * ONE_HOUR))
@settings(max_examples=300, deadline=None)
def test_num_frames_closed_form(n):
    for geometry in (GEOMETRY, OTHER):
        expected = max(0, (n - geometry.receptive_field) // geometry.stride + 1)
        assert geometry.num_frames(n) == expected


def test_time_axis_is_exact_onsets():
    axis = GEOMETRY.time_axis(GEOMETRY.num_frames(ONE_HOUR))
    assert axis.dtype == np.float64
    assert axis.shape == (179_999,)
    assert axis[0] == 0.0
    assert axis[1] == 0.02
    assert axis[50] == 1.0
    assert axis[-1] == 179_998 * 320 / 16000
    np.testing.assert_array_equal(axis, np.arange(179_999) * 320 / 16000)


def check_plan(num_samples: int, geometry: FrameGeometry, chunk, context) -> list:
    windows = plan_windows(num_samples, geometry, chunk, context)
    total = geometry.num_frames(num_samples)
    # kept blocks tile [0, total) in order, each frame exactly once
    assert sum(w.keep_stop - w.keep_start for w in windows) == total
    assert windows[0].keep_start == 0 and windows[-1].keep_stop == total
    for i in range(1, len(windows)):
        assert windows[i - 1].keep_stop == windows[i].keep_start
    for w in windows:
        assert 0 <= w.frame_start <= w.keep_start < w.keep_stop <= w.frame_stop <= total
        assert w.keep_start - w.frame_start == min(context, w.keep_start)
        assert w.frame_stop - w.keep_stop == min(context, total - w.keep_stop)
        # the window starts on a multiple of the stride, so its frame j is global frame start+j
        assert w.sample_start == w.frame_start * geometry.stride
        assert 0 <= w.sample_start < w.sample_stop <= num_samples
        assert geometry.num_frames(w.sample_stop - w.sample_start) == w.frame_stop - w.frame_start
        # ... and its last frame ends exactly at sample_stop, except that the window with the
        # recording's last frame runs on to the end of the recording (< stride more samples)
        end = (w.frame_stop - 1) * geometry.stride + geometry.receptive_field
        if w.frame_stop == total:
            assert w.sample_stop == num_samples and 0 <= num_samples - end < geometry.stride
        else:
            assert w.sample_stop == end
    return windows


def test_one_hour_plan_with_default_settings():
    chunk = frames_for_seconds(DEFAULT_CHUNK_SECONDS, GEOMETRY, round_up=False)
    context = frames_for_seconds(DEFAULT_CONTEXT_SECONDS, GEOMETRY, round_up=True)
    assert chunk == 1000
    assert context == round(DEFAULT_CONTEXT_SECONDS * SR / GEOMETRY.stride)
    windows = check_plan(ONE_HOUR, GEOMETRY, chunk, context)
    assert len(windows) == 180
    # every 20 s block keeps 1000 frames (not 999 as a 320,000-sample chunk gives): no drift
    assert all(w.keep_stop - w.keep_start == 1000 for w in windows[:-1])
    assert windows[-1].keep_stop - windows[-1].keep_start == 999
    assert windows[100].keep_start * GEOMETRY.stride / SR == 2000.0


def test_naive_chunks_lose_a_frame_per_cut():
    # what the original workflow did: 20 s chunks of samples, frames concatenated
    chunk = int(DEFAULT_CHUNK_SECONDS * SR)
    naive = sum(GEOMETRY.num_frames(min(chunk, ONE_HOUR - s)) for s in range(0, ONE_HOUR, chunk))
    assert naive == 180 * 999
    assert GEOMETRY.num_frames(ONE_HOUR) - naive == 179  # 3.58 s of drift by the end


@pytest.mark.parametrize("num_samples", [*boundary_lengths(GEOMETRY)[:60], ONE_HOUR + 1])
@pytest.mark.parametrize(("chunk", "context"), [(1, 0), (7, 3), (250, 100), (1000, 100)])
def test_plans_at_boundary_lengths(num_samples, chunk, context):
    if GEOMETRY.num_frames(num_samples) == 0:
        assert plan_windows(num_samples, GEOMETRY, chunk, context) == []
    else:
        check_plan(num_samples, GEOMETRY, chunk, context)


@given(n=st.integers(min_value=400, max_value=2_000_000), chunk=st.integers(1, 3000),
       context=st.integers(0, 400))
@settings(max_examples=200, deadline=None)
def test_plans_property(n, chunk, context):
    check_plan(n, GEOMETRY, chunk, context)
    if OTHER.num_frames(n):
        check_plan(n, OTHER, chunk, context)


def test_single_window_when_chunk_is_none():
    (window,) = plan_windows(10 * SR, GEOMETRY, None, 100)
    assert (window.keep_start, window.frame_start, window.sample_start) == (0, 0, 0)
    assert window.keep_stop == window.frame_stop == GEOMETRY.num_frames(10 * SR)
