"""The model file: one trained model of a known kind in a pickle-free ``.npz``.

Every model file holds `format_version`, `kind` (which class reads the
rest), `metadata` (a JSON object: how it was trained, how well it does) and
the kind's own arrays. `load` reads the kind and hands the arrays to that
class, so another kind of network is one new module plus one line in
`MODEL_KINDS`. Files written before kinds existed (format 1) are MLPs.
"""

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from model.atomic_write import write_atomically

FORMAT_VERSION = 2
"""Version of the layout `write_model_file` writes."""

LEGACY_FORMAT_VERSION = 1
"""Format of files written before `kind` existed: they all hold an MLP."""

LEGACY_KIND = "mlp"

HEADER_KEYS = ("format_version", "kind", "metadata")
"""Arrays every model file has besides its kind's own."""


class ModelFileError(Exception):
    """A model file is missing or malformed; the message names the path and the problem."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def write_model_file(path, kind, arrays, metadata):
    """Write a model's arrays, kind and metadata to `path` atomically: a reader never sees half a model.

    arrays : dict name -> ndarray, the kind's own arrays
    """
    content = {
        "format_version": np.array(FORMAT_VERSION),
        "kind": np.array(kind),
        "metadata": np.array(json.dumps(metadata, sort_keys=True)),
        **arrays,
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **content)
    write_atomically(path, buffer.getvalue())


def read_model_file(path):
    """Return (kind, arrays, metadata) of a model file, checking its header.

    arrays : dict name -> ndarray, the kind's own arrays (header removed)
    Raises ModelFileError naming the path and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "file not found")
    # Open the file here: np.load leaks its own handle when the zip is damaged.
    try:
        with open(path, "rb") as file:
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ModelFileError(path, "not a .npz archive (it holds a single array)")
            with archive:
                arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ModelFileError(path, f"not a readable .npz file ({error})") from error
    for key in ("format_version", "metadata"):
        if key not in arrays:
            raise ModelFileError(path, f"missing array {key!r}")
    format_version = _format_version(path, arrays.pop("format_version"))
    kind = LEGACY_KIND if format_version == LEGACY_FORMAT_VERSION else _kind(path, arrays.pop("kind", None))
    metadata = _metadata(path, arrays.pop("metadata"))
    return kind, arrays, metadata


def _format_version(path, array):
    if array.shape != () or array.dtype.kind not in "iu":
        raise ModelFileError(path, "format_version must be a single integer")
    version = int(array)
    if version not in (LEGACY_FORMAT_VERSION, FORMAT_VERSION):
        raise ModelFileError(
            path, f"unsupported format_version {version} (this code reads "
            f"{LEGACY_FORMAT_VERSION} and {FORMAT_VERSION})"
        )
    return version


def _kind(path, array):
    if array is None:
        raise ModelFileError(path, "missing array 'kind'")
    if array.shape != () or array.dtype.kind != "U":
        raise ModelFileError(path, "kind must be a single string")
    return str(array)


def _metadata(path, array):
    if array.shape != () or array.dtype.kind != "U":
        raise ModelFileError(path, "metadata must be a single JSON string")
    try:
        metadata = json.loads(str(array))
    except json.JSONDecodeError as error:
        raise ModelFileError(path, f"metadata is not valid JSON ({error})") from error
    if not isinstance(metadata, dict):
        raise ModelFileError(path, "metadata must be a JSON object")
    return metadata
