"""Two commands on one root: writers (fetch, build, build-features) hold the root's lock
alone, readers that publish (export, card, missing, benchmark) share it; the one who finds
it taken the other way refuses with one line and exit 2, and nobody sees a mixed state.
Read-only roots: one line, exit 2."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import filesystems
from dataset_builds import private_copy
from cli_output import one_line_error
from mmimdb.storage import lock, manifest
from mmimdb_cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def root(generated_dataset_root, tmp_path_factory) -> Path:
    return private_copy(generated_dataset_root, tmp_path_factory.mktemp("locked"))


def _holder(root: Path) -> str:
    path = root / lock.LOCK_NAME
    return path.read_text() if path.exists() else ""


def test_build_started_while_build_features_runs_is_refused_and_the_features_stay_the_builds(launcher, root):
    pytest.importorskip("sklearn", reason="TF-IDF needs scikit-learn: pip install 'mmimdb[features]'")
    # A fork of the warm launcher: its second of work starts at once, the lock taken first.
    pid = launcher.start(["build-features", "--only", "three_grams,word_grams,sequences", "--no-progress", "--root", str(root)])
    try:
        deadline = time.monotonic() + 120
        while f"mmimdb build-features (pid {pid})" not in _holder(root):
            assert launcher.poll() is None, "build-features ended before it was caught holding the lock"
            assert time.monotonic() < deadline, "build-features never took the root's lock"
            time.sleep(0.001)
        os.kill(pid, signal.SIGSTOP)  # frozen mid-run, lock held: the window a user hits
        try:
            for args in (["build"], ["build", "--split", "iterative"], ["export", "--format", "jsonl"], ["card"],
                         ["missing", "--rate", "0.5"], ["benchmark", "--model", "gmu"]):
                result = run(*args, "--root", str(root))
                assert result.exit_code == 2, (args, result.output)
                assert f"busy, mmimdb build-features (pid {pid}) is using this root" in one_line_error(result)
        finally:
            os.kill(pid, signal.SIGCONT)
    finally:
        finished = launcher.finish(timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert run("info", "--verify", "--root", str(root)).exit_code == 0
    from mmimdb.features import read_features

    built = read_features(root, ["three_grams", "word_grams"])  # raises if its rows are not the build's
    assert len(built["three_grams"]) == len(built["word_grams"]) == 92


def test_readers_share_the_root_and_a_writer_waits_for_none_of_them(root, tmp_path):
    with lock.reading(root, "mmimdb card"):
        exported = run("export", "--format", "jsonl", "--root", str(root))  # a second reader: allowed
        assert exported.exit_code == 0, exported.output
        refused = run("build", "--root", str(root))
        assert refused.exit_code == 2
        assert "busy, mmimdb card (pid" in one_line_error(refused)
    assert "exports" in manifest.read_manifest(root)  # the reader's manifest update went in
    assert run("build", "--root", str(root)).exit_code == 0  # the lock went with its holder


def test_two_builds_and_a_reader_during_a_build_are_refused(root):
    with lock.exclusive(root, "mmimdb build"):
        for args in (["build"], ["export", "--format", "hdf5"], ["build-features", "--text", "glove-50", "--only", "text"]):
            result = run(*args, "--root", str(root))
            assert result.exit_code == 2 and "busy, mmimdb build (pid" in one_line_error(result), result.output


def test_a_killed_writer_leaves_no_lock_behind(root):
    code = ("import sys, time; from pathlib import Path; from mmimdb.storage import lock\n"
            "with lock.exclusive(Path(sys.argv[1]), 'mmimdb build'):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert run("card", "--root", str(root)).exit_code == 2
    holder.kill()
    holder.wait()
    result = run("card", "--root", str(root))
    assert result.exit_code == 0, result.output


def test_a_read_only_root_stops_a_writer_with_one_line_and_exit_2(generated_dataset_root, tmp_path):
    source = generated_dataset_root
    with filesystems.tmpfs(tmp_path / "mount", "64m") as mount:
        root = mount / "root"
        shutil.copytree(source, root, symlinks=True)
        before = {path.name: path.stat().st_mtime_ns for path in root.iterdir()}
        filesystems.remount_read_only(mount)
        for args in (["build"], ["build-features", "--text", "glove-50", "--only", "text"]):
            result = run(*args, "--root", str(root))
            assert result.exit_code == 2, result.output
            assert one_line_error(result) == f"error: {root}: cannot write here (read-only file system); " \
                                             "use a root you can write (--root DIR or $MMIMDB_HOME)"
        # a reader writing elsewhere reads a read-only root without a lock
        exported = run("export", "--format", "hdf5", "--out", str(tmp_path / "out"), "--root", str(root))
        assert exported.exit_code in (0, 2), exported.output
        if exported.exit_code == 2:  # it records what it exported in the root's manifest: refused in one line
            assert "cannot write here (read-only file system)" in one_line_error(exported)
        assert {path.name: path.stat().st_mtime_ns for path in root.iterdir()} == before
