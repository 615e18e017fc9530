"""Atomic file writes: the whole new file or the old one, readable by all, nothing left behind."""

import stat

import pytest

from model.atomic_write import FILE_MODE, write_atomically


def test_a_new_file_holds_the_bytes_and_is_readable_by_all(tmp_path):
    path = tmp_path / "report.json"
    write_atomically(path, b'{"accuracy": 0.99}\n')
    assert path.read_bytes() == b'{"accuracy": 0.99}\n'
    assert stat.S_IMODE(path.stat().st_mode) == FILE_MODE
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"old model")
    write_atomically(path, b"new model, longer than the old one")
    assert path.read_bytes() == b"new model, longer than the old one"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomically(path, "text, not bytes")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_missing_folder_is_an_error_that_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        write_atomically(tmp_path / "missing" / "report.json", b"{}")
