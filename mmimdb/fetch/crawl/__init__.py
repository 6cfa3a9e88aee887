"""The crawl engine: MovieLens links in, complete records in the records store out.

For each IMDb id the engine asks every source (in the order given, which is the merge
priority), merges their partial records, downloads the first poster that decodes, and
writes record + poster to the :class:`~mmimdb.records.store.RecordStore`. Movies without a poster
are not written (as in the paper); their reason stays in the state database.

How the sources' records are merged, field by field, is said once, in :mod:`.pipeline`.

State: an SQLite database (WAL) at ``<root>/fetch-state.sqlite`` with one row per id:
status (``pending``, ``done``, ``no-poster``, ``not-found``, ``error``, ``blocked``),
attempts, last error, sources, timestamps. A rerun continues where the last one stopped:
``done``/``no-poster``/``not-found`` ids are never fetched again, ``blocked`` and
``pending`` ones are, ``error`` ones with ``retry_failed``. The store writes the poster
first and the JSON last, atomically, so a process killed at any moment leaves whole
records only; a record on disk whose state row was not yet updated counts as done.

Several crawlers (processes or machines) can share one id queue in PostgreSQL instead
(:mod:`.state_postgres`, ``mmimdb fetch --state-url postgresql://...``): each claims a
batch of ids at a time (``FOR UPDATE SKIP LOCKED``) under a lease that a dead crawler
stops renewing, so its ids go back to the queue.

Parts: :mod:`.state` (the SQLite state), :mod:`.state_postgres` (the shared queue), :mod:`.pipeline` (one id: sources, merge, poster,
write), :mod:`.engine` (the scheduler), :mod:`.report`.
"""
from .engine import crawl
from .pipeline import Outcome, crawl_one, describe, merge
from .report import BUILD_COMMAND, REPORT_FILE, Report
from .state import FINAL_STATUSES, STATE_FILE, STATUSES, StateBackend, StateDb, open_state, state_path

__all__ = ["crawl", "crawl_one", "merge", "describe", "Outcome", "Report", "StateDb", "StateBackend", "open_state", "state_path",
           "STATUSES", "FINAL_STATUSES", "STATE_FILE", "REPORT_FILE", "BUILD_COMMAND"]
