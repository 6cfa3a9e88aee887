"""Messages that send the user the right way: no `next: mmimdb build` after a crawl that
fetched nothing, ids written alike in the split report, an `info` table that caches do not
break, progress where work is long. Generated films and loopback servers only."""
from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner

import generated_films
from loopback import ServerThread, handler_from, mmimdb
from mmimdb import paths
from mmimdb.dataset.build import build
from mmimdb_cli.main import cli


def test_a_crawl_that_fetched_nothing_does_not_send_the_user_to_build(tmp_path):
    links = generated_films.write_links(tmp_path / "links.csv", count=3)
    not_found = handler_from(lambda handler: (200, {"Content-Type": "application/json"},
                                              b'{"Response": "False", "Error": "Movie not found!"}'))
    with ServerThread(not_found) as server:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key", "k", "--omdb-url", server.url,
                        "--rate", "0", "--root", str(tmp_path / "root"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "root" / "fetch-report.json").read_text())["state"]["not-found"] == 3
    assert "next:" not in result.stderr and "mmimdb build" not in result.stderr


def test_the_split_report_writes_every_id_the_same_way(tmp_path):
    root = generated_films.write_store(tmp_path / "root", count=20)
    ids = [generated_films.imdb_id(index) for index in range(20)]
    split_file = tmp_path / "split.json"  # two ids that are not records, one with 'tt' and one without
    split_file.write_text(json.dumps({"train": [i[2:] for i in ids[:12]] + ["9999998"], "dev": ids[12:14],
                                      "test": ids[14:17] + ["tt9999999"]}))
    build(root, method="file", split_file=split_file, workers=1)
    report = json.loads(paths.split_report_json_path(root).read_text())
    assert [entry["imdb_id"] for entry in report["excluded"]] == ids[17:]
    assert report["unknown_ids"] == ["tt9999998", "tt9999999"]
    markdown = paths.split_report_md_path(root).read_text()
    listed = [line[2:].split(":")[0] for line in markdown.splitlines() if line.startswith("- ")]
    assert listed == [*ids[17:], "tt9999998", "tt9999999"]


def test_info_skips_caches_and_keeps_its_columns_with_long_names(tmp_path, monkeypatch):
    monkeypatch.setenv("MMIMDB_PROGRESS", "1")  # bars although CliRunner's stderr is no terminal
    root = generated_films.write_store(tmp_path / "root", count=3)
    lock = "_".join(["huggingface", "datasets", "parquet", "default-" + "0123456789abcdef" * 4, "0.0.0",
                     "9" * 40]) + ".lock"
    assert len(lock) > 140
    for cache_file in (paths.huggingface_cache_dir(root) / lock, paths.huggingface_cache_dir(root) / "parquet" / "x.arrow",
                       paths.features_cache_dir(root) / "word2vec-vocabulary-1.npz",
                       paths.features_dir(root) / ".partial" / "vgg_features" / "chunk-00000.npz"):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_bytes(b"cache")
    long_output = paths.features_dir(root) / ("a_feature_with_a_very_long_name_" * 3 + ".parquet")
    long_output.write_bytes(b"x" * 10)
    (root / "split.json").write_text('{"train": [], "dev": [], "test": []}')
    result = CliRunner().invoke(cli, ["info", "--root", str(root)])
    assert result.exit_code == 0, result.output
    files = result.stdout.split("\nfiles:\n")[1].splitlines()
    assert len(files) == 2 and "split.json" in files[1]
    assert files[0].startswith("  features/a_feature") and "..." in files[0]
    assert files[0].endswith(" " + hashlib.sha256(b"x" * 10).hexdigest())
    assert len({line.index(" B  ") for line in files}) == 1  # the columns line up
    assert not [line for line in files if "huggingface" in line or "cache" in line or ".partial" in line]
    assert "sha256" in result.stderr and "records" in result.stderr  # the progress bars


def test_synthetic_shows_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("MMIMDB_PROGRESS", "1")  # bars although CliRunner's stderr is no terminal
    result = CliRunner().invoke(cli, ["benchmark", "--dataset", "synthetic", "--seeds", "3", "--epochs", "5",
                                      "--device", "cpu", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "GMU, 3 seeds" in result.stderr and "logistic regression, 3 seeds" in result.stderr
    assert "10/10" in result.stderr
