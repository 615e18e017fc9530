"""Reading MNIST: IDX parsing, checksums, the offline download message, features."""

import gzip
import hashlib
import time

import numpy as np
import pytest

from model.training.mnist import (
    SHA256,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    MnistError,
    load_mnist,
    read_idx,
    to_features,
)

UNREACHABLE_MIRROR = "http://127.0.0.1:9/"
"""The discard port on this machine: nothing listens, so a download fails at once."""


def idx_bytes(array):
    """Return the IDX encoding of a uint8 array: magic, big-endian dimensions, data."""
    header = bytes((0, 0, 0x08, array.ndim)) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def sample_images():
    return np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_read_idx_round_trip(tmp_path, compress):
    images = sample_images()
    data = idx_bytes(images)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    array = read_idx(path, 3, hashlib.sha256(data).hexdigest())
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, images)


def test_wrong_magic_number(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes(sample_images()))
    with pytest.raises(MnistError, match=r"wrong magic number 0x00000803, expected 0x00000801") as caught:
        read_idx(path, 1)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("cut", "message"),
    [(3, "wrong magic number"), (10, "the header alone needs 16"), (-1, "shape (2, 3, 4) needs 40")],
    ids=["in-magic", "in-header", "in-data"],
)
def test_truncated_plain_file(tmp_path, cut, message):
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(sample_images())[:cut])
    with pytest.raises(MnistError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(path, 3)


def test_truncated_gzip_file(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(sample_images()))[:-12])
    with pytest.raises(MnistError, match="truncated file"):
        read_idx(path, 3)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(sample_images()) + b"\x00")
    with pytest.raises(MnistError, match="1 unexpected bytes after the data"):
        read_idx(path, 3)


def test_checksum_mismatch(tmp_path):
    path = tmp_path / f"{TRAIN_LABELS}.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5, dtype=np.uint8))))
    with pytest.raises(MnistError, match="checksum mismatch") as caught:
        read_idx(path, 1, SHA256[TRAIN_LABELS])
    assert SHA256[TRAIN_LABELS] in str(caught.value)
    assert str(path) in str(caught.value)


def test_offline_download_failure_names_files_and_folder(tmp_path):
    data_dir = tmp_path / "mnist"
    started = time.monotonic()
    with pytest.raises(MnistError) as caught:
        load_mnist(data_dir, mirrors=(UNREACHABLE_MIRROR,), timeout=2)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert str(data_dir.resolve()) in message
    for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS):
        assert f"{name}.gz" in message
    assert UNREACHABLE_MIRROR in message
    assert not data_dir.exists() or not any(data_dir.iterdir())


def test_offline_message_lists_only_the_missing_files(tmp_path):
    for name in (TRAIN_IMAGES, TRAIN_LABELS):
        (tmp_path / f"{name}.gz").write_bytes(b"")
    with pytest.raises(MnistError) as caught:
        load_mnist(tmp_path, mirrors=(UNREACHABLE_MIRROR,), timeout=2)
    wanted = str(caught.value).split("Place these files")[1].split("Download error")[0]
    assert TEST_IMAGES in wanted and TEST_LABELS in wanted
    assert TRAIN_IMAGES not in wanted and TRAIN_LABELS not in wanted


def test_load_real_mnist(mnist_dir):
    data = load_mnist(mnist_dir)
    assert data.train_images.shape == (60000, 28, 28)
    assert data.test_images.shape == (10000, 28, 28)
    assert data.train_labels.shape == (60000,)
    assert data.test_labels.shape == (10000,)
    assert data.train_images.dtype == np.uint8
    assert set(np.unique(data.train_labels)) == set(range(10))
    features = to_features(data.test_images[:100])
    assert features.shape == (100, 784) and features.dtype == np.float32
    assert features.min() == 0.0 and features.max() == 1.0


def test_to_features_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"must have shape \(n_samples, 28, 28\)"):
        to_features(np.zeros((2, 27, 28), dtype=np.uint8))
