"""What a new user meets first: a wrong option or value is one ``error:`` line (exit 2), a
wrong path says what is true and leaves nothing behind, and a log redirected to a file gets
no progress-bar lines."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from mmimdb_cli.main import cli


@pytest.mark.parametrize("args, said", [
    (["benchmark", "--seeds", "0"], "Invalid value for '--seeds': 0 is not in the range x>=1."),
    (["benchmark", "--epochs", "0"], "Invalid value for '--epochs'"),
    (["benchmark", "--device", "tpu"], "Invalid value for '--device': 'tpu' is not one of"),
    (["build", "--split", "foo"], "Invalid value for '--split': 'foo' is not one of 'original', 'iterative', 'file'."),
    (["build", "--seed", "-5"], "Invalid value for '--seed': -5 is not in the range 0<=x<=4294967295."),
    (["build", "--seed", "99999999999", "--split", "iterative"], "Invalid value for '--seed': 99999999999 is not in"),
    (["build", "--no-such-option"], "No such option '--no-such-option'."),
    (["no-such-command"], "No such command 'no-such-command'."),
])
def test_a_wrong_option_or_value_is_one_error_line(args, said, tmp_path):
    result = CliRunner().invoke(cli, args + (["--root", str(tmp_path)] if args[0] == "build" and len(args) > 2 else []))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], result.output
    assert "Usage:" not in result.output and "Try " not in result.output


def test_help_and_version_still_exit_0():
    assert CliRunner().invoke(cli, ["build", "--help"]).exit_code == 0
    assert CliRunner().invoke(cli, ["--version"]).exit_code == 0


def test_an_ftp_archive_url_says_only_http_is_supported(tmp_path):
    result = CliRunner().invoke(cli, ["fetch", "--from-archive", "ftp://example.com/x.tar.gz", "--root", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: ftp://example.com/x.tar.gz: only http(s) URLs are supported "
                                     "(or a local .tar.gz, .tar or folder)")


def test_card_on_a_missing_root_makes_no_folder(tmp_path):
    root = tmp_path / "nonexistent" / "x"
    result = CliRunner().invoke(cli, ["card", "--root", str(root)])
    assert result.exit_code == 2 and result.output.startswith("error: no built dataset in")
    assert not root.exists() and not root.parent.exists()


def test_info_on_an_empty_folder_says_no_data_here_yet(tmp_path):
    empty, missing = tmp_path / "empty", tmp_path / "missing"
    empty.mkdir()
    for root in (empty, missing):
        result = CliRunner().invoke(cli, ["info", "--root", str(root)])
        assert result.exit_code == 2
        assert result.output.strip() == f"error: {root}: no data here yet; run `mmimdb fetch` first (or pass --root / set MMIMDB_HOME)"


def test_no_progress_bars_into_a_redirected_log(tmp_path):
    import generated_films

    root = generated_films.write_store(tmp_path / "root", count=6)
    result = CliRunner().invoke(cli, ["info", "--root", str(root)])  # CliRunner's stderr is no terminal
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "movie/s" not in result.output and "it/s" not in result.output


def test_an_interrupted_bar_line_ends_before_the_message(monkeypatch, capsys):
    """On a terminal, Ctrl-C arrives mid-bar: the message starts on a line of its own."""
    import sys

    from mmimdb_cli import main

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with pytest.raises(SystemExit) as stopped:
        main._interrupted()
    assert stopped.value.code == 3
    assert capsys.readouterr().err.startswith("\ninterrupted: what was done is kept")


# --- damaged outputs: one line, the right exit code, nothing left behind -------------------

def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _overwrite(path) -> None:
    """The magic bytes at both ends, garbage between: pyarrow's "Couldn't deserialize thrift"."""
    path.write_bytes(b"PAR1" + b"\x07" * 200 + (100).to_bytes(4, "little") + b"PAR1")


@pytest.fixture(scope="module")
def damaged_parquet_roots(tmp_path_factory, generated_dataset_root):
    from dataset_builds import private_copy

    roots = {}
    for damage in (_truncate, _overwrite):
        root = private_copy(generated_dataset_root, tmp_path_factory.mktemp(f"damaged-{damage.__name__}"))
        damage(root / "parquet" / "train.parquet")
        roots[damage.__name__] = root
    return roots


@pytest.mark.parametrize("damage", ["_truncate", "_overwrite"])
@pytest.mark.parametrize("format_", ["jsonl", "mmf", "arrow"])
def test_export_of_a_damaged_split_file_is_one_line_and_leaves_no_folder(damaged_parquet_roots, damage, format_):
    root = damaged_parquet_roots[damage]
    result = CliRunner().invoke(cli, ["export", "--format", format_, "--root", str(root)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    line = result.output.strip()
    # the export checks the manifest's digests before reading (what it publishes must be the build's)
    assert "\n" not in line and line.startswith("error: parquet/train.parquet: ") and "the manifest" in line
    assert "with `mmimdb build`" in line
    assert not (root / "exports").exists()


@pytest.mark.parametrize("damage", ["_truncate", "_overwrite"])
def test_card_missing_and_load_of_a_damaged_split_file_say_it_on_one_line(damaged_parquet_roots, damage):
    import mmimdb
    from mmimdb.errors import MmimdbError

    root = damaged_parquet_roots[damage]
    for args, says in ((["card"], "the manifest"), (["missing", "--rate", "0.7"], "not a readable Parquet file")):
        result = CliRunner().invoke(cli, args + ["--root", str(root)])
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1 and says in result.output  # card checks digests first
    with pytest.raises(MmimdbError) as error:
        mmimdb.load("train", root=root)
    assert "\n" not in str(error.value) and "not a readable Parquet file" in str(error.value)


def test_card_refuses_to_publish_a_truncated_hdf5(tmp_path_factory, generated_dataset_root):
    import json

    from dataset_builds import private_copy

    root = private_copy(generated_dataset_root, tmp_path_factory.mktemp("truncated-hdf5"))
    _truncate(root / "multimodal_imdb.hdf5")
    result = CliRunner().invoke(cli, ["card", "--root", str(root)])
    assert result.exit_code == 1, result.output
    assert result.output.strip().startswith("error: multimodal_imdb.hdf5: ") and "the manifest says" in result.output
    assert not (root / "croissant.json").exists()
    # an intact build still gets its card, and croissant.json lists the manifest's digests
    intact = private_copy(generated_dataset_root, tmp_path_factory.mktemp("intact-hdf5"))
    assert CliRunner().invoke(cli, ["card", "--root", str(intact)]).exit_code == 0
    listed = json.loads((intact / "manifest.json").read_text())["outputs"]
    published = {item["contentUrl"]: item["sha256"] for item in json.loads((intact / "croissant.json").read_text())["distribution"]}
    assert published["multimodal_imdb.hdf5"] == listed["multimodal_imdb.hdf5"]["sha256"]


def test_benchmark_on_an_unreadable_hdf5_is_damaged_data(tmp_path_factory, generated_dataset_root):
    pytest.importorskip("torch")
    from dataset_builds import private_copy

    root = private_copy(generated_dataset_root, tmp_path_factory.mktemp("unreadable-hdf5"))
    _truncate(root / "multimodal_imdb.hdf5")
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--model", "GMU", "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 1, result.output
    assert "is not a readable HDF5 file" in result.output and result.output.strip().endswith("rebuild it with `mmimdb build`")


def test_vgg16_weights_that_are_not_a_checkpoint_fail_before_any_work(tmp_path_factory, generated_dataset_root):
    pytest.importorskip("torch")
    from dataset_builds import private_copy

    root = private_copy(generated_dataset_root, tmp_path_factory.mktemp("vgg16-not-weights"))
    weights = root.parent / "afile"
    weights.write_text("not weights\n")
    result = CliRunner().invoke(cli, ["build-features", "--root", str(root), "--text", "glove-50", "--image", "vgg16",
                                      "--vgg16-weights", str(weights)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: {weights}: VGG16 weights file (torchvision's vgg16-397923af.pth) is not a torch "
                                     "state dict (not a pickle or zip file) (give it with --vgg16-weights PATH or "
                                     "$MMIMDB_VGG16_WEIGHTS)")
    assert not (root / "features").exists()  # the text features were not built first


@pytest.mark.parametrize("address", ["http://nowhere.invalid/mmimdb.tar.gz", "closed port"])
def test_an_unreachable_host_is_resumable_whether_dns_or_connection_fails(address, tmp_path):
    import socket

    if address == "closed port":
        with socket.socket() as probe:  # a loopback port nothing listens on
            probe.bind(("127.0.0.1", 0))
            address = f"http://127.0.0.1:{probe.getsockname()[1]}/mmimdb.tar.gz"
    result = CliRunner().invoke(cli, ["fetch", "--from-archive", address, "--sha256", "none", "--root", str(tmp_path / "r")])
    assert result.exit_code == 3, result.output
    assert result.output.strip().startswith(f"error: {address}: ") and result.output.strip().endswith("rerun to resume")
    # in words (requests' text for a refused connection is a cut-off repr of urllib3's errors)
    said = "does not resolve (DNS" if "invalid" in address else f"{address.split('/')[2]} refused the connection"
    assert said in result.output and "Error(" not in result.output, result.output


def test_a_rebuild_with_a_poster_that_is_not_an_image_is_byte_identical(tmp_path):
    import generated_films
    from mmimdb.dataset.build import build
    from mmimdb.records.store import RecordStore

    reports = []
    for copy in ("first", "second"):
        root = generated_films.write_store(tmp_path / copy, count=12)
        RecordStore(root / "dataset").poster_path(generated_films.imdb_id(3)).write_bytes(b"<html>not a poster</html>")
        build(root, method="iterative", workers=1)
        reports.append((root / "split-report.json").read_bytes())
    assert b"0x" not in reports[0] and b"not a readable image (cannot identify image file)" in reports[0]
    assert reports[0] == reports[1]


def test_build_features_says_the_bars_rate_and_the_jobs_and_skips_a_trial_larger_than_the_job(tmp_path):
    pytest.importorskip("torch")
    import re

    import generated_films
    from mmimdb import features
    from mmimdb.dataset.build import build
    from test_poster_precision import TINY

    root = generated_films.write_store(tmp_path / "root", count=24)
    build(root, method="iterative", workers=1)
    said: list[str] = []
    report = features.posters.extract_image_features(root, features.rows.dataset_rows(root), TINY, device="cpu",
                                                     workers=0, progress=False, log=said.append, precision="fp32")
    assert f"batch size 1 (no timing trial: it would encode {features.posters.BATCH_TRIAL_POSTERS} posters, more than " \
           "the 24 of this job)" in said
    assert 0 < report.extract_seconds <= report.seconds
    last = said[-1]
    job, extracting = re.search(r"([\d.]+) posters/s for the whole job .* ([\d.]+) posters/s while extracting, as the "
                                r"bar showed\)$", last).groups()
    assert float(job) <= float(extracting)


def test_card_figures_count_whole_movies_in_even_bins_and_show_stacked_poster_sizes(tmp_path):
    pytest.importorskip("matplotlib")
    import numpy as np

    from mmimdb.card import figures
    from mmimdb.card.stats import DatasetStats

    rng = np.random.default_rng(0)
    words = {"train": np.arange(9, 31), "dev": np.array([12, 12, 30]), "test": np.arange(10, 20)}  # 9 to 30 words
    # most posters 300 px wide (OMDb's SX300), as in the greatest films
    sizes = {split: np.column_stack([np.where(rng.uniform(size=n) < 0.8, 300, rng.integers(180, 300, n)),
                                     rng.integers(270, 451, n)]) for split, n in (("train", 40), ("dev", 7), ("test", 20))}
    stats = DatasetStats(plot_words=words, poster_sizes=sizes)

    length = figures.plot_length(stats, tmp_path / "plot_length.png")
    (axis,) = length.axes
    heights = [patch.get_height() for patch in axis.patches]
    edges = [patch.get_x() for patch in axis.patches]
    assert len(heights) == 30 - 9 + 1 and min(heights) > 0  # one bin a word count: none empty for want of an integer
    assert np.allclose(np.diff(edges), 1.0) and edges[0] == 8.5
    ticks = [t for t in axis.get_yticks() if axis.get_ylim()[0] <= t <= axis.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)

    posters = figures.poster_sizes(stats, tmp_path / "poster_sizes.png")
    axis = posters.axes[0]
    (image,) = axis.collections if axis.collections else axis.images
    counts = np.ma.masked_invalid(image.get_array())
    assert counts.max() > 1  # the stacked 300-px posters are counted, not drawn on one dot
    assert counts.sum() == sum(len(s) for s in sizes.values())
    assert posters.axes[1].get_ylabel() == "posters"  # the colour bar says what a colour counts
