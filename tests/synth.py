"""Synthetic test material: speech-like audio and small random-weight checkpoints.

Nothing here downloads anything. Checkpoints are written with ``save_pretrained`` and loaded back
through the same ``from_pretrained`` path that users take with a hub id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Kernels and strides of every wav2vec2-family feature encoder: 320-sample stride and
# 400-sample receptive field at 16 kHz.
CONV_KERNEL = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDE = (5, 2, 2, 2, 2, 2, 2)

# name -> (model family, config overrides, feature-extractor settings as the real
# checkpoints set them)
CHECKPOINTS = {
    # facebook/wav2vec2-large-xlsr-53: layer-norm feature encoder, pre-LN ("stable") transformer
    "xlsr": (
        "wav2vec2",
        {"do_stable_layer_norm": True, "feat_extract_norm": "layer"},
        {"do_normalize": True, "return_attention_mask": True},
    ),
    # facebook/wav2vec2-base: group-norm feature encoder, post-LN transformer
    "base": (
        "wav2vec2",
        {"do_stable_layer_norm": False, "feat_extract_norm": "group"},
        {"do_normalize": True, "return_attention_mask": False},
    ),
    # facebook/hubert-base-ls960
    "hubert": (
        "hubert",
        {"do_stable_layer_norm": False, "feat_extract_norm": "group"},
        {"do_normalize": False, "return_attention_mask": False},
    ),
    # microsoft/wavlm-base-plus
    "wavlm": (
        "wavlm",
        {"do_stable_layer_norm": False, "feat_extract_norm": "group"},
        {"do_normalize": False, "return_attention_mask": True},
    ),
}


def tiny_config_kwargs(num_layers: int = 4, hidden: int = 32) -> dict:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 2,
        "intermediate_size": 2 * hidden,
        "conv_dim": (32,) * len(CONV_KERNEL),
        "conv_kernel": CONV_KERNEL,
        "conv_stride": CONV_STRIDE,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "feat_proj_dropout": 0.0,
        "layerdrop": 0.0,
    }


def build_checkpoint(
    name: str, folder: Path, *, num_layers: int = 4, hidden: int = 32, seed: int = 0
) -> Path:
    """Write a random-weight checkpoint of the named kind (see CHECKPOINTS) into ``folder``."""
    import torch
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMModel,
    )

    family, overrides, fe_settings = CHECKPOINTS[name]
    config_cls, model_cls = {
        "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
        "hubert": (HubertConfig, HubertModel),
        "wavlm": (WavLMConfig, WavLMModel),
    }[family]
    kwargs = tiny_config_kwargs(num_layers=num_layers, hidden=hidden)
    kwargs.update(overrides)
    if family == "wavlm":
        kwargs["num_buckets"] = 32
        kwargs["max_bucket_distance"] = 100
    torch.manual_seed(seed)
    model = model_cls(config_cls(**kwargs)).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, **fe_settings
    ).save_pretrained(folder)
    return folder


def speech_like(duration_s: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Mono float32 signal in [-1, 1] with a gliding harmonic voice, syllable-rate amplitude
    modulation and noise bursts: enough structure that the model's frames differ over time."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t) + 15 * np.sin(2 * np.pi * 2.1 * t + 1.0)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi))) ** 2
    bursts = rng.standard_normal(n) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)
    signal = 0.25 * voice * envelope + 0.05 * bursts + 0.005 * rng.standard_normal(n)
    signal /= max(1e-9, float(np.max(np.abs(signal)))) / 0.9
    return signal.astype(np.float32)
