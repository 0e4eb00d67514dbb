"""Loading a wav2vec2-family checkpoint for inference.

A checkpoint is any Hugging Face hub id or local folder whose model has a convolutional feature
encoder on the raw waveform followed by a transformer encoder (wav2vec2, XLS-R, HuBERT, WavLM,
data2vec-audio). The frame geometry (samples per frame, receptive field) is computed from the
checkpoint's own ``conv_kernel``/``conv_stride``, never assumed.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from typing import Any

from .defaults import DEFAULT_MODEL, DTYPE_NAMES
from .device import choose_device, sanitize_thread_env
from .errors import ModelError, UsageError
from .geometry import FrameGeometry

# Before torch loads MKL/OpenMP: they read their thread variables once, at import time.
sanitize_thread_env()

import torch  # noqa: E402

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}
# A hub id: "name" or "namespace/name" (letters, digits, ".", "_", "-").
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?")
# A file inside the hub cache: .../snapshots/<40-hex commit>/...
_SNAPSHOT = re.compile(r"/snapshots/([0-9a-f]{40})/")
# Phrases of transformers/huggingface_hub errors meaning "not cached here and not downloadable".
_NOT_CACHED_HINTS = ("couldn't connect", "offline", "outgoing traffic has been disabled",
                     "cannot find the requested files in the cached path",
                     "localentrynotfound")


@dataclass
class LoadedModel:
    """A checkpoint ready for inference (eval mode, on ``device`` in ``dtype``)."""

    model: Any                       # transformers model (Wav2Vec2Model, HubertModel, ...)
    feature_extractor: Any           # transformers feature extractor (sampling_rate, do_normalize)
    geometry: FrameGeometry
    name: str                        # hub id or local folder as given
    revision: str | None             # revision asked for (None: the default branch)
    commit_hash: str | None          # resolved hub commit when known; None for local folders
    device: torch.device
    dtype: torch.dtype
    num_hidden_layers: int           # transformer layers L; hidden-state indices run 0..L
    hidden_size: int
    do_normalize: bool               # zero-mean unit-variance input normalisation

    @property
    def feat_extract_norm(self) -> str:
        """``"group"`` (wav2vec2-base, HuBERT-base, WavLM-base) or ``"layer"`` (XLS-R, large)."""
        return str(getattr(self.model.config, "feat_extract_norm", "layer"))

    @property
    def stable_layer_norm(self) -> bool:
        """True for pre-LN transformers (XLS-R), whose last hidden state gets a final LayerNorm."""
        return bool(getattr(self.model.config, "do_stable_layer_norm", False))

    @property
    def model_type(self) -> str:
        return str(getattr(self.model.config, "model_type", type(self.model).__name__))

    def info(self) -> ModelInfo:
        """What the outputs record about this checkpoint (no tensors)."""
        return ModelInfo(name=self.name, revision=self.revision, commit_hash=self.commit_hash,
                         model_type=self.model_type, num_hidden_layers=self.num_hidden_layers,
                         hidden_size=self.hidden_size, do_normalize=self.do_normalize,
                         device=str(self.device), dtype=dtype_name(self.dtype))


@dataclass(frozen=True)
class ModelInfo:
    """The checkpoint a result was computed with, as recorded in the outputs."""

    name: str                        # hub id, or the local folder's absolute path
    revision: str | None
    commit_hash: str | None
    model_type: str                  # "wav2vec2", "hubert", "wavlm", ...
    num_hidden_layers: int
    hidden_size: int
    do_normalize: bool
    device: str                      # "cpu", "cuda:0", "mps"
    dtype: str                       # precision the model ran in


def parse_dtype(dtype) -> torch.dtype:
    """``"float32"`` | ``"float16"`` | ``"bfloat16"`` (or the torch dtype itself) -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype in DTYPES.values():
            return dtype
    elif isinstance(dtype, str) and dtype.strip().lower() in DTYPES:
        return DTYPES[dtype.strip().lower()]
    raise UsageError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")


def dtype_name(dtype: torch.dtype) -> str:
    return next(name for name, value in DTYPES.items() if value == dtype)


def _looks_like_path(name: str) -> bool:
    return os.path.isabs(name) or name.startswith((".", "~")) or not _HUB_ID.fullmatch(name)


def _first_sentence(exc: BaseException) -> str:
    """The first sentence of an exception's message, on one line."""
    text = " ".join(str(exc).split())
    sentence = text.split(". ")[0].rstrip(".")
    return (sentence[:240] + "...") if len(sentence) > 240 else (sentence or type(exc).__name__)


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except Exception:  # pragma: no cover - very old huggingface_hub
        pass
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hub_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover
        return os.path.join(os.environ.get("HF_HOME", "~/.cache/huggingface"), "hub")


def _load_error(name: str, what: str, exc: BaseException,
                revision: str | None = None) -> ModelError:
    """One-line ModelError for a failed ``from_pretrained`` of ``what`` (config, weights...)."""
    chain, cause = [], exc
    while cause is not None and len(chain) < 8:
        chain.append(f"{type(cause).__name__} {cause}".lower())
        cause = cause.__cause__ or cause.__context__
    text = " ".join(chain)
    if not os.path.isdir(os.path.expanduser(name)) and any(h in text for h in _NOT_CACHED_HINTS):
        why = ("offline mode is on (HF_HUB_OFFLINE)" if _offline()
               else "huggingface.co cannot be reached")
        label = name if revision is None else f"{name} (revision {revision})"
        return ModelError(
            f"model {label}: not in the local Hugging Face cache ({_hub_cache()}) and it cannot be "
            f"downloaded because {why}; download it once with network access (unset "
            "HF_HUB_OFFLINE), set HF_HOME to the cache folder that holds it, or pass a local "
            "model folder")
    if "weights only load failed" in text:
        return ModelError(f"model {name}: its .bin weights hold objects other than tensors and "
                          "are refused (only torch's safe weights_only loading is used); use a "
                          "safetensors checkpoint")
    if "trust_remote_code" in text or "custom code" in text:
        return ModelError(f"model {name}: the checkpoint needs its own Python code "
                          "(trust_remote_code), which is never run here; use a checkpoint of a "
                          "built-in wav2vec2-family model")
    return ModelError(f"model {name}: cannot load its {what}: {_first_sentence(exc)}")


def _commit_hash(name: str, source: str, revision: str | None, config) -> str | None:
    """The hub commit the checkpoint was read from, when known (None for local folders)."""
    commit = getattr(config, "_commit_hash", None)  # transformers 4.x keeps it on the config
    if commit:
        return str(commit)
    if os.path.isdir(source):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:
        return None
    match = _SNAPSHOT.search(str(path).replace(os.sep, "/")) if isinstance(path, str) else None
    return match.group(1) if match else None


def _weights_kwargs() -> dict:
    """Keyword arguments that make ``from_pretrained`` prefer safetensors and load ``.bin``
    weights only through torch's safe ``weights_only`` unpickler."""
    from transformers import PreTrainedModel

    kwargs: dict = {"use_safetensors": None}  # None: safetensors when present, else .bin
    if "weights_only" in inspect.signature(PreTrainedModel.from_pretrained).parameters:
        kwargs["weights_only"] = True
    return kwargs


def _validate_config(name: str, config) -> None:
    kernels = getattr(config, "conv_kernel", None)
    strides = getattr(config, "conv_stride", None)
    if kernels is None or strides is None:
        raise ModelError(
            f"model {name}: a {getattr(config, 'model_type', '?')} checkpoint is not a "
            "wav2vec2-like model (its config has no conv_kernel/conv_stride feature encoder); "
            "use a wav2vec2, XLS-R, HuBERT, WavLM or data2vec-audio checkpoint")
    if getattr(config, "add_adapter", False):
        raise ModelError(f"model {name}: checkpoints with adapter layers (add_adapter=True) "
                         "change the frame rate and are not supported")
    try:
        FrameGeometry.from_kernels(1, kernels, strides)
    except ValueError as exc:
        raise ModelError(f"model {name}: {exc}") from None


def _validate_model(name: str, model) -> None:
    encoder = getattr(model, "encoder", None)
    convs = getattr(getattr(model, "feature_extractor", None), "conv_layers", None)
    if convs is None or getattr(encoder, "layers", None) is None:
        raise ModelError(f"model {name}: {type(model).__name__} has no convolutional feature "
                         "encoder followed by transformer layers; it is not wav2vec2-like")


def load_model(name: str = DEFAULT_MODEL, *, revision: str | None = None, device="auto",
               dtype="float32") -> LoadedModel:
    """Load a wav2vec2-family checkpoint for inference.

    ``name``: hub id or local folder. ``revision``: branch, tag or commit of a hub id.
    ``device``: see :func:`w2vbackend.device.choose_device`. ``dtype``: float32 (default),
    float16 or bfloat16 — the dtype the model runs in. Remote code is never run; safetensors
    weights are preferred, ``.bin`` weights are read with torch's ``weights_only`` loader.
    Raises :class:`ModelError` (one line) when the checkpoint cannot be found or used.
    """
    torch_dtype = parse_dtype(dtype)
    torch_device = choose_device(device) if not isinstance(device, torch.device) else device
    name = str(name)
    if _looks_like_path(name) and not os.path.isdir(os.path.expanduser(name)):
        raise ModelError(f"model {name}: no such model folder (and not a valid hub id)")
    source = os.path.expanduser(name) if os.path.isdir(os.path.expanduser(name)) else name

    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

    common = {"revision": revision, "trust_remote_code": False}
    try:
        config = AutoConfig.from_pretrained(source, **common)
    except Exception as exc:
        raise _load_error(name, "config (config.json)", exc, revision) from exc
    _validate_config(name, config)
    try:
        feature_extractor = AutoFeatureExtractor.from_pretrained(source, **common)
    except Exception as exc:
        raise _load_error(name, "feature extractor (preprocessor_config.json)", exc,
                          revision) from exc
    sample_rate = getattr(feature_extractor, "sampling_rate", None)
    if not sample_rate:
        raise ModelError(f"model {name}: its feature extractor has no sampling_rate, so the "
                         "input rate is unknown; add \"sampling_rate\" to preprocessor_config.json")

    try:
        model = AutoModel.from_pretrained(source, config=config, **common, **_weights_kwargs())
    except Exception as exc:
        raise _load_error(name, "weights", exc, revision) from exc
    _validate_model(name, model)
    model.eval()
    model.to(device=torch_device, dtype=torch_dtype)

    geometry = FrameGeometry.from_kernels(int(sample_rate), config.conv_kernel, config.conv_stride)
    return LoadedModel(
        model=model,
        feature_extractor=feature_extractor,
        geometry=geometry,
        name=name,
        revision=revision,
        commit_hash=_commit_hash(name, source, revision, config),
        device=torch_device,
        dtype=torch_dtype,
        num_hidden_layers=len(model.encoder.layers),
        hidden_size=int(config.hidden_size),
        do_normalize=bool(getattr(feature_extractor, "do_normalize", False)),
    )


__all__ = ["DEFAULT_MODEL", "DTYPES", "FrameGeometry", "LoadedModel", "ModelInfo", "dtype_name",
           "load_model", "parse_dtype"]
