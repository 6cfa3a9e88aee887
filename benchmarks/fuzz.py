"""Fuzz every parser of outside data for as long as asked (tests/fuzzing.py has the targets).

    python benchmarks/fuzz.py --minutes 10            # all parsers, the time shared equally
    python benchmarks/fuzz.py --minutes 2 --only omdb # the parsers whose name contains 'omdb'

Each parser runs rounds of hypothesis examples (a new seed each round) until its share of
the time is spent; a failing round is shrunk to its smallest example and reported. Prints,
per parser, the examples tried and the failures found (exit 1 if any), with the load average.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import fuzzing  # noqa: E402
from machine import load_average  # noqa: E402

ROUND = 200


def _where(error: BaseException) -> str:
    """The innermost frame in mmimdb/ of ``error`` (where the bug is), else the innermost."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/mmimdb/" in frame.filename] or frames
    frame = ours[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _failures(error: BaseException) -> list[BaseException]:
    return list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]


def fuzz(target: fuzzing.Target, seconds: float, first_seed: int) -> list[str]:
    found: list[str] = []
    deadline = time.monotonic() + seconds
    seed = first_seed
    while time.monotonic() < deadline:
        try:
            target.property(ROUND, seed=seed)()
        except Exception as error:  # a failing round: hypothesis raises the shrunk example's error
            for failure in _failures(error):
                line = f"{type(failure).__name__} at {_where(failure)}: {str(failure).splitlines()[0][:160] if str(failure) else ''}"
                if line not in found:
                    found.append(line)
        seed += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="Total time, shared by the parsers (default 1).")
    parser.add_argument("--only", default="", help="Only the parsers whose name contains this (case-insensitive).")
    parser.add_argument("--seed", type=int, default=0, help="First hypothesis seed (default 0).")
    args = parser.parse_args()
    targets = [t for t in fuzzing.TARGETS if args.only.lower() in t.name.lower()]
    if not targets:
        raise SystemExit(f"error: no parser matches --only {args.only!r}")
    print(f"fuzzing {len(targets)} parsers for {args.minutes:g} min; {load_average()}", flush=True)
    share = args.minutes * 60 / len(targets)
    total = 0
    for target in targets:
        started = time.monotonic()
        failures = fuzz(target, share, args.seed)
        total += len(failures)
        print(f"{target.name:52s} {target.tried:>8} examples  {len(failures)} failures  "
              f"({target.tried / (time.monotonic() - started):.0f}/s)", flush=True)
        for failure in failures:
            print(f"    {failure}", flush=True)
    print(f"{sum(t.tried for t in targets)} examples, {total} failures; {load_average()}")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
