"""``python -m w2vbackend.doctor [--json]``: what this environment can do, for ``w2v.doctor``.

Checks, each independent of the others (one failing check never hides the rest): the Python
interpreter, the backend's version and location, torch and the devices it sees (CUDA, Apple's
MPS), and the Hugging Face cache with whether the default model is in it. ``--json`` prints one
JSON object (the keys of :func:`report`) on stdout; without it, one line per check.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any


def _python() -> dict[str, Any]:
    return {"version": platform.python_version(), "executable": sys.executable}


def _backend() -> dict[str, Any]:
    try:
        import w2vbackend

        return {"ok": True, "version": w2vbackend.__version__, "path": w2vbackend.__file__}
    except Exception as err:  # any import failure is the finding itself
        return {"ok": False, "error": f"{type(err).__name__}: {err}"}


def _torch() -> dict[str, Any]:
    try:
        import torch
    except Exception as err:
        return {"ok": False, "error": f"{type(err).__name__}: {err}"}
    cuda = torch.cuda.is_available()
    count = torch.cuda.device_count() if cuda else 0
    devices = [torch.cuda.get_device_name(k) for k in range(count)]
    mps = getattr(torch.backends, "mps", None)
    return {
        "ok": True,
        "version": torch.__version__,
        "cuda": {"available": bool(cuda), "devices": devices},
        "mps": {
            "available": bool(mps is not None and mps.is_available()),
            "built": bool(mps is not None and mps.is_built()),
        },
    }


def _hf_cache() -> dict[str, Any]:
    from .defaults import DEFAULT_MODEL

    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except Exception as err:
        problem = f"{type(err).__name__}: {err}"
        return {"ok": False, "error": problem, "default_model": DEFAULT_MODEL}
    cached = try_to_load_from_cache(DEFAULT_MODEL, "config.json")
    return {
        "ok": True,
        "path": str(constants.HF_HUB_CACHE),
        "default_model": DEFAULT_MODEL,
        "default_model_cached": isinstance(cached, str),
        "offline": bool(constants.HF_HUB_OFFLINE),
    }


def report() -> dict[str, Any]:
    """All checks: keys ``python``, ``backend``, ``torch``, ``hf_cache`` (dicts with ``ok``)."""
    return {
        "python": _python(),
        "backend": _backend(),
        "torch": _torch(),
        "hf_cache": _hf_cache(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2vbackend.doctor", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = report()
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name}: {json.dumps(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
