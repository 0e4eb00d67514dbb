"""MAT-files holding structs and cell arrays (as the neural toolboxes' files do), v5 or v7.3.

Values: a ``dict`` is a MATLAB struct (1 x 1), a :class:`Cell` a cell array, ``str`` a char row,
numeric arrays are given in MATLAB's orientation (``(n, d)`` is ``[n x d]``; scalars become
``[1 x 1]``), float32 arrays become ``single`` and everything else numeric ``double``.

* v5 is written by ``scipy.io.savemat`` (object arrays are cells, dicts structs); one
  variable must stay under 2 GiB.
* v7.3 is HDF5 in the layout MATLAB writes (see :mod:`w2vbackend.matfile`): a struct is a
  group with ``MATLAB_class = "struct"`` and a ``MATLAB_fields`` attribute, a cell is a dataset
  of object references (``MATLAB_class = "cell"``) to datasets in the ``#refs#`` group.

Files are written under a temporary name and renamed into place, so a reader never sees half
a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError

MAT_VERSIONS = ("auto", "5", "7.3")
# One MAT v5 variable holds at most 2 GiB; keep a margin for headers and small fields.
V5_MAX_BYTES = 2**31 - 2**24


class Cell:
    """A MATLAB cell array of size ``shape`` (2-D), filled in column-major MATLAB order from
    ``items`` (a flat sequence) or set with ``cell[i, j] = value``."""

    def __init__(self, shape: tuple[int, int], items: Any = None):
        self.shape = (int(shape[0]), int(shape[1]))
        self.items = np.empty(self.shape, dtype=object)
        if items is not None:
            items = list(items)
            if len(items) != self.items.size:
                raise ValueError(f"{len(items)} items for a cell of size {self.shape}")
            for index, item in enumerate(items):
                self.items[index % self.shape[0], index // self.shape[0]] = item

    def __setitem__(self, index, value) -> None:
        self.items[index] = value

    def __getitem__(self, index):
        return self.items[index]


def data_bytes(value: Any) -> int:
    """Bytes of numeric data in ``value`` (to choose between v5 and v7.3)."""
    if isinstance(value, Mapping):
        return sum(data_bytes(v) for v in value.values())
    if isinstance(value, Cell):
        return sum(data_bytes(v) for v in value.items.flat)
    if isinstance(value, str):
        return 2 * len(value)
    return int(np.asarray(value).nbytes)


def choose_version(requested: str, variables: Mapping[str, Any]) -> str:
    """``"5"`` or ``"7.3"``: as requested, or (``auto``) v5 while every variable fits."""
    requested = str(requested)
    if requested not in MAT_VERSIONS:
        raise UsageError(f"mat version {requested!r} is not one of {', '.join(MAT_VERSIONS)}")
    largest = max((data_bytes(v) for v in variables.values()), default=0)
    if requested == "auto":
        return "5" if largest <= V5_MAX_BYTES else "7.3"
    if requested == "5" and largest > V5_MAX_BYTES:
        raise UsageError(f"a variable holds {largest / 2**30:.1f} GiB, over MAT v5's 2 GiB "
                         "limit; use mat version 7.3 (or auto)")
    return requested


def write_mat(path: str | os.PathLike, variables: Mapping[str, Any],
              version: str = "auto") -> str:
    """Write ``variables`` (name -> value) to ``path``; returns the version written."""
    path = Path(path)
    version = choose_version(version, variables)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if version == "5":
            _write_v5(temp, variables)
        else:
            _write_v73(temp, variables)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()
    return version


# --------------------------------------------------------------------------------------------
# v5


def _v5_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _v5_value(v) for k, v in value.items()}
    if isinstance(value, Cell):
        out = np.empty(value.shape, dtype=object)
        for index in np.ndindex(*value.shape):
            out[index] = _v5_value(value.items[index])
        return out
    if isinstance(value, str):
        return value
    return _numeric(value)


def _numeric(value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == np.bool_:
        array = array.astype(np.float64)
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    elif array.ndim == 1:
        array = array.reshape(1, -1)
    return array


def _write_v5(path: Path, variables: Mapping[str, Any]) -> None:
    import scipy.io

    with open(path, "wb") as stream:
        scipy.io.savemat(stream, {k: _v5_value(v) for k, v in variables.items()},
                         format="5", do_compression=False, oned_as="row")
        stream.flush()
        os.fsync(stream.fileno())


# --------------------------------------------------------------------------------------------
# v7.3


def _write_v73(path: Path, variables: Mapping[str, Any]) -> None:
    from .matfile import Mat73Writer

    with Mat73Writer(path) as writer:
        h5 = writer._h5  # the open h5py.File; Mat73Writer writes the MATLAB header on close
        refs = h5.create_group("#refs#")
        counter = iter(range(1 << 40))
        for name, value in variables.items():
            _write_h5(h5, name, value, refs, counter)


def _set_class(obj, matlab_class: str) -> None:
    obj.attrs["MATLAB_class"] = np.bytes_(matlab_class)


def _write_h5(parent, name: str, value: Any, refs, counter) -> Any:
    import h5py

    if isinstance(value, Mapping):
        group = parent.create_group(name)
        _set_class(group, "struct")
        fields = [str(k) for k in value]
        vlen = h5py.vlen_dtype(np.dtype("S1"))
        attr = np.empty(len(fields), dtype=object)
        for i, field in enumerate(fields):
            attr[i] = np.frombuffer(field.encode("ascii"), dtype="S1")
        group.attrs.create("MATLAB_fields", attr, dtype=vlen)
        for field, item in value.items():
            _write_h5(group, str(field), item, refs, counter)
        return group
    if isinstance(value, Cell):
        references = np.empty(value.shape, dtype=h5py.ref_dtype)
        for index in np.ndindex(*value.shape):
            item = _write_h5(refs, _ref_name(next(counter)), value.items[index], refs, counter)
            references[index] = item.ref
        dataset = parent.create_dataset(name, data=references.T, dtype=h5py.ref_dtype)
        _set_class(dataset, "cell")
        return dataset
    if isinstance(value, str):
        codes = np.frombuffer(value.encode("utf-16-le"), dtype="<u2")
        if codes.size == 0:
            return _write_empty(parent, name, "char", (1, 0))
        dataset = parent.create_dataset(name, data=codes.reshape(-1, 1))
        _set_class(dataset, "char")
        dataset.attrs["MATLAB_int_decode"] = np.int32(2)
        return dataset
    array = _numeric(value)
    matlab_class = "single" if array.dtype == np.float32 else "double"
    if array.size == 0:
        return _write_empty(parent, name, matlab_class, array.shape)
    # MATLAB is column-major: an [n x d] array is the HDF5 dataset (d, n).
    dataset = parent.create_dataset(name, data=np.ascontiguousarray(array.T))
    _set_class(dataset, matlab_class)
    return dataset


def _write_empty(parent, name: str, matlab_class: str, shape: tuple[int, ...]):
    dataset = parent.create_dataset(name, data=np.asarray(shape, dtype=np.uint64))
    _set_class(dataset, matlab_class)
    dataset.attrs["MATLAB_empty"] = np.uint8(1)
    return dataset


def _ref_name(number: int) -> str:
    # MATLAB names the referenced objects a, b, ..., z, ba, bb, ... ; any unique name reads back.
    letters = "abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = letters[digit] + text
        if number == 0:
            return text


__all__ = ["MAT_VERSIONS", "Cell", "choose_version", "data_bytes", "write_mat"]
