"""A disk that fills during the write: each command on a small tmpfs ends in one line naming
the path and "no space left on device", exit 1; the earlier outputs are intact, no temporary
file is left, and once space is freed the same command finishes. Needs root (mount -t tmpfs);
skips with the reason elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import filesystems
import kill_harness
from mmimdb_cli.main import cli

#: build-features runs in a process of its own (a fork of the session's launcher, which exits
#: as the command does): HDF5 used to crash the interpreter at exit after a write refused on
#: close (the one line printed, then a segmentation fault); the others run in-process.
FEATURES = ["build-features", "--only", "three_grams,word_grams,sequences", "--no-progress"]
COMMANDS = [["build", "--workers", "1"], ["export", "--format", "jsonl"], ["export", "--format", "hdf5"],
            ["missing", "--rate", "0.5"], ["card"], FEATURES]


def run(launcher: kill_harness.Launcher, *args: str) -> tuple[int, str]:
    """Exit status and stderr of ``mmimdb *args``."""
    if args[0] == "build-features":
        result = launcher.run(list(args))
        return result.returncode, result.stderr
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr + (repr(result.exception) if not isinstance(result.exception, (SystemExit, type(None))) else "")


def _outputs(root: Path) -> dict[str, str]:
    return {name: digest for name, digest in kill_harness.snapshot(root).items() if name not in kill_harness.KEPT_HIDDEN}


def _fill(ballast: Path, leave: int) -> None:
    """Size ``ballast`` so that exactly ``leave`` bytes stay free on its file system (the
    commands before may have taken a block or two: a lock file)."""
    stats = os.statvfs(ballast.parent)
    size = ballast.stat().st_size if ballast.exists() else 0
    target = max(0, size + stats.f_bavail * stats.f_frsize - leave)
    with open(ballast, "ab") as handle:
        if target < size:
            handle.truncate(target)
        elif target > size:
            os.posix_fallocate(handle.fileno(), size, target - size)


def test_a_full_disk_is_one_line_keeps_the_earlier_outputs_and_a_rerun_finishes(launcher, generated_dataset_root, tmp_path):
    pytest.importorskip("torch", reason="missing writes torch files: pip install 'mmimdb[missing]'")
    pytest.importorskip("matplotlib", reason="the card draws with matplotlib: pip install 'mmimdb[card]'")
    pytest.importorskip("sklearn", reason="TF-IDF needs scikit-learn: pip install 'mmimdb[features]'")
    with filesystems.tmpfs(tmp_path / "small", "24m") as mount:
        root = kill_harness.fresh_copy(generated_dataset_root, mount / "root")  # built already: the session's
        before = _outputs(root)
        ballast = mount / "ballast"
        for args in COMMANDS:
            _fill(ballast, leave=8192)
            status, stderr = run(launcher, *args, "--root", str(root))
            errors = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert status == 1 and len(errors) == 1 and "Traceback" not in stderr, (args, status, stderr[-3000:])
            assert "no space left on device; free some space and rerun" in errors[0], (args, errors[0])
            assert str(mount) in errors[0], errors[0]  # it names the path
            after = _outputs(root)
            assert after == before, f"{args[0]}: the earlier outputs changed or temporary files stayed"
        ballast.unlink()
        for args in COMMANDS:
            status, stderr = run(launcher, *args, "--root", str(root))
            assert status == 0, (args, stderr[-3000:])
        assert kill_harness.verify_passes(root)
