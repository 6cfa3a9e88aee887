"""Import speed of ``fetch --from-copy`` against the release import of the same films.

Builds the real greatest films (../shared/data), exports them as ViLT Arrow files and as
MMBT/transformers jsonl, imports each copy into a fresh root, and imports the release archive
of the same films in the same run as the baseline: records/s and the ratio to the archive.

    python benchmarks/copy_import_speed.py [--shared-data ../shared/data] [--films N]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from machine import load_average, run

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--films", type=int, default=None, help="Only the first N complete films.")
    args = parser.parse_args()
    os.environ["MMIMDB_SHARED_DATA"] = args.shared_data

    from mmimdb import demo
    from mmimdb.dataset.build import build
    from mmimdb.export import export
    from mmimdb.fetch.archive import import_release
    from mmimdb.fetch.copies import import_copy

    rows = [row for row in demo.read_films() if demo.is_complete(row)][: args.films]
    print(load_average(), "(before)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        archive = demo.write_archive(work / "archive", rows)
        start = time.perf_counter()
        report = import_release(archive, work / "built", progress=False)
        baseline = len(report.imported) / (time.perf_counter() - start)
        build(work / "built", method="original", workers=2)
        print(f"{'what':>28} {'records':>8} {'seconds':>8} {'records/s':>10} {'vs archive':>10}")
        print(f"{'archive (mmimdb.tar.gz)':>28} {len(report.imported):>8} {len(report.imported) / baseline:>8.2f} "
              f"{baseline:>10.1f} {1:>10.2f}")
        for format, text in (("arrow", "longest"), ("arrow", "all"), ("jsonl", "longest")):
            out = Path(export(format, root=work / "built", out=work / f"{format}-{text}", text=text)["out"])
            start = time.perf_counter()
            copied = import_copy(out, work / f"root-{format}-{text}", progress=False)
            seconds = time.perf_counter() - start
            rate = len(copied.imported) / seconds
            print(f"{f'{format} copy (--text {text})':>28} {len(copied.imported):>8} {seconds:>8.2f} {rate:>10.1f} "
                  f"{rate / baseline:>10.2f}")
    print(load_average(), "(after)")
    return 0


if __name__ == "__main__":
    run(main)
