"""kill -9 anywhere, with a longer K than CI's: each command SIGKILLed K times after a random
delay, rerun, then run to the end, on the small generated dataset (tests/kill_harness.py).

    python benchmarks/kill9.py --kills 10       # import, crawl (loopback OMDb), build, export (4 formats), missing, card, build-features
    python benchmarks/kill9.py --kills 5 --only build-features --image   # also the poster encoder (chunked resume)

Prints, per command, the kills made, the runs that ended before their kill, and whether the
last run's outputs equal an uninterrupted run's (byte for byte where promised); exit 1 if any
check failed.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import generated_dataset  # noqa: E402
import kill_harness  # noqa: E402
from machine import load_average  # noqa: E402

COMMANDS = {
    # The import's report and the crawl's state say what this run did: whole and verified.
    "import": (["fetch", "--from-archive", "ARCHIVE", "--no-progress"], False),
    "crawl": (["fetch", "--movielens", "LINKS", "--source", "omdb", "--omdb-key", "test-key", "--omdb-url", "URL",
               "--rate", "0", "--no-progress"], False),
    "build": (["build", "--workers", "1"], True),
    "export-jsonl": (["export", "--format", "jsonl"], True),
    "export-mmf": (["export", "--format", "mmf"], True),
    "export-arrow": (["export", "--format", "arrow"], True),
    "export-hdf5": (["export", "--format", "hdf5"], True),
    "missing": (["missing", "--rate", "0.7", "--seed", "3"], True),
    "card": (["card"], True),
    # Feature entries carry the time they were built: whole and verified, not byte-identical.
    "build-features": (["build-features", "--only", "three_grams,word_grams,sequences", "--no-progress"], False),
}
IMAGE = ["build-features", "--text", "glove-50", "--image", "efficientnet-lite0", "--only", "image", "--device", "cpu",
         "--workers", "0", "--chunk-rows", "16", "--no-progress"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per command before the last run (default 10).")
    parser.add_argument("--only", default="", help="Only the commands whose name contains this.")
    parser.add_argument("--image", action="store_true", help="Also build-features with the EfficientNet poster encoder.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    commands = {name: spec for name, spec in COMMANDS.items() if args.only in name}
    if args.image:
        commands["build-features-image"] = (IMAGE, False)
    work = Path(tempfile.mkdtemp(prefix="kill9-"))
    print(f"kill -9, {args.kills} kills per command; {load_average()}", flush=True)
    failed = 0
    launcher = kill_harness.Launcher()
    from loopback import ServerThread
    from omdb_server import generated, make_handler

    films = generated(40)
    server = ServerThread(make_handler(None, latency=0.01, films=films)).__enter__()
    try:
        records = generated_dataset.write_store(work / "records")
        built = generated_dataset.built_root(work / "built")
        empty = work / "empty"
        empty.mkdir()
        archive = work / "mmimdb.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for member in sorted((records / "dataset").iterdir()):
                tar.add(member, f"mmimdb/dataset/{member.name}")
        links = work / "links.csv"
        links.write_text("movieId,imdbId,tmdbId\n" + "".join(f"{n},{imdb_id[2:]},\n" for n, imdb_id in enumerate(films[0], 1)))
        fill = {"ARCHIVE": str(archive), "LINKS": str(links), "URL": server.url}
        for index, (name, (command, deterministic)) in enumerate(commands.items()):
            command = [fill.get(arg, arg) for arg in command]
            source = empty if name in ("import", "crawl") else records if name == "build" else built
            root = kill_harness.fresh_copy(source, work / f"{name}-root")
            before = kill_harness.snapshot(root)
            started = time.monotonic()
            reference, took = kill_harness.reference_run(launcher, [*command, "--root", str(root)], root)
            shutil.rmtree(root)
            kill_harness.fresh_copy(source, root)
            try:
                report = kill_harness.kill_and_rerun(launcher, [*command, "--root", str(root)], root, reference, before,
                                                     kills=args.kills, longest=took, rng=random.Random(args.seed + index),
                                                     deterministic=deterministic, verified=name not in ("import", "crawl"))
                verdict = "equal, byte for byte" if deterministic else "whole and verified"
            except AssertionError as error:
                failed += 1
                report, verdict = None, f"FAILED: {str(error).splitlines()[0]}"
            kills = f"{report.kills} kills, {report.finished_before_kill} ended first" if report else ""
            print(f"{name:22s} {kills:28s} {verdict}  ({time.monotonic() - started:.0f} s; one run {took:.1f} s)", flush=True)
    finally:
        server.__exit__(None, None, None)
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(commands) - failed} of {len(commands)} commands passed; {load_average()}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
