"""Random-weight models with the real shapes of public checkpoints, built locally.

Timing does not depend on weight values, so these stand in for the real checkpoints without a
download. Each builder writes a checkpoint folder (model + feature-extractor config) that loads
through the same ``from_pretrained`` path as a hub id.
"""

from __future__ import annotations

from pathlib import Path

CONV = {
    "conv_dim": (512,) * 7,
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
}

# The architecture fields of the public config.json files.
SHAPES = {
    "xlsr53": {  # facebook/wav2vec2-large-xlsr-53
        "config": dict(CONV, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                       intermediate_size=4096, conv_bias=True, feat_extract_norm="layer",
                       do_stable_layer_norm=True),
        "feature_extractor": {"do_normalize": True, "return_attention_mask": True},
    },
    "base": {  # facebook/wav2vec2-base
        "config": dict(CONV, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       intermediate_size=3072, conv_bias=False, feat_extract_norm="group",
                       do_stable_layer_norm=False),
        "feature_extractor": {"do_normalize": True, "return_attention_mask": False},
    },
    # Not a public checkpoint: an XLSR-like miniature (same encoder kinds and layer-norm order)
    # that makes every benchmark part run in seconds, for smoke tests (--quick).
    "tiny": {
        "config": dict(CONV, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                       num_conv_pos_embedding_groups=4, hidden_size=32, num_hidden_layers=4,
                       num_attention_heads=2, intermediate_size=64, conv_bias=True,
                       feat_extract_norm="layer", do_stable_layer_norm=True),
        "feature_extractor": {"do_normalize": True, "return_attention_mask": True},
    },
    # The same miniature with wav2vec2-base's group-norm encoder and post-LN transformer.
    "tiny-base": {
        "config": dict(CONV, conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                       num_conv_pos_embedding_groups=4, hidden_size=32, num_hidden_layers=4,
                       num_attention_heads=2, intermediate_size=64, conv_bias=False,
                       feat_extract_norm="group", do_stable_layer_norm=False),
        "feature_extractor": {"do_normalize": True, "return_attention_mask": False},
    },
}

# Public checkpoint each shape stands in for (None: no public counterpart).
PUBLIC_NAMES = {"xlsr53": "facebook/wav2vec2-large-xlsr-53", "base": "facebook/wav2vec2-base",
                "tiny": None, "tiny-base": None}


def config(shape: str):
    """The ``Wav2Vec2Config`` of the named shape (no weights)."""
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(**SHAPES[shape]["config"])


def build(shape: str, folder: Path, seed: int = 0) -> Path:
    """Write a random-weight checkpoint of the named shape into ``folder`` (reused if present)."""
    folder = Path(folder)
    if (folder / "config.json").exists() and (folder / "preprocessor_config.json").exists():
        return folder
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    spec = SHAPES[shape]
    torch.manual_seed(seed)
    model = Wav2Vec2Model(Wav2Vec2Config(**spec["config"])).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             **spec["feature_extractor"]).save_pretrained(folder)
    return folder
