"""``mmimdb fetch``: get movie records into the records store.

Either import the original release (``--from-archive``) or crawl MovieLens ids from
today's sources (``--movielens ml-20m --source ...``); the work is in
:mod:`mmimdb.fetch`.
"""
from __future__ import annotations

from pathlib import Path

import click

from mmimdb.errors import EXIT_ERROR, StoppedEarly, UsageError

from .options import root_option, show_progress


def _read_ids(value: str) -> list[str]:
    """``--ids``: a file with one id a line (or comma-separated), or a comma list."""
    path = Path(value).expanduser()
    text = path.read_text("utf-8") if path.is_file() else value
    return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip() and not item.startswith("#")]


@click.command("fetch")
@click.option("--from-archive", "archive", metavar="PATH_OR_URL", help="Import the original MM-IMDb release (mmimdb.tar.gz, its folder, or a URL).")
@click.option("--sha256", metavar="HEX|none", default=None,
              help="Expected sha256 of the archive (--from-archive) [default: the digest MMF published, for the "
                   "archive.org file or a local mmimdb.tar.gz of its size; 'none': no check].")
@click.option("--from-copy", "copy", metavar="FOLDER_OR_HUB_ID",
              help="Import a copy that is not the archive: ViLT Arrow files, MMBT/transformers jsonl, MMF "
                   "annotations, a split.json + images/ + labels/ re-layout, a chat-format copy (conversations), "
                   "or a Hub dataset (user/name).")
@click.option("--layout", default=None, metavar="NAME",
              help="--from-copy: the copy's layout (vilt-arrow, chat, mmf, mmbt-jsonl, relayout) [default: detected].")
@click.option("--release-split", type=click.Path(dir_okay=False), default=None,
              help="--from-copy: the release's split.json to compare the copy with [default: ROOT/release-split.json].")
@click.option("--reference", type=click.Path(file_okay=False), default=None, metavar="ROOT",
              help="--from-copy of a chat copy without ids: a data root with the release's records (or a build) "
                   "whose plots give the copy's conversations their ids.")
@click.option("--revision", default=None, help="--from-copy with a Hub id: the branch, tag or commit.")
@click.option("--hub-include", "hub_include", multiple=True, metavar="PATTERN",
              help="--from-copy with a Hub id: download only the files matching PATTERN (repeat), e.g. 'mmimdb/*'.")
@click.option("--movielens", metavar="RELEASE_OR_PATH",
              help="MovieLens ids to crawl: a release (ml-20m, ml-25m, ml-32m, ml-latest, ml-latest-small; "
                   "downloaded from GroupLens and checked) or a local links.csv, zip or folder.")
@click.option("--source", "source_values", multiple=True, metavar="NAME[,NAME]",
              help="Where records come from, in merge priority order: archive, imdb-datasets, imdb-web, omdb, tmdb "
                   "(repeat or comma-separate).")
@click.option("--limit", type=int, default=None, help="Crawl only the first N ids.")
@click.option("--ids", "ids_value", metavar="FILE_OR_LIST", default=None,
              help="Crawl only these IMDb ids (a file with one a line, or a comma list).")
@click.option("--retry-failed", is_flag=True, help="Also retry ids whose last attempt ended in an error.")
@click.option("--omdb-key", envvar="OMDB_API_KEY", default=None, show_envvar=True, help="OMDb API key.")
@click.option("--tmdb-key", envvar="TMDB_API_KEY", default=None, show_envvar=True, help="TMDb API key (v3 key or v4 token).")
@click.option("--omdb-url", default=None, metavar="URL", help="OMDb base URL (default https://www.omdbapi.com).")
@click.option("--tmdb-url", default=None, metavar="URL", help="TMDb API base URL (default https://api.themoviedb.org).")
@click.option("--imdb-url", default=None, metavar="URL",
              help="Title pages: a base URL (…/title/<id>/ is appended; default https://www.imdb.com) "
                   "or a template with {id}, e.g. http://127.0.0.1:8000/{id}.html.")
@click.option("--imdb-datasets", "imdb_datasets", default=None, metavar="PATH_OR_URL",
              help="IMDb TSV files: a folder with the seven *.tsv.gz, or a base URL (default https://datasets.imdbws.com/).")
@click.option("--db-url", default=None, metavar="URL",
              help="Database for the IMDb TSV import (SQLAlchemy URL; default sqlite:///<root>/imdb-datasets/imdb.sqlite).")
@click.option("--archive-dir", default=None, type=click.Path(file_okay=False), metavar="PATH",
              help="The extracted original release, for --source archive.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Movies fetched at once, and the most requests in flight per host.")
@click.option("--rate", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Requests per second per host (0: no limit; only for your own servers).")
@click.option("--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True, help="Read timeout per request, seconds.")
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True, help="Retries on 429/5xx/timeouts (exponential backoff with jitter).")
@click.option("--state-url", default=None, metavar="URL",
              help="Keep the crawl state in PostgreSQL (postgresql://user@host:port/db): crawlers on several machines "
                   "or processes share its id queue. Default: <root>/fetch-state.sqlite.")
@click.option("--lease", type=click.FloatRange(1), default=300.0, show_default=True,
              help="With --state-url: seconds after which the ids of a crawler that died go back to the queue.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON report here (default <root>/fetch-report.json).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@root_option
def fetch(archive: str | None, sha256: str | None, copy: str | None, layout: str | None, release_split: str | None,
          reference: str | None, revision: str | None, hub_include: tuple[str, ...], movielens: str | None, source_values: tuple[str, ...],
          limit: int | None, ids_value: str | None, retry_failed: bool, omdb_key: str | None, tmdb_key: str | None,
          omdb_url: str | None, tmdb_url: str | None, imdb_url: str | None, imdb_datasets: str | None,
          db_url: str | None, archive_dir: str | None, concurrency: int, rate: float, timeout: float, retries: int,
          state_url: str | None, lease: float, report_path: str | None, no_progress: bool, root: str | None) -> None:
    """Fetch movie records: import the original release (--from-archive) or a copy of it
    (--from-copy), or crawl
    MovieLens ids from today's sources (--movielens ml-20m --source imdb-datasets,omdb)."""
    if archive:
        from .fetch_archive import import_archive_command

        import_archive_command(archive=archive, sha256=sha256, root=root)
        return
    if copy:
        from .fetch_copy import import_copy_command

        import_copy_command(copy, layout=layout, release_split=release_split, reference=reference, revision=revision,
                            hub_include=hub_include, root=root)
        return
    if not movielens:
        raise UsageError("give --movielens RELEASE_OR_PATH (with --source) to crawl, or --from-archive PATH_OR_URL")

    from mmimdb.fetch import crawl, movielens as ml
    from mmimdb.fetch.hosts import crawl_session
    from mmimdb.paths import data_root
    from mmimdb.fetch.sources import SourceOptions, make_sources, parse_source_names

    names = parse_source_names(source_values or ())
    sources = make_sources(names, SourceOptions(
        omdb_key=omdb_key, tmdb_key=tmdb_key, omdb_url=omdb_url, tmdb_url=tmdb_url,
        imdb_url=imdb_url, imdb_datasets=imdb_datasets, db_url=db_url, archive_dir=archive_dir,
    ))
    data = data_root(root)
    session = crawl_session(sources, rate=rate, concurrency=concurrency, timeout=timeout, retries=retries)
    links = ml.load_links(movielens, data, session=session)
    ids = _read_ids(ids_value) if ids_value else None
    links = ml.select(links, ids, limit)
    state = crawl.open_state(state_url, data, lease=lease, batch=2 * concurrency)
    try:
        report = crawl.crawl(links, sources, data, session=session, concurrency=concurrency, retry_failed=retry_failed,
                             progress=show_progress(no_progress), report_path=Path(report_path) if report_path else None,
                             state=state)
    except StoppedEarly as stopped:
        if getattr(stopped, "report", None) is not None:
            click.echo(stopped.report.summary(), err=True)
        raise
    click.echo(report.summary(), err=True)
    click.echo(f"records: {report.store}; report: {report_path or data / crawl.REPORT_FILE}", err=True)
    if report.state.get("done"):  # after a crawl that fetched nothing there is nothing to build
        click.echo(f"next: {crawl.BUILD_COMMAND} --root {data}  (splits, Parquet, HDF5 from the records store)", err=True)
    if report.state.get("error"):
        click.echo(f"error: {report.state['error']} id(s) failed (see the report); rerun with --retry-failed to try them again", err=True)
        raise SystemExit(EXIT_ERROR)
