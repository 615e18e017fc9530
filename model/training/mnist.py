"""Read the MNIST database from its four IDX files, checking every byte.

The IDX format is a 4-byte magic number (two zero bytes, a type code, the
number of dimensions), one big-endian uint32 per dimension, then the data.
Files may be gzip-compressed or plain. The SHA-256 of each decompressed file
is checked against the canonical release, so a model is never trained or
scored on damaged data. Missing files are downloaded from public mirrors
when the network allows it.
"""

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from model.atomic_write import write_atomically
from model.constants import IMAGE_SIDE, MAX_INTENSITY, N_PIXELS

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

TRAIN_IMAGES_SHA256 = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
TRAIN_LABELS_SHA256 = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
TEST_IMAGES_SHA256 = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
TEST_LABELS_SHA256 = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"

SHA256 = {
    TRAIN_IMAGES: TRAIN_IMAGES_SHA256,
    TRAIN_LABELS: TRAIN_LABELS_SHA256,
    TEST_IMAGES: TEST_IMAGES_SHA256,
    TEST_LABELS: TEST_LABELS_SHA256,
}
"""SHA-256 of each decompressed canonical file, by file name without ``.gz``."""

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Base URLs that serve the four files as ``<name>.gz``."""

DOWNLOAD_TIMEOUT_S = 5
"""Seconds to wait for a mirror: without a network, fail fast."""


IDX_UINT8 = 0x08
"""IDX type code of unsigned bytes, the only type MNIST uses."""

IDX_HEADER_BYTES = 4
IDX_DIMENSION_BYTES = 4
GZIP_MAGIC = b"\x1f\x8b"


class MnistError(Exception):
    """An MNIST file is missing, damaged or cannot be downloaded; the message names the file."""


class Mnist(NamedTuple):
    """The MNIST database as uint8 arrays.

    train_images : ndarray of shape (60000, 28, 28), uint8, ink = 255
    train_labels : ndarray of shape (60000,), uint8 in [0, 9]
    test_images  : ndarray of shape (10000, 28, 28), uint8
    test_labels  : ndarray of shape (10000,), uint8
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def read_bytes(path):
    """Return the decompressed bytes of a gzip or plain file."""
    path = Path(path)
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as error:
        raise MnistError(f"{path}: truncated file (the gzip stream ends early)") from error
    except (OSError, zlib.error) as error:
        raise MnistError(f"{path}: damaged gzip stream ({error})") from error


def parse_idx(data, path, expected_ndim):
    """Return the uint8 array held in the IDX bytes `data` read from `path`.

    The magic number must announce unsigned bytes and `expected_ndim`
    dimensions, and the data must have exactly the announced length.
    """
    expected_magic = bytes((0, 0, IDX_UINT8, expected_ndim))
    magic = data[:IDX_HEADER_BYTES]
    if magic != expected_magic:
        raise MnistError(
            f"{path}: wrong magic number 0x{magic.hex() or 'empty'}, expected 0x{expected_magic.hex()} "
            f"(an IDX file of unsigned bytes with {expected_ndim} dimensions)"
        )
    header_length = IDX_HEADER_BYTES + IDX_DIMENSION_BYTES * expected_ndim
    if len(data) < header_length:
        raise MnistError(f"{path}: truncated file ({len(data)} bytes, the header alone needs {header_length})")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=expected_ndim, offset=IDX_HEADER_BYTES))
    expected_length = header_length + int(np.prod(shape))
    if len(data) < expected_length:
        raise MnistError(
            f"{path}: truncated file ({len(data)} bytes, shape {shape} needs {expected_length})"
        )
    if len(data) > expected_length:
        raise MnistError(
            f"{path}: {len(data) - expected_length} unexpected bytes after the data of shape {shape}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_length).reshape(shape)


def check_sha256(data, path, expected_sha256):
    """Raise MnistError unless the bytes `data` read from `path` have the expected SHA-256."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise MnistError(
            f"{path}: checksum mismatch: SHA-256 of the decompressed bytes is {actual}, "
            f"expected {expected_sha256} (the file is damaged or not the canonical MNIST file)"
        )


def read_idx(path, expected_ndim, expected_sha256=None):
    """Return the uint8 array stored in an IDX file, gzip-compressed or plain.

    With `expected_sha256`, the decompressed bytes must match it as well.
    """
    data = read_bytes(path)
    array = parse_idx(data, path, expected_ndim)
    if expected_sha256 is not None:
        check_sha256(data, path, expected_sha256)
    return array


def find_file(data_dir, name):
    """Return the path of `name` (``.gz`` or plain) in `data_dir`, or None if absent."""
    for candidate in (Path(data_dir) / f"{name}.gz", Path(data_dir) / name):
        if candidate.is_file():
            return candidate
    return None


def download(name, data_dir, mirrors=MIRRORS, timeout=DOWNLOAD_TIMEOUT_S):
    """Download ``<name>.gz`` into `data_dir` from the first mirror that serves it intact.

    Each download is checked against the canonical SHA-256 before it is
    written (atomically). Returns the path written; raises MnistError
    listing every mirror's failure.
    """
    target = Path(data_dir) / f"{name}.gz"
    failures = []
    for mirror in mirrors:
        url = f"{mirror}{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                raw = response.read()
            check_sha256(gzip.decompress(raw), url, SHA256[name])
        except (OSError, EOFError, zlib.error, MnistError) as error:
            failures.append(f"{url}: {error}")
            continue
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        write_atomically(target, raw)
        return target
    raise MnistError(f"could not download {name}.gz: " + "; ".join(failures))


def locate_files(data_dir, mirrors=MIRRORS, timeout=DOWNLOAD_TIMEOUT_S):
    """Return {name: path} for the four files, downloading the missing ones.

    Without a network, fail with a message saying which files to put where.
    """
    paths = {name: find_file(data_dir, name) for name in SHA256}
    missing = [name for name, path in paths.items() if path is None]
    failures = []
    for name in missing:
        try:
            paths[name] = download(name, data_dir, mirrors, timeout)
        except MnistError as error:
            failures.append(str(error))
            break
    if failures:
        wanted = ", ".join(f"{name}.gz" for name in missing)
        raise MnistError(
            f"MNIST files missing from {Path(data_dir).resolve()} and the download failed. "
            f"Place these files (gzip or uncompressed) in that folder: {wanted}. "
            f"Download error: {failures[0]}"
        )
    return paths


def load_mnist(data_dir, mirrors=MIRRORS, timeout=DOWNLOAD_TIMEOUT_S):
    """Return the MNIST database read from `data_dir`, every file checked.

    data_dir : folder holding the four IDX files (gzip or plain); missing
               files are downloaded into it from `mirrors`.
    """
    paths = locate_files(data_dir, mirrors, timeout)
    arrays = {}
    for name, ndim in ((TRAIN_IMAGES, 3), (TRAIN_LABELS, 1), (TEST_IMAGES, 3), (TEST_LABELS, 1)):
        arrays[name] = read_idx(paths[name], ndim, SHA256[name])
    return Mnist(arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS], arrays[TEST_IMAGES], arrays[TEST_LABELS])


def load_test_set(data_dir):
    """Return (images, labels) of the MNIST test set in data_dir, checksums verified.

    Only the two test files are read; if one is missing, all four are
    fetched the way training fetches them (or the error says where to put them).
    """
    paths = {name: find_file(data_dir, name) for name in (TEST_IMAGES, TEST_LABELS)}
    if None in paths.values():
        paths = locate_files(data_dir)
    images = read_idx(paths[TEST_IMAGES], 3, SHA256[TEST_IMAGES])
    labels = read_idx(paths[TEST_LABELS], 1, SHA256[TEST_LABELS])
    if len(images) != len(labels):
        raise MnistError(f"{data_dir}: {len(images)} test images but {len(labels)} test labels")
    return images, labels


def to_features(images):
    """Return images as network inputs.

    images : ndarray of shape (n_samples, 28, 28), uint8, ink = 255
    Returns ndarray of shape (n_samples, 784), float32 in [0, 1], ink = 1.
    """
    images = np.asarray(images)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"images must have shape (n_samples, {IMAGE_SIDE}, {IMAGE_SIDE}), got {images.shape}")
    features = images.reshape(len(images), N_PIXELS).astype(np.float32)
    features /= MAX_INTENSITY
    return features

