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
