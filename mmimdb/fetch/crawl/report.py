"""What a crawl did: counts, per-source figures, top errors, why it stopped."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

REPORT_FILE = "fetch-report.json"
#: The command that turns the records store into the dataset (splits, Parquet, HDF5).
BUILD_COMMAND = "mmimdb build"


@dataclass
class Report:
    """What a crawl did: counts, per-source figures, top errors, why it stopped."""

    sources: list[str]
    ids: int
    started: float
    finished: float = 0.0
    this_run: dict[str, int] = field(default_factory=dict)
    state: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    top_errors: list[tuple[str, int]] = field(default_factory=list)
    skipped_done: int = 0
    stopped: str | None = None
    store: str = ""
    state_db: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "ids": self.ids,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(self.finished - self.started, 3),
            "this_run": self.this_run,
            "state": self.state,
            "already_final_before_this_run": self.skipped_done,
            "per_source": self.per_source,
            "top_errors": [{"message": message, "count": count} for message, count in self.top_errors],
            "stopped": self.stopped,
            "records_store": self.store,
            "state_db": self.state_db,
            "next": f"{BUILD_COMMAND} builds the dataset (splits, Parquet, HDF5) from the records store",
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            "fetch: " + ", ".join(f"{count} {status}" for status, count in self.state.items() if count) + f" (of {self.ids} ids)",
            "this run: " + (", ".join(f"{count} {status}" for status, count in self.this_run.items() if count) or "nothing to do")
            + f" in {self.finished - self.started:.1f} s",
        ]
        for name, figures in self.per_source.items():
            lines.append(f"  {name}: " + ", ".join(f"{count} {what}" for what, count in figures.items()))
        for message, count in self.top_errors:
            lines.append(f"  {count} x {message}")
        return "\n".join(lines)

