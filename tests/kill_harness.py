"""kill -9 anywhere: start a command, SIGKILL it after a random delay, look at what it left,
rerun it, K times, then let it finish; compare with an uninterrupted run.

Used by tests/test_kill9.py (K = 3, small generated data) and benchmarks/kill9.py (any K).
What is checked:

- after every kill, each output file is whole: byte for byte the file as it was before the
  command or as the uninterrupted run wrote it (atomic writes: never a half-written file
  under its real name), and if ``info --verify`` passes, every output is the finished run's
  or the earlier one's alike (the manifest never vouches for a mix);
- the last run exits 0 and leaves outputs equal to the uninterrupted run's, byte for byte
  (``deterministic``) or at least ``info --verify`` clean, and no temporary or staging file.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: Hidden files that stay after a run by design: the root's locks, the digest cache of verify.
KEPT_HIDDEN = {".mmimdb.lock", ".mmimdb.manifest.lock", ".verified.json"}


def command_line(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmimdb_cli.main", *args]


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``root`` (hidden ones too), by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_file() and not path.is_symlink() and not relative.startswith(skip):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _visible(files: dict[str, str]) -> dict[str, str]:
    return {name: digest for name, digest in files.items() if not any(part.startswith(".") for part in Path(name).parts)}


def verify_passes(root: Path) -> bool:
    from mmimdb.errors import MmimdbError
    from mmimdb.storage import manifest

    try:
        return manifest.verify(root) == []
    except MmimdbError:
        return False


@dataclass
class KillReport:
    kills: int = 0
    finished_before_kill: int = 0
    delays: list[float] = field(default_factory=list)


def kill_and_rerun(args: list[str], root: Path, reference: dict[str, str], before: dict[str, str], *, kills: int,
                   longest: float, rng: random.Random, deterministic: bool = True, skip: tuple[str, ...] = (),
                   env: dict | None = None, check: Callable[[Path], None] | None = None,
                   verified: bool = True) -> KillReport:
    """Run ``mmimdb *args`` on ``root`` until it has been SIGKILLed ``kills`` times, each after a
    delay drawn from [``longest`` / 4, ``longest``] (a run that ends first makes the next delays
    shorter; at most ``3 * kills`` runs), checking what it left; then once to the end. ``before`` and
    ``reference`` are :func:`snapshot` of ``root`` before the command and after an
    uninterrupted run; ``check(root)`` runs after every kill too (e.g. ``mmimdb.load``);
    ``verified``: the root has a manifest for ``info --verify`` to check at the end."""
    report = KillReport()
    environment = {**os.environ, **(env or {})}
    attempts = 0
    while report.kills < kills and attempts < 3 * kills:
        attempts += 1
        delay = rng.uniform(0.25 * longest, longest)  # the first quarter is mostly the interpreter starting
        started = time.monotonic()
        process = subprocess.Popen(command_line(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env=environment, start_new_session=True)
        try:
            process.wait(timeout=delay)
            report.finished_before_kill += 1  # faster than the reference run (warm caches): aim earlier
            longest = 0.9 * (time.monotonic() - started)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the command and any worker it started
            report.kills += 1
        process.wait()
        process.stderr.close()
        report.delays.append(round(delay, 2))
        _check_whole(root, before, reference, skip, deterministic)
        if check is not None:
            check(root)
    result = subprocess.run(command_line(*args), capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, f"the run after the kills failed: {result.stderr[-2000:]}"
    after = snapshot(root, skip)
    leftovers = sorted(name for name in after if name not in _visible(after) and Path(name).name not in KEPT_HIDDEN)
    assert not leftovers, f"temporary files left after the last run: {leftovers[:5]}"
    if deterministic:
        differ = sorted(name for name in set(_visible(after)) | set(_visible(reference))
                        if after.get(name) != reference.get(name))
        assert not differ, f"outputs differ from the uninterrupted run's: {differ[:8]}"
    assert not verified or verify_passes(root), "info --verify fails after the last run"
    return report


def readable(path: Path) -> bool:
    """Whether ``path`` reads back whole as what its suffix says (Parquet, JSON, HDF5, PNG, torch;
    text that ends its last line)."""
    import json

    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.read_table(path)
        elif path.suffix == ".json":
            json.loads(path.read_text("utf-8"))
        elif path.suffix in (".hdf5", ".h5"):
            import h5py

            with h5py.File(path, "r") as handle:
                handle.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
        elif path.suffix == ".png":
            from PIL import Image

            Image.open(path).verify()
        elif path.suffix == ".pt":
            import torch

            torch.load(path, weights_only=True)
        elif path.suffix in (".md", ".txt", ".csv"):
            if not path.read_text("utf-8").endswith("\n"):  # a torn text file is cut mid-line
                return False
        else:
            return False  # no reader to tell a whole file from a torn one
    except Exception:
        return False
    return True


def _as_the_next_writer_finds(root: Path, files: dict[str, str]) -> dict[str, str]:
    """``files`` with each file a killed change left a rollback journal for (the HDF5 that
    was gaining a feature) as the next writer makes it: rolled back (mmimdb/storage/undo.py),
    which must give back the file as it was, byte for byte (a ``!`` marks those)."""
    import tempfile

    from mmimdb.storage import undo

    for journal in root.rglob(".*.undo"):
        relative = str(journal.relative_to(root).with_name(journal.name[1:-len(".undo")]))
        if relative not in files:
            continue
        with tempfile.TemporaryDirectory(dir=root.parent) as folder:
            copy = Path(folder) / Path(relative).name
            shutil.copyfile(root / relative, copy)
            shutil.copyfile(journal, undo.journal_path(copy))
            undo.roll_back_interrupted(copy)
            files[relative] = "!" + hashlib.sha256(copy.read_bytes()).hexdigest()
    return files


def _check_whole(root: Path, before: dict[str, str], reference: dict[str, str], skip: tuple[str, ...],
                 deterministic: bool = True) -> None:
    now = _as_the_next_writer_finds(root, _visible(snapshot(root, skip)))
    # A file the uninterrupted run wrote differently (a timestamp inside) must still read back whole.
    torn = sorted(name for name, digest in now.items() if digest.lstrip("!") not in (before.get(name), reference.get(name))
                  and (deterministic or digest.startswith("!") or not readable(root / name)))
    assert not torn, f"half-written outputs under their real names after a kill: {torn[:5]}"
    if verify_passes(root):
        from mmimdb.storage import manifest

        listed = set(manifest.read_manifest(root).get("outputs", {}))
        old = all((now.get(name) or "").lstrip("!") == before.get(name) for name in listed)
        new = all((now.get(name) or "").lstrip("!") == reference.get(name) for name in listed)
        assert old or new or not deterministic, "info --verify passes on a mix of the earlier outputs and the new ones"


def reference_run(args: list[str], root: Path, skip: tuple[str, ...] = (), env: dict | None = None) -> tuple[dict[str, str], float]:
    """Run ``mmimdb *args`` on ``root`` uninterrupted: its outputs' :func:`snapshot` and its wall time."""
    started = time.monotonic()
    result = subprocess.run(command_line(*args), capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return snapshot(root, skip), time.monotonic() - started


def hdf5_contents(path: Path, ignore_attrs: tuple[str, ...] = ("built",)) -> dict[str, tuple[str, str]]:
    """Each HDF5 dataset's values (a digest) and attributes, but those that say when it was written."""
    import h5py
    import numpy as np

    found = {}
    with h5py.File(path, "r") as handle:
        def visit(name: str, item) -> None:
            if isinstance(item, h5py.Dataset):
                values = item[()]
                data = values.tobytes() if isinstance(values, np.ndarray) and values.dtype.kind != "O" else repr(values).encode()
                attrs = {key: value for key, value in item.attrs.items() if key not in ignore_attrs}
                found[name] = (hashlib.sha256(data).hexdigest(), repr(sorted(attrs.items(), key=lambda kv: kv[0])))
        handle.visititems(visit)
    return found


def fresh_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target
