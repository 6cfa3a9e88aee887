"""The crawl scheduler: MovieLens links in, complete records in the records store out.

Ids are handed to a thread pool (each id goes through :func:`.pipeline.crawl_one`); the
main thread alone writes the state database (:mod:`.state`) and the report
(:mod:`.report`). A source that blocks the crawl, refuses its key or rate-limits it stops
everything at once; one that keeps giving no answer stops it after a few ids
(:mod:`.health`); Ctrl-C stops after the ids in flight; all keep what was done, exit 3, and
a rerun resumes.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from ... import paths
from ...records.store import RecordStore
from ...errors import MmimdbError, StoppedEarly
from ...storage.atomic import write_json
from ...storage.lock import exclusive, shared
from ..http import PoliteSession
from ..movielens import Link
from ..sources.base import Source
from .health import SourceHealth
from .pipeline import Outcome, crawl_one
from .report import REPORT_FILE, Report
from .state import FINAL_STATUSES, STATUSES, StateBackend, StateDb, state_path


def crawl(
    links: list[Link],
    sources: list[Source],
    root: Path,
    *,
    session: PoliteSession,
    concurrency: int = 4,
    retry_failed: bool = False,
    progress: bool = True,
    report_path: Path | None = None,
    state: StateBackend | None = None,
) -> Report:
    """Crawl ``links`` with ``sources`` into ``root``'s records store; return the report
    (also written as JSON to ``report_path``, default ``<root>/fetch-report.json``).

    Raises :class:`~mmimdb.errors.StoppedEarly` (exit 3; its ``report`` attribute is the
    report) after writing the report when a source blocks the crawl, refuses the key, is
    rate-limiting it or keeps failing, or on Ctrl-C; everything done so far is kept.
    ``state`` (default: the SQLite file under ``root``; :func:`.state.open_state`) is closed
    at the end; a shared one (a PostgreSQL queue) lets other crawlers work the same ids,
    and the same root, at once.
    """
    root = Path(root)
    state = state or StateDb(state_path(root))
    lock = shared if state.shared else exclusive
    try:
        with lock(root, "mmimdb fetch --movielens", when_alone=RecordStore(paths.dataset_dir(root)).clean):
            return _crawl(links, sources, root, session=session, concurrency=concurrency, retry_failed=retry_failed,
                          progress=progress, report_path=report_path, state=state)
    finally:
        state.close()  # also when the lock was refused (closing twice is harmless)


def _crawl(links: list[Link], sources: list[Source], root: Path, *, session: PoliteSession, concurrency: int,
           retry_failed: bool, progress: bool, report_path: Path | None, state: StateBackend) -> Report:
    from tqdm import tqdm

    store = RecordStore(paths.dataset_dir(root))
    report = Report([s.name for s in sources], len(links), time.time(), store=str(store.directory), state_db=str(state.path))
    report_path = Path(report_path) if report_path else root / REPORT_FILE
    per_source: dict[str, Counter] = {s.name: Counter() for s in sources}
    health = SourceHealth([s.name for s in sources])
    this_run: Counter = Counter()
    no_answer: dict[str, str | None] = {}  # ids of this run that failed for a source's silence
    stop_message: str | None = None
    stop = threading.Event()

    def settle(outcome: Outcome) -> None:
        """Record one finished id: its state, the counts, and the sources' health."""
        status = outcome.status
        if status == "error" and outcome.unavailable and stop.is_set():
            status = "blocked"  # failed because a source was going away: ask again on a rerun
        state.set(outcome.imdb_id, status, outcome.error, outcome.sources, commit=False)
        this_run[status] += 1
        if status == "error" and outcome.unavailable:
            no_answer[outcome.imdb_id] = outcome.error
        for name in outcome.found_by:
            per_source[name]["found"] += 1
        for name in outcome.not_found_by:
            per_source[name]["not found"] += 1
        for name in outcome.failed_at:
            per_source[name]["errors"] += 1
        if status == "done":
            for name in outcome.sources:
                per_source[name]["in records"] += 1
        failing = health.record(outcome)
        if failing:
            stop_now(failing)

    def stop_now(message: str) -> None:
        """Stop queued ids from starting. The ids of this run that failed because a source
        gave no answer are set back to ``blocked``: now that the source is known to refuse
        or fail, they are asked again on a rerun (not only with ``--retry-failed``)."""
        nonlocal stop_message
        stop_message = stop_message or message
        stop.set()
        for imdb_id, error in no_answer.items():
            state.set(imdb_id, "blocked", error, attempted=False, commit=False)
        this_run["error"] -= len(no_answer)
        this_run["blocked"] += len(no_answer)
        no_answer.clear()

    try:
        state.add(links)
        ids = [link.imdb_id for link in links]
        statuses = state.statuses(ids)
        # A record on disk is complete (the store writes its JSON last): if the process
        # died before the state row said so, say so now instead of fetching it again.
        for imdb_id, status in statuses.items():
            if status != "done" and imdb_id in store:
                state.set(imdb_id, "done", attempted=False)
                statuses[imdb_id] = "done"
        wanted = {"pending", "blocked"} | ({"error"} if retry_failed else set())
        todo = [link for link in links if statuses.get(link.imdb_id) in wanted]
        report.skipped_done = sum(1 for status in statuses.values() if status in FINAL_STATUSES)
        try:
            for source in sources:
                source.prepare(session, root, progress)
        except StoppedEarly as error:  # a download the source needs was refused
            stop_message = str(error)
            todo = []

        def work(link: Link) -> Outcome | None:
            if stop.is_set():
                return None
            try:
                return crawl_one(link, sources, session, store)
            except StoppedEarly:
                stop.set()  # at once: queued ids must not knock on a closed door
                raise

        bar = tqdm(total=len(todo), unit="movie", desc="fetch", file=sys.stderr, disable=not progress, smoothing=0.05)
        pending = state.claims(todo, store, retry_failed) if todo else iter(())
        in_flight: dict[Future, Link] = {}
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
            try:
                while True:
                    while not stop.is_set() and len(in_flight) < concurrency * 2:
                        link = next(pending, None)
                        if link is None:
                            break
                        in_flight[pool.submit(work, link)] = link
                    if not in_flight:
                        break
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        link = in_flight.pop(future)
                        try:
                            outcome = future.result()
                        except StoppedEarly as error:  # blocked, a refused key, rate-limited
                            state.set(link.imdb_id, "blocked", str(error))
                            this_run["blocked"] += 1
                            stop_now(str(error))
                            continue
                        except MmimdbError as error:  # a usage error from a source, a full disk
                            stop_message = stop_message or str(error)
                            stop.set()
                            state.set(link.imdb_id, "pending", str(error), attempted=False)
                            raise
                        if outcome is None:
                            continue
                        settle(outcome)
                        bar.update(1)
                        bar.set_postfix_str(f"done={this_run['done']} no-poster={this_run['no-poster']} not-found={this_run['not-found']} error={this_run['error']}", refresh=False)
            except KeyboardInterrupt:
                stop.set()
                stop_message = "interrupted"
                for future in in_flight:
                    future.cancel()
                for future, link in in_flight.items():
                    if future.cancelled():
                        continue
                    try:
                        outcome = future.result()
                    except Exception:
                        continue
                    if outcome is not None:
                        settle(outcome)
            finally:
                bar.close()
                state.commit()
    finally:
        for source in sources:
            source.close()
        report.finished = time.time()
        report.this_run = {status: this_run.get(status, 0) for status in STATUSES if status != "pending"}
        report.state = state.counts([link.imdb_id for link in links])
        report.per_source = {name: dict(counts) for name, counts in per_source.items()}
        report.top_errors = state.top_errors([link.imdb_id for link in links])
        report.stopped = stop_message
        state.close()
        write_json(report_path, report.to_json())
    if stop_message:
        if stop_message == "interrupted":
            stop_message = f"interrupted; everything fetched is kept ({report_path}); rerun the same command to resume"
        stopped = StoppedEarly(stop_message)
        stopped.report = report  # type: ignore[attr-defined]  # the command line prints its summary
        raise stopped
    return report
