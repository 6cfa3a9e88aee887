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


#: The forking launcher: imports the CLI and the libraries the commands load, then forks one
#: child per run, each a process of its own (a session leader, so that SIGKILL of its group
#: takes any worker too) that runs ``mmimdb ARGS`` and exits the way the command would,
#: interpreter shutdown and atexit included (where HDF5 once crashed). A run then costs its
#: work, not a fresh interpreter's second or two of imports.
_LAUNCHER = r"""
import json, os, sys
for name in sys.argv[1:]:
    try:
        __import__(name)
    except ImportError:
        pass
import mmimdb_cli.main
print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.environ.clear(); os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0); os.dup2(null, 1)
        os.dup2(os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
        sys.argv = ["mmimdb", *request["args"]]
        mmimdb_cli.main.main()  # ends in SystemExit: the interpreter exits as a command's would
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""
#: What the commands import when they run (each loaded once, in the launcher).
PRELOAD = ("numpy", "pandas", "h5py", "pyarrow.parquet", "PIL.Image", "jsonschema", "torch", "sklearn.feature_extraction.text",
           "matplotlib.pyplot", "mmimdb.dataset.build", "mmimdb.features", "mmimdb.export", "mmimdb.card",
           "mmimdb.benchmark")


@dataclass
class Run:
    returncode: int | None  # None: killed by the caller before it ended
    stderr: str
    seconds: float


class Launcher:
    """Runs ``mmimdb`` commands as forks of one warm process (see :data:`_LAUNCHER`); use as
    a context manager. ``run(args, kill_after=s)`` SIGKILLs the run's process group after
    ``s`` seconds unless it ended first."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD):
        import queue
        import tempfile
        import threading

        self._process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *preload], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1,
                                         env={**os.environ, "MPLBACKEND": "Agg"})
        self._lines: "queue.Queue[str]" = queue.Queue()
        self._folder = tempfile.TemporaryDirectory(prefix="mmimdb-launcher-")
        threading.Thread(target=lambda: [self._lines.put(line.strip()) for line in self._process.stdout], daemon=True).start()
        assert self._lines.get(timeout=300) == "ready", "the launcher did not start"

    def start(self, args: list[str], env: dict | None = None) -> int:
        """Start ``mmimdb *args`` (one run at a time); its process id (and process group)."""
        import json

        self._stderr = Path(self._folder.name) / "stderr"
        self._started = time.monotonic()
        self._process.stdin.write(json.dumps({"args": list(args), "env": {**os.environ, "MPLBACKEND": "Agg", **(env or {})},
                                              "stderr": str(self._stderr)}) + "\n")
        self._process.stdin.flush()
        self._pid = int(self._lines.get(timeout=60))
        self._code: int | None = None
        return self._pid

    def poll(self) -> int | None:
        """The started run's exit status if it ended, else None."""
        import queue

        if self._code is None:
            try:
                self._code = int(self._lines.get_nowait())
            except queue.Empty:
                pass
        return self._code

    def finish(self, kill_after: float | None = None, timeout: float = 600) -> Run:
        """Wait for the started run to end; SIGKILL its process group after ``kill_after``
        seconds (``returncode`` None) or ``timeout``."""
        import queue

        try:
            code = self.poll()
            code = int(self._lines.get(timeout=kill_after if kill_after is not None else timeout)) if code is None else code
            killed = False
        except queue.Empty:
            try:
                os.killpg(self._pid, signal.SIGKILL)  # the command and any worker it started
                killed = kill_after is not None
            except ProcessLookupError:  # it ended as the delay ran out (and the launcher reaped it)
                killed = False
            code = int(self._lines.get(timeout=60))
        seconds = time.monotonic() - self._started
        return Run(None if killed else code, self._stderr.read_text("utf-8", errors="replace"), seconds)

    def run(self, args: list[str], env: dict | None = None, kill_after: float | None = None, timeout: float = 600) -> Run:
        """``mmimdb *args`` to its end, or SIGKILLed after ``kill_after`` seconds."""
        self.start(args, env)
        return self.finish(kill_after, timeout)

    def close(self) -> None:
        self._process.kill()  # idle between runs: nothing of it to keep (its exit alone unloads torch for seconds)
        self._process.wait(timeout=60)
        self._folder.cleanup()

    def __enter__(self) -> "Launcher":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


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


def kill_and_rerun(launcher: Launcher, args: list[str], root: Path, reference: dict[str, str], before: dict[str, str], *, kills: int,
                   longest: float, rng: random.Random, deterministic: bool = True, skip: tuple[str, ...] = (),
                   env: dict | None = None, check: Callable[[Path], None] | None = None,
                   verified: bool = True) -> KillReport:
    """Run ``mmimdb *args`` (forks of ``launcher``) on ``root`` until it has been SIGKILLed ``kills``
    times, each after a delay drawn from [``longest`` / 20, ``longest``] (a run that ends first
    makes the next delays shorter; at most ``3 * kills`` runs), checking what it left; then once
    to the end. ``before`` and
    ``reference`` are :func:`snapshot` of ``root`` before the command and after an
    uninterrupted run; ``check(root)`` runs after every kill too (e.g. ``mmimdb.load``);
    ``verified``: the root has a manifest for ``info --verify`` to check at the end."""
    report = KillReport()
    attempts = 0
    while report.kills < kills and attempts < 3 * kills:
        attempts += 1
        delay = rng.uniform(0.05 * longest, longest)
        run = launcher.run(args, env=env, kill_after=delay)
        if run.returncode is None:
            report.kills += 1
        else:
            report.finished_before_kill += 1  # faster than the reference run: aim earlier
            longest = 0.9 * run.seconds
        report.delays.append(round(delay, 2))
        _check_whole(root, before, reference, skip, deterministic)
        if check is not None:
            check(root)
    result = launcher.run(args, env=env)
    assert result.returncode == 0, f"the run after the kills failed: {result.stderr[-2000:]}"
    after = snapshot(root, skip)
    visible = _visible(after)
    leftovers = sorted(name for name in after if name not in visible and Path(name).name not in KEPT_HIDDEN)
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
        elif path.suffix == ".sqlite" or path.name.endswith((".sqlite-wal", ".sqlite-shm", ".sqlite-journal")):
            return _sqlite_whole(path.with_name(path.name.split(".sqlite")[0] + ".sqlite"))
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


def _sqlite_whole(database: Path) -> bool:
    """Whether SQLite, recovering as the next run would (its journal or WAL beside it), finds
    ``database`` intact (``PRAGMA integrity_check``); checked on a copy, the root left alone."""
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for part in database.parent.glob(database.name + "*"):
            shutil.copyfile(part, Path(folder) / part.name)
        connection = sqlite3.connect(Path(folder) / database.name)
        try:
            return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            return False
        finally:
            connection.close()


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


def reference_run(launcher: Launcher, args: list[str], root: Path, skip: tuple[str, ...] = (),
                  env: dict | None = None) -> tuple[dict[str, str], float]:
    """Run ``mmimdb *args`` on ``root`` uninterrupted: its outputs' :func:`snapshot` and its wall time."""
    run = launcher.run(args, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return snapshot(root, skip), run.seconds


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


def killed_writers_temporary(folder: Path, name: str) -> Path:
    """A temporary file of ``folder/name`` as a writer that was SIGKILLed mid-write leaves
    it (mmimdb.storage.atomic names it with the writer's pid, now a dead one's)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.kill()
    child.wait()
    folder.mkdir(parents=True, exist_ok=True)
    leftover = folder / f".{name}.{child.pid}-k1ll3d_x.tmp"
    leftover.write_bytes(b"half a file")
    return leftover
