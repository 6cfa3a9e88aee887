"""Chat-format copies: MM-IMDb as conversations, the plot in the user's turn, the genres as
the assistant's answer, the poster in an image column or a path.

The record shapes read here are the ones vision-language fine-tuning tools take:

* LLaVA (``{"id", "image": path, "conversations": [{"from": "human", "value": "<image>\\n..."},
  {"from": "gpt", "value": ...}]}``, a JSON array);
* LLaMA-Factory's ShareGPT format (``{"messages": [{"role": "user", "content": "<image>..."},
  {"role": "assistant", "content": ...}], "images": [path]}``, JSON or JSON lines; its
  ``conversations`` form uses ``from``/``value``);
* Hugging Face chat datasets (``messages`` whose ``content`` is a list of parts
  ``{"type": "text", "text"}`` / ``{"type": "image"}``, and an ``images`` column of
  ``{"bytes", "path"}`` images in Parquet, what ``datasets.push_to_hub`` writes).

Such copies seldom keep the IMDb id. It is taken from an id field that is one (``tt0114709``
or ``0114709``), else from the poster's file name; else, with a reference (a data root with
the release's records, or a build), the plot is matched to the release's plots. The plot is
the line of the user's turn that matches a release plot, else the text after a ``Plot:``
label, else the longest line. Genres are the known IMDb genre names of the answer (a list
separated by commas, semicolons, "and", or a JSON list); the pieces that are no genre are
named in the report. The file's name gives the split (``train``, ``validation``, ``test``,
``train-00000-of-00001.parquet``), else a ``split`` field; these copies are often re-split
at random, which the report names.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ... import paths
from ...errors import UsageError
from ...records import posters as images
from ...records.genres import canonical_genre
from ...records.record import plot_texts
from .jsonl import MAX_LINE_BYTES, _raw_lines
from .samples import Problems, Sample, copy_id, find_files, image_file, split_name

NAME = "chat"
DESCRIPTION = "chat-format copy (messages / conversations with the plot asked and the genres answered; JSON, JSON lines or Parquet)"
TURN_KEYS = ("messages", "conversations")
_SUFFIXES = (".jsonl", ".json", ".parquet")
#: A whole-file JSON array is parsed at once: larger ones must come as JSON lines or Parquet.
MAX_JSON_ARRAY_BYTES = 512 * 1024**2
_USER_ROLES = {"user", "human"}
_ASSISTANT_ROLES = {"assistant", "gpt", "bot", "model"}
_IMAGE_TOKENS = re.compile(r"<\|?image\|?>|<img>|</img>", re.IGNORECASE)
#: An id field or a file name that names an IMDb id: 'tt' + 7 or 8 digits, or 7 digits.
_IMDB_ID = re.compile(r"^(?:tt)?(\d{7,8})$")
_PLOT_LABEL = re.compile(r"^\s*(?:the\s+)?(?:movie\s+|film\s+)?(?:plot(?:\s+summary)?|synopsis|summary|storyline|"
                         r"description|overview)\s*:\s*", re.IGNORECASE)
_ANSWER_LABEL = re.compile(r"^\s*(?:the\s+)?(?:movie'?s?\s+)?(?:genres?|answer|labels?|categories)(?:\s+are|\s+is)?\s*:?\s*",
                           re.IGNORECASE)
_SEPARATORS = re.compile(r",|;|\||/|\n|&|\band\b|\bor\b", re.IGNORECASE)
#: Spellings seen in prompts that answers echo: HEMM's MM-IMDb prompt lists "documentry".
_ANSWER_ALIASES = {"documentry": "Documentary"}
#: Ids of the report's lists, and unparsed answer pieces named, before the rest is counted.
LISTED = 20


class Malformed(ValueError):
    """A record whose turns cannot be read as a question and its answer."""


@dataclass
class Chat:
    """One conversation: the user's text, the assistant's answer, its image references."""

    question: str
    answer: str
    images: list[Any] = field(default_factory=list)


def _is_chat(record: object) -> bool:
    return isinstance(record, dict) and any(isinstance(record.get(key), list) for key in TURN_KEYS)


def _first_json_record(path: Path) -> object:
    """The first record of a JSON-lines or JSON-array file, read from its start only."""
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    text = head.decode("utf-8", "replace").lstrip()
    if path.suffix == ".jsonl" or not text.startswith("["):
        try:
            return json.loads(head.split(b"\n", 1)[0])
        except ValueError:
            return None
    # A JSON array: the first object, when the head holds it whole.
    try:
        record, _ = json.JSONDecoder().raw_decode(text[1:].lstrip())
        return record
    except ValueError:
        return {key: [] for key in TURN_KEYS if f'"{key}"' in text}


def _parquet_problem(path: Path) -> str | None:
    """Why a Parquet file's schema cannot be read (a truncated file has no footer), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_schema(str(path))
    except (pa.ArrowException, OSError) as error:
        return (str(error).splitlines() or [type(error).__name__])[0][:160]
    return None


def _is_chat_file(path: Path) -> bool:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return _parquet_problem(path) is None and any(key in pq.read_schema(str(path)).names for key in TURN_KEYS)
    return _is_chat(_first_json_record(path))


def _candidates(folder: Path) -> list[Path]:
    """Files that may hold conversations. A file named by an id (``labels/0114709.json``) is
    one record of a re-layout, never opened here (a re-layout has 25,959 of them)."""
    return [path for suffix in _SUFFIXES for path in find_files(folder, f"*{suffix}")
            if not path.stem.removeprefix("tt").isdigit()]


def files(folder: Path) -> list[Path]:
    """The copy's files of conversations."""
    return [path for path in _candidates(folder) if _is_chat_file(path)]


def detect(folder: Path) -> bool:
    return bool(files(folder))


def _file_split(path: Path) -> str | None:
    """``train``, ``dev`` or ``test`` from a file name such as ``validation-00000-of-00001.parquet``."""
    return split_name(re.split(r"[-_.]", path.stem.lower())[0]) or split_name(path.stem)


def _text_of(content: object, found_images: list[Any]) -> str:
    """The text of a turn's content (a string, or a list of parts); image parts go to ``found_images``."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Malformed("a turn's content is neither text nor a list of parts")
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and part.get("type") in ("image", "image_url"):
            reference = part.get("image") or part.get("path") or part.get("url") or part.get("image_url")
            if reference:
                found_images.append(reference)
        else:
            raise Malformed("a turn's content part is neither text nor an image")
    return "\n".join(texts)


def read_chat(record: dict) -> Chat:
    """The first question and the answer that follows it; raises :class:`Malformed`."""
    key = next(k for k in TURN_KEYS if isinstance(record.get(k), list))
    parts: list[Any] = []
    question = None
    for turn in record[key]:
        if not isinstance(turn, dict):
            raise Malformed(f"a turn of {key!r} is not an object")
        role = turn.get("role", turn.get("from"))
        content = turn.get("content", turn.get("value"))
        if not isinstance(role, str):
            raise Malformed(f"a turn of {key!r} names no role")
        role = role.strip().lower()
        if role == "system":
            continue
        if role in _USER_ROLES and question is None:
            question = _text_of(content, parts)
        elif role in _ASSISTANT_ROLES and question is not None:
            answer = _text_of(content, parts)
            for name in ("images", "image"):
                value = record.get(name)
                parts.extend(value if isinstance(value, list) else [value] if value else [])
            return Chat(question, answer, parts)
        elif role not in _USER_ROLES | _ASSISTANT_ROLES:
            raise Malformed(f"unknown role {role[:40]!r}")
    raise Malformed("no user turn" if question is None else "no assistant turn after the user's")


def parse_genres(answer: str) -> tuple[list[str], list[str]]:
    """(the known genre names of an answer, in its order; the pieces that are none).

    >>> parse_genres("Genres: drama, sci-fi and Film-Noir.")
    (['Drama', 'Sci-Fi', 'Film-Noir'], [])
    >>> parse_genres('["Comedy", "Space Opera"]')
    (['Comedy'], ['Space Opera'])
    """
    text = answer.strip()
    pieces: list[str]
    try:
        listed = json.loads(text) if text.startswith("[") else None
    except ValueError:
        listed = None
    if isinstance(listed, list):
        pieces = [str(item) for item in listed]
    else:
        pieces = _SEPARATORS.split(_ANSWER_LABEL.sub("", text, count=1))
    genres: list[str] = []
    unparsed: list[str] = []
    for piece in pieces:
        name = piece.strip().strip(" .!'\"[]()*•\t-").strip()
        if not name:
            continue
        genre = canonical_genre(name) or _ANSWER_ALIASES.get(name.lower())
        if genre is None:
            unparsed.append(name[:60])
        elif genre not in genres:
            genres.append(genre)
    return genres, unparsed


def _normal(text: str) -> str:
    """A plot as compared: no ``::author`` suffix, whitespace collapsed, lower case."""
    if "::" in text:
        text = text.rsplit("::", 1)[0]
    return " ".join(text.split()).lower()


class Reference:
    """The release's plots, to give a copy without ids its ids: normalized plot -> ids.

    Made from a records store (:meth:`of_records`) or from any ``(imdb_id, plot)`` pairs,
    such as a build's chosen plots (the CLI reads those through the build's owner: this stage
    does not import the dataset stage to its right)."""

    def __init__(self, plots: Iterable[tuple[str, str]], description: str):
        self.description = description
        self.by_text: dict[str, set[str]] = {}
        for imdb_id, text in plots:
            if text:
                self._add(text, imdb_id)

    @classmethod
    def of_records(cls, root: Path) -> "Reference | None":
        """Every plot of every record under ``root``, or None when ``root`` holds no records."""
        from ...records.store import RecordStore

        store = RecordStore(paths.dataset_dir(root))
        ids = store.ids()
        if not ids:
            return None
        return cls(((imdb_id, text) for imdb_id in ids for text in plot_texts(store.read_raw(imdb_id))),
                   f"the records in {store.directory} ({len(ids)} movies, every plot)")

    def _add(self, text: str, imdb_id: str) -> None:
        self.by_text.setdefault(_normal(text), set()).add(imdb_id[2:] if imdb_id.startswith("tt") else imdb_id)

    def find(self, lines: list[str]) -> tuple[str | None, str | None, bool]:
        """(id, the line that matched, ambiguous) for the first line matching one plot."""
        for line in lines:
            for candidate in (line, _PLOT_LABEL.sub("", line, count=1)):
                found = self.by_text.get(_normal(candidate))
                if found:
                    return (next(iter(found)) if len(found) == 1 else None), candidate.strip(), len(found) > 1
        return None, None, False


def _question_lines(question: str) -> list[str]:
    return [line.strip() for line in _IMAGE_TOKENS.sub("\n", question).splitlines() if line.strip()]


def _plot(lines: list[str]) -> tuple[str, str]:
    """(the plot of a question without a reference, the rule that found it)."""
    for line in lines:
        if _PLOT_LABEL.match(line):
            return _PLOT_LABEL.sub("", line, count=1).strip(), "after a 'Plot:' label"
    return (max(lines, key=len), "the longest line of the user's turn") if lines else ("", "no text")


def _id_of(record: dict, refs: list[Any]) -> tuple[str | None, str | None]:
    """(the IMDb id a record names, where it came from)."""
    for key in ("imdb_id", "id", "image_id", "movie_id"):
        found = _imdb_id(record.get(key))
        if found:
            return found, "an id field"
    for ref in refs:
        name = ref if isinstance(ref, str) else ref.get("path") if isinstance(ref, dict) else None
        found = _imdb_id(Path(name).stem) if isinstance(name, str) and name else None
        if found:
            return found, "the poster's file name"
    return None, None


def _imdb_id(value: object) -> str | None:
    """The 7-digit id of ``'tt0114709'``, ``'tt10872600'`` or ``'0114709'``; None for anything
    else (chat copies number their records 0, 1, 2, ...: a bare number is no IMDb id)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _IMDB_ID.match(text)
    if match is None or not (text.startswith("tt") or len(match.group(1)) == 7):
        return None
    return copy_id(text)


def _poster(copy_root: Path, base: Path, refs: list[Any]) -> tuple[Callable[[], bytes] | None, str | None]:
    """A reader of the first image of a record, or why there is none."""
    if not refs:
        return None, "no image in the record"
    ref = refs[0]
    if isinstance(ref, dict) and isinstance(ref.get("bytes"), (bytes, bytearray)) and ref["bytes"]:
        data = bytes(ref["bytes"])
        if len(data) > images.MAX_POSTER_BYTES:
            return None, f"image is {len(data)} bytes, over the {images.MAX_POSTER_BYTES}-byte cap"
        return (lambda: data), None
    path = ref.get("path") if isinstance(ref, dict) else ref
    if not isinstance(path, str) or not path.strip():
        return None, "no image in the record"
    return image_file(copy_root, [base, copy_root, base / "images", copy_root / "images"], path)


def _records(path: Path, problems: Problems) -> Iterator[tuple[str, Any]]:
    """(where, record) of a JSON-lines, JSON-array or Parquet file."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(str(path))
            row = 0
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                # Validated before a value is read, as the Arrow reader's batches are
                # (vilt_arrow._batches: damaged offsets made to_pylist read outside its buffers).
                table.validate(full=True)
                for record in table.to_pylist():
                    row += 1
                    yield f"{path.name}:row {row}", record
        except (pa.ArrowException, OSError) as error:
            first = (str(error).splitlines() or [type(error).__name__])[0][:160]
            problems.damaged(f"{path.name}: damaged Parquet file ({first}); kept the rows before the damage")
        return
    with open(path, "rb") as handle:
        array = path.suffix == ".json" and handle.read(64 * 1024).lstrip().startswith(b"[")
    if array:
        if path.stat().st_size > MAX_JSON_ARRAY_BYTES:
            problems.damaged(f"{path.name}: a JSON array over the {MAX_JSON_ARRAY_BYTES}-byte cap; "
                             "give the copy as JSON lines or Parquet")
            return
        try:
            data = json.loads(path.read_bytes())
        except (UnicodeDecodeError, ValueError) as error:
            problems.damaged(f"{path.name}: not JSON ({str(error)[:80]}); nothing read from it")
            return
        for number, record in enumerate(data if isinstance(data, list) else [], 1):
            yield f"{path.name}:record {number}", record
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(_raw_lines(handle, MAX_LINE_BYTES), 1):
            where = f"{path.name}:{number}"
            if raw is None:
                problems.skip(where, "line too long", f"{where}: over the {MAX_LINE_BYTES}-byte cap; line skipped")
            elif raw.strip():
                try:
                    yield where, json.loads(raw)
                except (UnicodeDecodeError, ValueError) as error:
                    problems.skip(where, "line is not JSON", f"{where}: not JSON ({str(error)[:80]}); line skipped")


def samples(copy_root: Path, problems: Problems, index: Reference | None = None) -> Iterator[Sample]:
    """The copy's conversations as samples (``index``: the release's plots, to give
    conversations without an id theirs); what was recovered how goes to ``problems.note``."""
    ids_from: Counter[str] = Counter()
    plots_from: Counter[str] = Counter()
    unparsed: Counter[str] = Counter()
    answers_with_unparsed = 0
    unmatched: list[str] = []
    ambiguous: list[str] = []
    for path in _candidates(copy_root):
        problem = _parquet_problem(path) if path.suffix == ".parquet" else None
        if problem is not None:  # not known to hold conversations, but part of the copy and unread
            problems.damaged(f"{path.name}: damaged Parquet file ({problem}); none of its rows read")
    for path in files(copy_root):
        file_split = _file_split(path)
        for where, record in _records(path, problems):
            if not _is_chat(record):
                problems.skip(where, "malformed turns", f"{where}: no messages or conversations list; skipped")
                continue
            try:
                chat = read_chat(record)
            except Malformed as error:
                problems.skip(where, "malformed turns", f"{where}: {error}; skipped")
                continue
            lines = _question_lines(chat.question)
            file_id, how = _id_of(record, chat.images)
            text, rule = None, None
            if index is not None:
                matched, text, several = index.find(lines)
                if text is not None:
                    rule = "a line that is a release plot"
                if file_id is None and matched is not None:
                    file_id, how = matched, "its plot matched to the reference"
                elif file_id is None and several:
                    ambiguous.append(where)
            if text is None:
                text, rule = _plot(lines)
            if file_id is None:
                unmatched.append(where)
                problems.skip(where, "no IMDb id", None)
                continue
            genres, pieces = parse_genres(chat.answer)
            unparsed.update(pieces)
            answers_with_unparsed += bool(pieces)
            if not genres:
                problems.skip("tt" + file_id, "no genre in the answer",
                              f"{where}: no genre name in the answer {chat.answer[:80]!r}; skipped")
                continue
            ids_from[how] += 1
            plots_from[rule] += 1
            split = file_split or split_name(record.get("split"))
            sample = Sample(file_id, where, split, [text] if text else [], genres)
            sample.poster, sample.poster_problem = _poster(copy_root, path.parent, chat.images)
            yield sample
    problems.note(NAME, {
        "ids": {**dict(ids_from), "none found": len(unmatched), "ambiguous plot": len(ambiguous)},
        "reference": index.description if index is not None else None,
        "no_ids": _no_ids_note(unmatched, index),
        "plot_taken_from": dict(plots_from),
        "answers": {"with pieces that are no genre": answers_with_unparsed,
                    "pieces": dict(unparsed.most_common(LISTED)),
                    **({"more_pieces": len(unparsed) - LISTED} if len(unparsed) > LISTED else {})},
        "unmatched": unmatched[:LISTED],
    })


def _no_ids_note(unmatched: list[str], index: Reference | None) -> str | None:
    if not unmatched:
        return None
    if index is None:
        return (f"{len(unmatched)} conversations name no IMDb id (no id field, no poster file named by one): give "
                "--reference ROOT, a data root with the release's records or a build, to match their plots to ids "
                "(a split.json holds ids, not plots, so it cannot)")
    return f"{len(unmatched)} conversations name no IMDb id and their plot matched none of {index.description}"
