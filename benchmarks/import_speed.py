"""Import speed of the original-release importer (poster decode check included).

Builds archives in the release layout from the real greatest-films data (../shared/data)
with 100, 400 and 1,222 films, imports each into a fresh root, and prints records/s, so
that the growth with the number of records is visible (it should stay flat: linear cost).
It also times the poster check against a plain full decode in the same run.

    python benchmarks/import_speed.py [--shared-data ../shared/data]
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", default=str(HERE.parent.parent / "shared" / "data"))
    args = parser.parse_args()
    os.environ["MMIMDB_SHARED_DATA"] = args.shared_data

    from mmimdb import demo
    from mmimdb.fetch.archive import import_release
    from mmimdb.records.posters import check_poster

    rows = [row for row in demo.read_films() if demo.is_complete(row)]
    print(f"{'films':>6} {'archive MB':>10} {'seconds':>8} {'records/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (100, 400, len(rows)):
            work = Path(tmp) / str(count)
            archive = demo.write_archive(work, rows[:count])
            start = time.perf_counter()
            report = import_release(archive, work / "root", progress=False)
            seconds = time.perf_counter() - start
            assert len(report.imported) == count, report.to_json()["skipped"]
            print(f"{count:>6} {archive.stat().st_size / 1e6:>10.1f} {seconds:>8.2f} {count / seconds:>10.1f}")
        print(f"extrapolated full release (25,959 films): {25959 / (count / seconds) / 60:.1f} min")

    posters = [demo.poster_file(row["imdb_id"]).read_bytes() for row in rows]
    start = time.perf_counter()
    for data in posters:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    full = time.perf_counter() - start
    start = time.perf_counter()
    for data in posters:
        check_poster(data)
    draft = time.perf_counter() - start
    print(f"poster check: {len(posters) / draft:.0f} posters/s (draft-mode decode) vs "
          f"{len(posters) / full:.0f} posters/s (plain full decode): {full / draft:.2f}x")


if __name__ == "__main__":
    main()
