"""Crawl at today's MovieLens scale with crawlers sharing one PostgreSQL queue.

87,585 ids (MovieLens 32M's count; ``--ids``) in a generated links.csv: the 1,178 greatest
films of ml-20m (real ids; the loopback OMDb-style server of ``tests/omdb_server.py``
answers them with their real values and posters, two requests a record) spread evenly
among generated ids from tt90000000 up, which it answers "Movie not found!" (one request
each). Every answer waits ``--latency`` (default 50 ms). A throwaway PostgreSQL server
(``tests/postgres_server.py``) holds the queue; 1, then 2 ``mmimdb fetch --state-url``
processes (``--concurrency`` each, no rate limit) work it from a fresh database and data
root, and the run ends when the last one exits.

The latency-bound ideal is crawlers x concurrency / (requests per id x latency) ids/s;
the ratio to it says whether the crawlers are waiting on the network, as they should, or
on something else (CPU, the database). On a 2-CPU machine the server, PostgreSQL and the
crawlers share the CPUs, so the ratio falls as the ideal rises.

    python benchmarks/crawl_scale.py [--shared-data ../shared/data] [--ids 87585] [--latency 0.05] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def write_links(path: Path, real: list, total: int) -> int:
    """``total`` links: ``real`` spread evenly among generated ids; returns the real count."""
    import csv

    step = max(1, total // max(1, len(real)))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "imdbId", "tmdbId"])
        real_iter = iter(real)
        written = 0
        for k in range(total):
            link = next(real_iter, None) if k % step == 0 else None
            if link is not None:
                writer.writerow([k + 1, link.imdb_id[2:], link.tmdb_id or ""])
                written += 1
            else:
                writer.writerow([k + 1, f"{90_000_000 + k}", ""])
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--ids", type=int, default=87_585, help="links to crawl (MovieLens 32M: 87,585)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every answer")
    parser.add_argument("--concurrency", type=int, default=8, help="movies in flight per crawler")
    parser.add_argument("--crawlers", default="1,2", help="crawler counts to measure, comma-separated")
    args = parser.parse_args()
    os.environ["MMIMDB_SHARED_DATA"] = args.shared_data

    from mmimdb import demo
    from mmimdb.fetch.movielens import read_links
    from loopback import ServerProcess
    from omdb_server import API_KEY
    from postgres_server import PostgresServer
    import psycopg

    complete = {row["imdb_id"] for row in demo.read_films() if demo.is_complete(row)}
    real = [link for link in read_links(Path(args.shared_data) / "ml-20m-links.csv") if link.imdb_id in complete]
    postgres = PostgresServer().start()
    try:
        with ServerProcess(Path(args.shared_data), "--latency", str(args.latency)) as server, \
                tempfile.TemporaryDirectory() as tmp:
            url = server.url
            links = Path(tmp) / "links.csv"
            with_records = write_links(links, real, args.ids)
            requests_per_id = (args.ids + with_records) / args.ids
            print(f"{args.ids} ids ({with_records} with a record and poster, the rest not found), loopback OMDb at {url}, "
                  f"latency {args.latency * 1000:.0f} ms, {requests_per_id:.3f} requests per id, concurrency "
                  f"{args.concurrency} per crawler; PostgreSQL {postgres.port}; {os.cpu_count()} CPUs, load average "
                  f"{os.getloadavg()[0]:.1f} (server, database and crawlers share them)")
            print(f"{'crawlers':>8} {'ids':>7} {'records':>7} {'seconds':>8} {'ids/s':>7} {'ideal/s':>8} {'ratio':>6}")
            for crawlers in [int(c) for c in args.crawlers.split(",")]:
                database = postgres.create_database(f"scale_{crawlers}")
                root = Path(tmp) / f"root-{crawlers}"
                command = [sys.executable, "-m", "mmimdb_cli.main", "fetch", "--movielens", str(links), "--source", "omdb",
                           "--omdb-key", API_KEY, "--omdb-url", url, "--rate", "0", "--concurrency", str(args.concurrency),
                           "--state-url", database, "--lease", "120", "--root", str(root), "--no-progress"]
                started = time.perf_counter()
                processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                             for _ in range(crawlers)]
                for process in processes:
                    _, stderr = process.communicate()
                    if process.returncode != 0:
                        raise SystemExit(f"a crawler failed ({process.returncode}): {stderr[-2000:]}")
                seconds = time.perf_counter() - started
                with psycopg.connect(database) as connection:
                    counts = dict(connection.execute("SELECT status, count(*) FROM mmimdb_crawl GROUP BY status").fetchall())
                finished = sum(counts.values())
                assert finished == args.ids and set(counts) <= {"done", "not-found"}, counts
                ideal = crawlers * args.concurrency / (requests_per_id * args.latency)
                rate = finished / seconds
                print(f"{crawlers:>8} {finished:>7} {counts.get('done', 0):>7} {seconds:>8.1f} {rate:>7.1f} {ideal:>8.1f} "
                      f"{rate / ideal:>6.2f}", flush=True)
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
