"""The HDF5 changed in place through a rollback journal (mmimdb/storage/undo.py): a full disk
mid-change leaves the file byte for byte as it was and HDF5 sane (it used to crash the
interpreter at exit), and a change a killed writer left half-made is undone by the next."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from mmimdb.dataset import hdf5
from mmimdb.storage import undo


@pytest.fixture()
def small_file(tmp_path) -> Path:
    path = tmp_path / hdf5.FILE_NAME
    with h5py.File(path, "w") as handle:
        handle[hdf5.IMDB_IDS] = np.array([b"0000001", b"0000002", b"0000003"])
        handle["features"] = np.ones((3, 4), np.float32)
    return path


def _disk_fills_after(monkeypatch, budget: int) -> None:
    """Every write through the journaled file finds no space once ``budget`` bytes went."""
    real = os.pwrite
    left = [budget]

    def pwrite(fd, data, offset):
        if left[0] < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= len(data)
        return real(fd, data, offset)

    monkeypatch.setattr(undo.os, "pwrite", pwrite)


@pytest.mark.parametrize("budget", [0, 3000, 60_000])
def test_a_full_disk_mid_change_leaves_the_file_as_it_was_and_hdf5_sane(small_file, monkeypatch, budget):
    original = small_file.read_bytes()
    _disk_fills_after(monkeypatch, budget)
    blocks = (np.full((1, 20_000), row, np.float32) for row in range(3))  # 80 kB a row: the disk fills mid-way
    with pytest.raises(OSError) as raised:
        hdf5.add_dataset(small_file, "big", blocks)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(small_file)
    monkeypatch.undo()
    assert small_file.read_bytes() == original
    assert not undo.journal_path(small_file).exists()
    assert h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE | h5py.h5f.OBJ_DATASET | h5py.h5f.OBJ_GROUP) == []  # HDF5 let go of the file (this crashed before)
    hdf5.add_dataset(small_file, "big", np.zeros((3, 5), np.float32))  # space again: the change goes in
    with h5py.File(small_file, "r") as handle:
        assert handle["big"].shape == (3, 5) and handle["features"][()].sum() == 12


def test_an_exception_mid_change_undoes_it(small_file):
    original = small_file.read_bytes()
    with pytest.raises(RuntimeError):
        with hdf5.opened(small_file, "r+") as handle:
            handle["added"] = np.zeros(100_000)
            handle["features"][0] = 7
            raise RuntimeError("stop")
    assert small_file.read_bytes() == original


def test_a_killed_change_is_undone_by_the_next_writer(small_file):
    original = small_file.read_bytes()
    file = undo.UndoableFile(small_file)
    with h5py.File(file, "r+") as handle:  # the change reaches the file, then the writer dies
        del handle["features"]
        handle["features"] = np.zeros((3, 9), np.float32)
    os.close(file._fd)
    assert small_file.read_bytes() != original and undo.journal_path(small_file).exists()
    with undo.journal_path(small_file).open("ab") as journal:  # a record the kill cut short
        journal.write(b"\x00" * 5)
    assert undo.roll_back_interrupted(small_file)
    assert small_file.read_bytes() == original and not undo.journal_path(small_file).exists()
    assert not undo.roll_back_interrupted(small_file)
    file = undo.UndoableFile(small_file)  # opening for a change rolls back first, then works
    with h5py.File(file, "r+") as handle:
        handle["more"] = np.arange(3)
    file.commit()
    with h5py.File(small_file, "r") as handle:
        assert sorted(handle) == ["features", hdf5.IMDB_IDS, "more"]
