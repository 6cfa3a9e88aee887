"""Whether a source keeps failing: the crawl stops a source that gives no answer for several
ids in a row, instead of knocking on a closed door for every remaining id.

Answers that refuse the crawl outright (a firewall's 202 with an empty body, 403, 401, 429
after the retries) stop it at the first one (:class:`~mmimdb.fetch.sources.base.SourceStopped`).
What may be one bad moment (a 5xx after the retries, a lost connection, a host that does not
resolve, a poster host that refuses one image) fails only that id; :class:`SourceHealth`
counts such ids per source, and any answer from the source resets its count. At
:data:`STOP_AFTER` ids in a row the crawl stops (exit 3); the engine sets the ids that failed
that way back to ``blocked``, so that a rerun asks for them again.

>>> health = SourceHealth(["omdb"], stop_after=2)
>>> from mmimdb.fetch.crawl.pipeline import Outcome
>>> health.record(Outcome("tt0000001", "error", unavailable={"omdb": "omdb: HTTP 503"})) is None
True
>>> health.record(Outcome("tt0000002", "error", unavailable={"omdb": "omdb: HTTP 503"}))
'omdb keeps failing: 2 ids in a row got no answer (last: omdb: HTTP 503); everything fetched is kept; rerun the same command to resume'
"""
from __future__ import annotations

from ..sources.base import NEXT_STEP
from .pipeline import Outcome

#: Ids in a row without an answer from a source before the crawl stops. With the session's
#: retries (4 by default) that is about 25 requests: "within a few dozen requests".
STOP_AFTER = 5


class SourceHealth:
    """Per source, how many ids in a row it gave no answer for, and what happened last."""

    def __init__(self, names: list[str], stop_after: int = STOP_AFTER):
        self.stop_after = max(1, stop_after)
        self.streaks: dict[str, int] = {name: 0 for name in names}
        self.last: dict[str, str] = {}

    def record(self, outcome: Outcome) -> str | None:
        """Count ``outcome``; the stop message when a source has now failed
        :attr:`stop_after` ids in a row, else None."""
        for name in outcome.answered:
            if name not in outcome.unavailable:
                self.streaks[name] = 0
        for name, message in outcome.unavailable.items():
            self.streaks[name] = self.streaks.get(name, 0) + 1
            self.last[name] = message
        for name, streak in self.streaks.items():
            if streak >= self.stop_after:
                return (f"{name} keeps failing: {streak} ids in a row got no answer "
                        f"(last: {self.last[name]}); {NEXT_STEP}")
        return None
