"""``mmimdb fetch --from-copy`` of chat-format copies (tests/chat_copies.py writes them): the
1,222 greatest films written as conversations and re-split at random come back with their ids
(an id field, the poster's name, or their plot matched to a reference), plots, genres and
posters; the report names the re-split; malformed turns and answers without a genre are
skipped one by one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import chat_copies
from mmimdb import paths
from mmimdb.errors import UsageError
from mmimdb.fetch.copies import import_copy
from mmimdb.fetch.copies.chat import parse_genres
from mmimdb.records.record import plot_texts
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli


@pytest.fixture(scope="module")
def films(greatest_films_original):
    return chat_copies.build_movies(greatest_films_original)


def fetch_copy(source: Path, root: Path, *options: str):
    return CliRunner().invoke(cli, ["fetch", "--from-copy", str(source), "--root", str(root), "--no-progress", *options])


#: The copy without ids (the hardest: every id from its plot) holds the first 150 films, the others
#: the first 100 (the store's two fsyncs per movie are most of an import's time: all 1,222 took 34 s
#: under load). The reference the plots are matched to is always the whole build.
@pytest.mark.parametrize("style, how, count", [("hf-parquet", "its plot matched to the reference", 150),
                                               ("llava", "an id field", 100),
                                               ("sharegpt", "the poster's file name", 100)])
def test_a_chat_copy_of_the_greatest_films_comes_back_whole(greatest_films_original, films, tmp_path, style, how, count):
    built = greatest_films_original
    films = films[:count]
    parts = chat_copies.write(films, tmp_path / "copy", style)
    options = ["--release-split", str(paths.split_path(built))]
    if style == "hf-parquet":
        options += ["--reference", str(built)]
    result = fetch_copy(tmp_path / "copy", tmp_path / "root", *options)
    assert result.exit_code == 0, result.output
    store = RecordStore(tmp_path / "root" / "dataset")
    assert store.ids() == sorted(m.imdb_id for m in films)
    for movie in films:
        record = store.read(movie.imdb_id)
        assert record["genres"] == movie.genres
        assert plot_texts(record) == movie.texts
        assert store.read_poster(movie.imdb_id) == movie.poster
        assert set(record["sources"].values()) == {f"copy:chat:{(tmp_path / 'copy').resolve()}"}
    report = json.loads((tmp_path / "root" / "copy-report.json").read_text())
    assert report["layout"] == "chat"
    assert report["chat"]["ids"][how] == len(films)
    assert report["differences"]["split"]["kind"] == "random re-split"
    assert "differs from the release: split: random re-split" in result.output
    copy_split = json.loads((tmp_path / "root" / "copy-split.json").read_text())
    assert {split: sorted(ids) for split, ids in copy_split.items()} == \
           {split: sorted(m.imdb_id[2:] for m in part) for split, part in parts.items()}


def test_a_copy_without_ids_says_what_would_match_them(greatest_films_original, films, tmp_path):
    chat_copies.write(films[:20], tmp_path / "copy", "hf-parquet")
    result = fetch_copy(tmp_path / "copy", tmp_path / "root", "--release-split", str(paths.split_path(greatest_films_original)))
    assert result.exit_code == 1
    assert "skipped, no IMDb id: 20" in result.output
    assert "chat copy: 20 conversations name no IMDb id (no id field, no poster file named by one): give --reference ROOT" \
        in result.output
    assert "a split.json holds ids, not plots, so it cannot" in result.output
    (tmp_path / "nothing").mkdir()
    wrong = fetch_copy(tmp_path / "copy", tmp_path / "elsewhere", "--reference", str(tmp_path / "nothing"))
    assert wrong.exit_code == 2 and wrong.output.strip().splitlines()[-1] == \
        f"error: {tmp_path / 'nothing'}: --reference needs a data root with the release's records " \
        f"({tmp_path / 'nothing' / 'dataset'}) or a build, to match the copy's plots to ids"
    assert not (tmp_path / "elsewhere").exists()  # nothing written
    with pytest.raises(UsageError, match="--reference matches a chat copy's plots"):
        import_copy(paths.dataset_dir(greatest_films_original).parent, tmp_path / "other", layout="relayout",
                    reference=greatest_films_original, progress=False)


def test_a_build_without_records_is_a_reference_by_its_chosen_plots(greatest_films_original, films, tmp_path):
    """``--reference`` to a build whose records are gone: the ids come from the build's Parquet
    plots, read through the build's owner (the fetch stage reads no builds itself)."""
    build_only = tmp_path / "build-only"
    build_only.mkdir()
    for entry in greatest_films_original.iterdir():
        if entry.name != "dataset":
            (build_only / entry.name).symlink_to(entry)
    chat_copies.write(films[:30], tmp_path / "copy", "hf-parquet")
    result = fetch_copy(tmp_path / "copy", tmp_path / "root", "--reference", str(build_only),
                        "--release-split", str(paths.split_path(greatest_films_original)))
    assert result.exit_code == 0, result.output
    assert RecordStore(tmp_path / "root" / "dataset").ids() == sorted(m.imdb_id for m in films[:30])
    report = json.loads((tmp_path / "root" / "copy-report.json").read_text())
    assert report["chat"]["ids"]["its plot matched to the reference"] == 30
    assert f"the build in {build_only}" in json.dumps(report) + result.output


def _jsonl_copy(folder: Path, films, lines: list) -> None:
    (folder / "images").mkdir(parents=True)
    for movie in films:
        (folder / "images" / f"{movie.imdb_id}.jpeg").write_bytes(movie.poster)
    (folder / "train.jsonl").write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def _chat(movie, question=None, answer=None) -> dict:
    return {"id": movie.imdb_id, "images": [f"images/{movie.imdb_id}.jpeg"], "messages": [
        {"role": "user", "content": question if question is not None else f"<image>Plot: {movie.texts[0]}"},
        {"role": "assistant", "content": answer if answer is not None else chat_copies.answer(movie)}]}


def test_malformed_turns_are_skipped_one_by_one(films, tmp_path):
    good, *bad = films[:7]
    lines = [_chat(good),
             {"id": bad[0].imdb_id, "messages": "Plot: ...", "images": []},                            # not a list
             {**_chat(bad[1]), "messages": [["user", "Plot: x"], ["assistant", "Drama"]]},            # turns not objects
             {**_chat(bad[2]), "messages": _chat(bad[2])["messages"][:1]},                            # no answer
             {**_chat(bad[3]), "messages": [{"role": "critic", "content": "x"}] + _chat(bad[3])["messages"]},
             {**_chat(bad[4]), "messages": [{"role": "user", "content": [{"type": "audio"}]},
                                            _chat(bad[4])["messages"][1]]},                            # unknown part
             {**_chat(bad[5]), "messages": [_chat(bad[5])["messages"][1]]},                            # no question
             "{not json"]
    _jsonl_copy(tmp_path / "copy", films[:7], lines)
    result = fetch_copy(tmp_path / "copy", tmp_path / "root")
    assert result.exit_code == 1
    for number, why in [(2, "no messages or conversations list"), (3, "a turn of 'messages' is not an object"),
                        (4, "no assistant turn after the user's"), (5, "unknown role 'critic'"),
                        (6, "a turn's content part is neither text nor an image"), (7, "no user turn"),
                        (8, "not JSON")]:
        assert f"warning: train.jsonl:{number}: {why}" in result.output, result.output
    assert "skipped, malformed turns: 6" in result.output
    assert RecordStore(tmp_path / "root" / "dataset").ids() == [good.imdb_id]


def test_an_answer_without_a_genre_is_skipped_and_words_that_are_none_are_named(films, tmp_path):
    first, second, third = films[:3]
    lines = [_chat(first, answer="I cannot tell from the poster."),
             _chat(second, answer=f"{chat_copies.answer(second)}, space opera"),
             _chat(third, answer=json.dumps(third.genres))]
    _jsonl_copy(tmp_path / "copy", films[:3], lines)
    result = fetch_copy(tmp_path / "copy", tmp_path / "root")
    assert result.exit_code == 1
    assert f"warning: train.jsonl:1: no genre name in the answer 'I cannot tell from the poster.'; skipped" in result.output
    assert "skipped, no genre in the answer: 1" in result.output
    assert "'space opera' 1" in result.output and "'I cannot tell from the poster' 1" in result.output
    store = RecordStore(tmp_path / "root" / "dataset")
    assert store.ids() == sorted([second.imdb_id, third.imdb_id])
    assert store.read(second.imdb_id)["genres"] == second.genres
    assert store.read(third.imdb_id)["genres"] == third.genres


def test_answers_are_parsed_to_known_genre_names_only():
    assert parse_genres("Drama, Sci-Fi and film noir.") == (["Drama", "Sci-Fi", "Film-Noir"], [])
    assert parse_genres("The genres are: documentry; science fiction | Talk-Show") == \
           (["Documentary", "Sci-Fi", "Talk-Show"], [])
    assert parse_genres("- Comedy\n- Romance\n- Heist") == (["Comedy", "Romance"], ["Heist"])
    assert parse_genres("") == ([], [])


def test_a_poster_outside_the_copy_and_a_truncated_parquet_lose_only_themselves(films, tmp_path):
    first, second, third = films[:3]
    secret = tmp_path / "secret.jpeg"
    secret.write_bytes(first.poster)
    _jsonl_copy(tmp_path / "copy", films[:2], [{**_chat(first), "images": ["../../secret.jpeg"]}, _chat(second)])
    chat_copies.write([third] * 40, tmp_path / "copy" / "hub", "hf-parquet")
    parquet = tmp_path / "copy" / "hub" / "data" / "train-00000-of-00001.parquet"
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    result = fetch_copy(tmp_path / "copy", tmp_path / "root")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: train-00000-of-00001.parquet: damaged Parquet file (")
    report = json.loads((tmp_path / "root" / "copy-report.json").read_text())
    assert any(f"{first.imdb_id}: image path outside the copy (../../secret.jpeg)" in m for m in report["messages"])
    assert RecordStore(tmp_path / "root" / "dataset").ids() == [second.imdb_id]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "root", "secret.jpeg"]
