import json

from click.testing import CliRunner

from mmimdb.dataset.info import describe
from mmimdb_cli.main import cli


def test_info_counts_records_and_genres_of_the_greatest_films(greatest_films_root, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "dataset").symlink_to(greatest_films_root / "dataset")
    split = {"train": ["0000417"], "dev": ["0000439"], "test": ["9999999"]}
    (root / "split.json").write_text(json.dumps(split))
    summary = describe(root)
    assert summary["records"] == summary["posters"] == 1222
    assert summary["genres"]["Drama"] > summary["genres"]["Film-Noir"] > 0
    assert summary["split"]["ids_without_record"] == 1
    assert summary["files"][0]["path"] == "split.json"
    assert summary["files"][0]["sha256"] == __import__("hashlib").sha256((root / "split.json").read_bytes()).hexdigest()
    result = CliRunner().invoke(cli, ["info", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "records:  1222" in result.output and "Film-Noir" in result.output
    table = json.loads(CliRunner().invoke(cli, ["info", "--root", str(root), "--json"]).output)["genre_table"]
    drama = next(row for row in table if row["genre"] == "Drama")
    assert drama["train"] + drama["dev"] + drama["test"] <= 2 and drama["original"] == 13967


def test_info_on_a_missing_root_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["info", "--root", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1


def test_info_reports_an_unreadable_record_instead_of_crashing(tmp_path):
    dataset = tmp_path / "root" / "dataset"
    dataset.mkdir(parents=True)
    (dataset / "0000001.json").write_text("{broken")
    result = CliRunner().invoke(cli, ["info", "--root", str(tmp_path / "root")])
    assert result.exit_code == 0 and "unreadable records: 1 (tt0000001)" in result.output
