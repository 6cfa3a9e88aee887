"""A file changed in place that can be put back as it was: a rollback journal, as SQLite keeps.

The HDF5 gains each feature in place (copying a file of posters for every feature would cost
gigabytes), and HDF5 neither commits atomically nor survives a failed write: a full disk at
close leaves the library with a half-closed file that crashes the interpreter at exit. h5py
reads and writes through :class:`UndoableFile` instead (its ``fileobj`` driver), which

- copies every page of the original file to ``.<name>.undo`` before the first write over it
  (appended data needs none), so that a run killed with ``kill -9`` is undone by the next
  writer (:func:`roll_back_interrupted`);
- on a full disk never fails a write back to HDF5: it keeps what HDF5 writes from then on
  in memory (``failure`` says why), so that HDF5 closes cleanly; the caller then calls
  :meth:`UndoableFile.roll_back` and reports the full disk.

Pages are 4 KiB; the journal is ``b"mmimdb-undo-1\\n"``, the original size (8 bytes,
little-endian), then records of offset (8 bytes), length (4 bytes) and the original bytes. A
record cut short by a kill was never followed by its write, and is ignored.
"""
from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from ..errors import NO_SPACE

PAGE = 4096
_MAGIC = b"mmimdb-undo-1\n"
_HEADER = struct.Struct("<Q")
_RECORD = struct.Struct("<QI")


def journal_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.undo")


def _restore(fd: int, size: int, records: list[tuple[int, bytes]]) -> None:
    # Truncate first: it frees what the change appended, so the restoring writes find room.
    os.ftruncate(fd, size)
    for offset, data in records:
        os.pwrite(fd, data, offset)
    os.ftruncate(fd, size)
    os.fsync(fd)


def roll_back_interrupted(path: str | os.PathLike) -> bool:
    """Undo the change a killed writer left half-made in ``path`` (its journal says what it
    overwrote); return whether there was one. Call it holding the root's writer lock."""
    journal = journal_path(path)
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return False
    if data.startswith(_MAGIC) and len(data) >= len(_MAGIC) + _HEADER.size and Path(path).exists():
        (size,) = _HEADER.unpack_from(data, len(_MAGIC))
        records, at = [], len(_MAGIC) + _HEADER.size
        while at + _RECORD.size <= len(data):
            offset, length = _RECORD.unpack_from(data, at)
            at += _RECORD.size
            if at + length > len(data):
                break  # cut short by the kill: its write never happened
            records.append((offset, data[at:at + length]))
            at += length
        fd = os.open(path, os.O_RDWR)
        try:
            _restore(fd, size, records)
        finally:
            os.close(fd)
    journal.unlink()  # a journal cut before its header: nothing was written yet
    return True


class UndoableFile(io.RawIOBase):
    """``path`` opened for reading and writing in place, every change undoable (see the module)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        roll_back_interrupted(self.path)
        self._fd = os.open(self.path, os.O_RDWR)
        self._size = os.fstat(self._fd).st_size  # the original size
        self._length = self._size  # what HDF5 sees
        self._position = 0
        self._saved: dict[int, bytes] = {}  # page -> its original bytes
        self._journal: io.BufferedWriter | None = None
        self._memory: dict[int, bytearray] | None = None  # pages written after the disk filled
        #: The full disk's error, once a write found no space (the file then takes no more).
        self.failure: OSError | None = None

    # io.RawIOBase
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._length - self._position))
        if self._memory is None:
            data = os.pread(self._fd, count, self._position)
            view[:len(data)] = data
            view[len(data):count] = bytes(count - len(data))
        else:
            done = 0
            while done < count:
                at = self._position + done
                page, inside = divmod(at, PAGE)
                take = min(PAGE - inside, count - done)
                view[done:done + take] = self._page(page)[inside:inside + take]
                done += take
        self._position += count
        return count

    def write(self, buffer) -> int:
        data = memoryview(buffer).cast("B")
        start = self._position
        if self._memory is None:
            try:
                self._save(start, start + len(data))
                written = 0
                while written < len(data):
                    written += os.pwrite(self._fd, data[written:], start + written)
            except OSError as error:
                if error.errno not in NO_SPACE:
                    raise
                self.failure = OSError(error.errno, os.strerror(error.errno), str(self.path))
                self._memory = {}
        if self._memory is not None:
            self._keep(start, data)
        self._position = start + len(data)
        self._length = max(self._length, self._position)
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        size = self._position if size is None else size
        if self._memory is None:
            self._save(size, self._size)
            os.ftruncate(self._fd, size)
        self._length = size
        return size

    def flush(self) -> None:
        pass  # every write went straight to the file

    # the change as a whole
    def roll_back(self) -> None:
        """Put the file back as it was when opened, and close it."""
        _restore(self._fd, self._size, sorted(self._saved.items()))
        self._finish()

    def commit(self) -> None:
        """Keep the change (on disk before the journal goes), and close the file."""
        if self.failure is not None:
            raise self.failure
        os.fsync(self._fd)
        self._finish()

    def _finish(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self._journal is not None:
            self._journal.close()
        journal_path(self.path).unlink(missing_ok=True)
        super().close()

    def close(self) -> None:
        # h5py closes its file object when HDF5 lets go of it; the change is kept or undone
        # by commit() or roll_back() after that.
        pass

    def _save(self, start: int, stop: int) -> None:
        """Journal the original pages of [start, stop) before they are overwritten."""
        stop = min(stop, self._size)
        for page in range(start // PAGE, (stop - 1) // PAGE + 1 if stop > start else 0):
            if page in self._saved:
                continue
            original = os.pread(self._fd, PAGE, page * PAGE)
            if self._journal is None:
                self._journal = open(journal_path(self.path), "wb", buffering=0)
                self._append(_MAGIC + _HEADER.pack(self._size))
            self._append(_RECORD.pack(page * PAGE, len(original)) + original)
            self._saved[page] = original

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._journal.write(view):]

    def _page(self, page: int) -> bytearray:
        kept = self._memory.get(page) if self._memory is not None else None
        if kept is not None:
            return kept
        data = os.pread(self._fd, PAGE, page * PAGE)
        return bytearray(data + bytes(PAGE - len(data)))

    def _keep(self, start: int, data: memoryview) -> None:
        done = 0
        while done < len(data):
            page, inside = divmod(start + done, PAGE)
            take = min(PAGE - inside, len(data) - done)
            content = self._page(page)
            content[inside:inside + take] = data[done:done + take]
            self._memory[page] = content
            done += take
