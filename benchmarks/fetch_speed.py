"""Crawl speed against a loopback OMDb-style server with an injected latency.

Serves the real greatest-films values and posters (../shared/data) from
``tests/omdb_server.py`` in its own process, every answer delayed by ``--latency``
(default 50 ms), and crawls the films that are in ml-20m with the real engine
(:func:`mmimdb.fetch.crawl.crawl`: state database, poster decode check, atomic record writes)
at concurrency 1, 4 and 16, with no rate limit. Each record takes two requests (the API
answer and the poster), so the ideal is ``concurrency / (2 x latency)`` records/s, i.e.
``concurrency / latency`` requests/s; the ratio to it says whether the crawler or the
network (in real use: the politeness limit) is the bottleneck. Target: >= 0.8 at 16.

    python benchmarks/fetch_speed.py [--shared-data ../shared/data] [--latency 0.05]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every answer")
    parser.add_argument("--seconds", type=float, default=4.0, help="about how long each ideal run lasts")
    args = parser.parse_args()
    os.environ["MMIMDB_SHARED_DATA"] = args.shared_data

    from mmimdb import demo
    from omdb_server import API_KEY
    from mmimdb.fetch.crawl import crawl
    from mmimdb.fetch.http import PoliteSession
    from mmimdb.fetch.movielens import read_links
    from mmimdb.fetch.sources.omdb import OmdbSource

    complete = {row["imdb_id"] for row in demo.read_films() if demo.is_complete(row)}
    links = [link for link in read_links(Path(args.shared_data) / "ml-20m-links.csv") if link.imdb_id in complete]
    server = subprocess.Popen([sys.executable, str(HERE.parent / "tests" / "omdb_server.py"), args.shared_data,
                               "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        print(f"loopback OMDb at {url}, latency {args.latency * 1000:.0f} ms, 2 requests per record; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (the server shares them)")
        print(f"{'concurrency':>11} {'records':>8} {'seconds':>8} {'records/s':>10} {'ideal/s':>8} {'ratio':>6}")
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in (1, 4, 16):
                ideal = concurrency / (2 * args.latency)
                count = min(len(links), max(20, int(ideal * args.seconds)))
                session = PoliteSession(rate=0, concurrency=concurrency, allow_private=True)
                start = time.perf_counter()
                report = crawl(links[:count], [OmdbSource(API_KEY, url)], Path(tmp) / str(concurrency),
                               session=session, concurrency=concurrency, progress=False)
                seconds = time.perf_counter() - start
                assert report.this_run["done"] == count, report.to_json()
                rate = count / seconds
                print(f"{concurrency:>11} {count:>8} {seconds:>8.2f} {rate:>10.1f} {ideal:>8.1f} {rate / ideal:>6.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
