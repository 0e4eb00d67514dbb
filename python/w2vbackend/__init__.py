"""w2vbackend: exact, chunked wav2vec2-family embeddings with a sample-accurate time axis.

The public API is re-exported here lazily, so that ``import w2vbackend`` (and a CLI run whose
outputs are all up to date) never imports torch. No exported name is also a submodule's name,
so ``from w2vbackend import extract`` always gives the function.
"""

from importlib import resources

from .device import sanitize_thread_env

# MATLAB can leave MKL_NUM_THREADS / OMP_NUM_THREADS set to values that crash torch's import;
# clean them before any submodule imports torch.
sanitize_thread_env()

__version__ = resources.files(__name__).joinpath("VERSION").read_text().strip()

_LAZY = {
    "extract": "engine",
    "Result": "engine",
    "EngineSettings": "engine",
    "resolve_layers": "layers",
    "load_model": "model",
    "LoadedModel": "model",
    "FrameGeometry": "geometry",
    "load_audio": "audio",
    "Audio": "audio",
    "Request": "request",
    "make_request": "request",
    "run": "runner",
    "resample_features": "retime",
    "W2VError": "errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
