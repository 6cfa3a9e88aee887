"""Write the report: ``index.html`` (one page, no server, no network) and beside it the poster
thumbnails (``posters/``), the figures (``figures/``, ``plots/``), the plots the search reads
(``search/NNNN.js``, loaded once the page has opened) and the movies' details
(``details/NNNN.js``, loaded when a movie is opened). The chunks are scripts added by a
``<script>`` tag because pages opened from disk may not ``fetch``. The page itself holds
only what the first view draws, as columns, so that it opens fast at 25,959 movies.

>>> write_report("~/.cache/mmimdb")          # doctest: +SKIP
PosixPath('/home/me/.cache/mmimdb/report/index.html')
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from .. import paths
from ..records.genres import GENRES
from ..records.split_file import SPLITS
from ..storage import lock
from ..storage.atomic import write_bytes
from . import template
from .benchmark import BenchmarkPart, benchmark_folder, data_uri, read_benchmark
from .movies import Movies, collect_movies, thumbnail_name

#: Movies a page of the browser shows.
PAGE_SIZE = 60
#: Movies per details file: a click loads one file of this many movies' details.
DETAILS_CHUNK = 500
#: Movies per search file (the page loads them all, one after the other, once it has opened).
SEARCH_CHUNK = 5000
#: The thumbnails' folder beside the page.
THUMBNAILS = "posters"
#: A movie not in a missing table, in that table's string of codes (codes are 0, 1, 2).
NOT_IN_TABLE = "-"


def _markdown(text: str) -> str:
    """Markdown (tables, struck text, images) as HTML, raw HTML in it escaped."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).render(text)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no '</' to close it early)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _dataset_part(root: Path, out: Path, log: Callable[[str], None]) -> dict[str, Any] | None:
    """Table 1 and the card's figures, drawn from the build (as `mmimdb card` draws them);
    None, with a warning, when the card cannot read the build (the browser is still written)."""
    from ..card import datasheet, figures
    from ..card.stats import collect, summary
    from ..errors import MmimdbError

    try:
        stats = collect(root)
    except (OSError, MmimdbError) as error:
        log(f"warning: Table 1 and the card's figures left out: the card cannot read this build ({error})")
        return None
    drawn = figures.draw_all(stats, out / "figures")
    return {"summary": summary(stats), "table1": _markdown("\n".join(datasheet.table1(stats))),
            "figures": [{"name": path.name, "caption": figures.FIGURES[path.name], "src": path.relative_to(out).as_posix()}
                        for path in drawn]}


def _benchmark_json(part: BenchmarkPart, out: Path) -> dict[str, Any]:
    """The benchmark view's data; its plots copied into ``out/plots`` (the page links them)."""
    plots = out / "plots"
    shutil.rmtree(plots, ignore_errors=True)  # no plot of an earlier run stays behind
    links = []
    for path in part.plots:
        name = path.relative_to(part.folder)
        (plots / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, plots / name)
        links.append({"name": name.as_posix(), "src": (Path("plots") / name).as_posix()})
    return {"folder": str(part.folder), "table2": _markdown(part.table2), "table3": _markdown(part.table3),
            "qualitative": _markdown(part.qualitative) if part.qualitative else "",
            "plots": links, "errors": part.errors,
            "models": [label for label in part.errors] or sorted({m for p in part.predictions.values() for m in p})}


def _movie_columns(movies: Movies) -> dict[str, Any]:
    """Every movie's row as the page holds it: columns (no key repeated 25,959 times), the
    genres as a bit mask (bit g: ``GENRES[g]``), each missing table as one string with a code
    digit per movie."""
    rows = movies.rows
    return {"ids": [row["id"] for row in rows], "titles": [row["title"] for row in rows],
            "years": [row["year"] for row in rows], "splits": [row["split"] for row in rows],
            "genres": [sum(1 << g for g in row["genres"]) for row in rows],
            "posters": [row["poster"] for row in rows],
            "missing": ["".join(NOT_IN_TABLE if row["missing"][table] is None else str(row["missing"][table]) for row in rows)
                        for table in range(len(movies.missing_tables))]}


def _first_posters(movies: Movies, thumbnails: Path) -> list[str | None]:
    """The first page's thumbnails as data URIs, in the page itself: opening it then waits
    for no file (60 reads from disk took longer than the rest of the open)."""
    return [data_uri(thumbnails / thumbnail_name(row["id"], row["poster"]), "image/jpeg") if row["poster"] else None
            for row in movies.rows[:PAGE_SIZE]]


def _write_chunks(folder: Path, callback: str, values: list[Any], size: int) -> int:
    """Write ``values`` into ``folder/NNNN.js`` files of ``size`` each, every one a call of
    ``window.<callback>(chunk, values)``; return how many files."""
    folder.mkdir(parents=True, exist_ok=True)
    chunks = 0
    for start in range(0, len(values), size):
        body = f"window.{callback}({chunks},{_script_json(values[start:start + size])});\n"
        write_bytes(folder / f"{chunks:04d}.js", body.encode("utf-8"))
        chunks += 1
    for stale in folder.glob("*.js"):  # a smaller rebuild leaves no chunk of the old one behind
        if stale.stem.isdigit() and int(stale.stem) >= chunks:
            stale.unlink()
    return chunks


def _details(movies: Movies, part: BenchmarkPart | None) -> list[dict[str, Any]]:
    """Each movie's detail, with the benchmark's predictions and gate for a test movie."""
    details = []
    for row, detail in zip(movies.rows, movies.details):
        short = row["id"].removeprefix("tt")
        if part is not None and short in part.predictions:
            detail = {**detail, "predictions": part.predictions[short], "gate": part.gates.get(short)}
        details.append(detail)
    return details


def _check_libraries() -> None:
    """Before any work: the libraries of the ``report`` extra, or one line saying how to get them."""
    import importlib.util

    from ..errors import UsageError

    absent = [name for name, module in (("markdown-it-py", "markdown_it"), ("matplotlib", "matplotlib"))
              if importlib.util.find_spec(module) is None]
    if absent:
        raise UsageError(f"mmimdb report needs {' and '.join(absent)}: pip install 'mmimdb[report]'")


@lock.reads_root("mmimdb report")
def write_report(root: str | os.PathLike | None = None, results: str | os.PathLike | None = None,
                 out: str | os.PathLike | None = None, log: Callable[[str], None] = lambda message: None) -> Path:
    """Write the report of the build under ``root`` (and of the benchmark in ``results`` or
    ``ROOT/benchmark``) into ``out`` (default ``ROOT/report``); return the page's path."""
    root = paths.data_root(root)
    _check_libraries()
    out = Path(out).expanduser() if out is not None else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    movies = collect_movies(root, out / THUMBNAILS, log)  # says to build first when there is no build
    folder = benchmark_folder(root, results)
    genres_of = {row["id"].removeprefix("tt"): row["genres"] for row in movies.rows}
    part = read_benchmark(folder, genres_of) if folder is not None else None
    dataset = _dataset_part(root, out, log)
    chunks = _write_chunks(out / "details", "mmimdbDetails", _details(movies, part), DETAILS_CHUNK)
    searched = _write_chunks(out / "search", "mmimdbPlots", [row["plot"] for row in movies.rows], SEARCH_CHUNK)
    data = {"root": str(root), "genres": list(GENRES), "splits": list(SPLITS), "missing_tables": movies.missing_tables,
            "details_chunk": DETAILS_CHUNK, "details_files": chunks, "search_chunk": SEARCH_CHUNK, "search_files": searched,
            "poster_folder": THUMBNAILS, "page_size": PAGE_SIZE, "first_posters": _first_posters(movies, out / THUMBNAILS),
            "movies": _movie_columns(movies), "dataset": dataset,
            "benchmark": _benchmark_json(part, out) if part is not None else None}
    page = template.PAGE.replace("__TITLE__", html.escape(f"MM-IMDb report: {root.name}")).replace("__DATA__", _script_json(data))
    path = out / "index.html"
    write_bytes(path, page.encode("utf-8"))
    log(f"{len(movies.rows)} movies, {chunks} details files" + (f", benchmark {folder}" if part else ""))
    return path
