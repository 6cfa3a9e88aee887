"""Write the report: ``index.html`` (one page, no server, no network), the poster thumbnails
beside it (``posters/``) and the movies' details in chunks (``details/NNNN.js``, loaded by a
``<script>`` tag when a movie is opened: pages opened from disk may not ``fetch``).

>>> write_report("~/.cache/mmimdb")          # doctest: +SKIP
PosixPath('/home/me/.cache/mmimdb/report/index.html')
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any, Callable

from .. import paths
from ..records.genres import GENRES
from ..records.split_file import SPLITS
from ..storage import lock
from ..storage.atomic import write_bytes
from . import template
from .benchmark import BenchmarkPart, data_uri, read_benchmark
from .movies import Movies, collect_movies

#: Movies per details file: a click loads one file of this many movies' details.
DETAILS_CHUNK = 500


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
            "figures": [{"name": path.name, "caption": figures.FIGURES[path.name], "src": data_uri(path, "image/png")}
                        for path in drawn]}


def _benchmark_json(part: BenchmarkPart) -> dict[str, Any]:
    return {"folder": str(part.folder), "table2": _markdown(part.table2), "table3": _markdown(part.table3),
            "qualitative": _markdown(part.qualitative) if part.qualitative else "",
            "plots": [{"name": name, "src": src} for name, src in part.plots], "errors": part.errors,
            "models": [label for label in part.errors] or sorted({m for p in part.predictions.values() for m in p})}


def _write_details(movies: Movies, part: BenchmarkPart | None, out: Path) -> int:
    """Write ``details/NNNN.js`` files; return how many."""
    folder = out / "details"
    folder.mkdir(parents=True, exist_ok=True)
    chunks = 0
    for start in range(0, len(movies.details), DETAILS_CHUNK):
        chunk = []
        for row, detail in zip(movies.rows[start:start + DETAILS_CHUNK], movies.details[start:start + DETAILS_CHUNK]):
            short = row["id"].removeprefix("tt")
            if part is not None and short in part.predictions:
                detail = {**detail, "predictions": part.predictions[short], "gate": part.gates.get(short)}
            chunk.append(detail)
        body = f"window.mmimdbDetails({chunks},{_script_json(chunk)});\n"
        write_bytes(folder / f"{chunks:04d}.js", body.encode("utf-8"))
        chunks += 1
    for stale in folder.glob("*.js"):  # a smaller rebuild leaves no chunk of the old one behind
        if stale.stem.isdigit() and int(stale.stem) >= chunks:
            stale.unlink()
    return chunks


def _check_libraries() -> None:
    """Before any work: the libraries of the ``report`` extra, or one line saying how to get them."""
    import importlib.util

    from ..errors import UsageError

    absent = [name for name, module in (("markdown-it-py", "markdown_it"), ("matplotlib", "matplotlib"))
              if importlib.util.find_spec(module) is None]
    if absent:
        raise UsageError(f"mmimdb report needs {' and '.join(absent)}: pip install 'mmimdb[report]'")


def benchmark_folder(root: Path, results: str | os.PathLike | None) -> Path | None:
    """The benchmark folder to show: ``results`` when given, else ``ROOT/benchmark`` when it
    holds a ``results.json``."""
    if results is not None:
        return Path(results).expanduser()
    folder = root / "benchmark"
    return folder if (folder / "results.json").is_file() else None


@lock.reads_root("mmimdb report")
def write_report(root: str | os.PathLike | None = None, results: str | os.PathLike | None = None,
                 out: str | os.PathLike | None = None, log: Callable[[str], None] = lambda message: None) -> Path:
    """Write the report of the build under ``root`` (and of the benchmark in ``results`` or
    ``ROOT/benchmark``) into ``out`` (default ``ROOT/report``); return the page's path."""
    root = paths.data_root(root)
    _check_libraries()
    out = Path(out).expanduser() if out is not None else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    movies = collect_movies(root, out / "posters", log)  # says to build first when there is no build
    folder = benchmark_folder(root, results)
    genres_of = {row["id"].removeprefix("tt"): row["genres"] for row in movies.rows}
    part = read_benchmark(folder, genres_of) if folder is not None else None
    dataset = _dataset_part(root, out, log)
    chunks = _write_details(movies, part, out)
    data = {"root": str(root), "genres": list(GENRES), "splits": list(SPLITS), "missing_tables": movies.missing_tables,
            "details_chunk": DETAILS_CHUNK, "details_files": chunks, "movies": movies.rows, "dataset": dataset,
            "benchmark": _benchmark_json(part) if part is not None else None}
    page = template.PAGE.replace("__TITLE__", html.escape(f"MM-IMDb report: {root.name}")).replace("__DATA__", _script_json(data))
    path = out / "index.html"
    write_bytes(path, page.encode("utf-8"))
    log(f"{len(movies.rows)} movies, {chunks} details files" + (f", benchmark {folder}" if part else ""))
    return path
