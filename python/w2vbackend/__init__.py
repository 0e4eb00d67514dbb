"""w2vbackend: exact, chunked wav2vec2-family embeddings with a sample-accurate time axis."""

from importlib import resources


def _read_version() -> str:
    return resources.files(__name__).joinpath("VERSION").read_text().strip()


__version__ = _read_version()

__all__ = ["__version__"]
