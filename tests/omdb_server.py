"""A loopback OMDb-style server answering from the real greatest-films values and posters.

``GET /?i=tt...&apikey=KEY`` answers the film's values as OMDb's JSON (the CSV has OMDb's
own fields), with ``Poster`` pointing at ``/posters/<id>.jpg`` on this server; other ids get
``{"Response": "False", "Error": "Movie not found!"}`` as OMDb does. ``--latency`` delays
every answer (for the speed benchmark). Run as a script it prints its base URL on stdout.
Only ever binds 127.0.0.1. Without ../shared, :func:`generated` gives the same server's
answers for generated films (tests/generated_films.py).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CSV_RELATIVE = "greatest-films/master_list_greatest_films.csv"
API_KEY = "test-key"
#: CSV column -> OMDb JSON key.
OMDB_KEYS = {
    "title": "Title", "year": "Year", "rated": "Rated", "released": "Released", "runtime": "Runtime",
    "genre": "Genre", "director": "Director", "writer": "Writer", "actors": "Actors", "plot": "Plot",
    "language": "Language", "country": "Country", "awards": "Awards", "metascore": "Metascore",
    "imdb_rating": "imdbRating", "imdb_votes": "imdbVotes",
}


def load_films(shared: Path) -> dict[str, dict[str, str]]:
    """imdb_id -> OMDb JSON object (without the Poster URL), first row of each id."""
    films: dict[str, dict[str, str]] = {}
    with open(shared / CSV_RELATIVE, encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["imdb_id"] in films:
                continue
            answer = {key: (row[column].strip() or "N/A") for column, key in OMDB_KEYS.items()}
            answer.update({"imdbID": row["imdb_id"], "Type": "movie", "Response": "True"})
            answer["Poster"] = "N/A" if row["poster"].strip() in ("", "N/A") else "POSTER"
            films[row["imdb_id"]] = answer
    return films


def generated(count: int) -> tuple[dict[str, dict[str, str]], dict[str, bytes]]:
    """OMDb answers and poster JPEGs of ``count`` generated films (for :func:`make_handler`)."""
    import generated_films

    answers, posters = {}, {}
    for film in generated_films.films(count):
        imdb_id, data = film["imdb_id"], film["release_json"]
        answers[imdb_id] = {"Title": data["title"], "Year": str(data["year"]), "Genre": ", ".join(film["genres"]),
                            "Plot": film["plot"], "imdbID": imdb_id, "Type": "movie", "Response": "True", "Poster": "POSTER"}
        posters[imdb_id] = film["poster"]
    return answers, posters


#: Behaviours a test can give one id (or every request: the key ``"*"``): how the server
#: misbehaves for it.
FAULTS = ("429-once", "429", "500", "500-twice", "slow", "truncated-poster", "text-poster",
          "foreign-poster", "limit", "blocked", "poster-403")


def make_handler(shared: Path | None, latency: float = 0.0, poster_base: str | None = None,
                 faults: dict[str, str] | None = None, log: list[str] | None = None,
                 log_file: Path | None = None, films: tuple[dict, dict] | None = None):
    """The request handler class. ``faults`` maps ids to one of :data:`FAULTS`; every
    request's path is appended to ``log`` and/or ``log_file``. ``films`` (answers, poster
    bytes; see :func:`generated`) replaces the greatest films of ``shared``."""
    if films is not None:
        films, poster_bytes = films
    else:
        films, poster_bytes = load_films(shared), None
    posters = shared / "greatest-films" / "posters" if shared is not None else Path("/nonexistent")
    faults = faults if faults is not None else {}  # the caller may change it between runs
    seen: dict[str, int] = {}
    lock = threading.Lock()
    log_handle = open(log_file, "a", buffering=1) if log_file else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API server
        # Headers and body in one segment: otherwise Nagle + delayed ACK add ~40 ms a request.
        disable_nagle_algorithm = True
        wbufsize = 256 * 1024

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            key = query.get("i", [Path(parts.path).stem])[0]
            with lock:
                seen[self.path] = seen.get(self.path, 0) + 1
                count = seen[self.path]
                if log is not None:
                    log.append(self.path)
                if log_handle is not None:
                    log_handle.write(parts.path + " " + key + "\n")
            fault = faults.get(key) or faults.get("*")
            if fault == "blocked":
                self._send(202, b"", "text/html")
                return
            if fault == "429" or (fault == "429-once" and count == 1):
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if fault == "500" or (fault == "500-twice" and count <= 2):
                self._send(500, b"internal error", "text/plain")
                return
            if fault == "slow":
                time.sleep(3)
            if fault == "limit":
                self._send(200, json.dumps({"Response": "False", "Error": "Request limit reached!"}).encode(), "application/json")
                return
            if parts.path.startswith("/posters/"):
                path = posters / Path(parts.path).name
                if poster_bytes is not None and key in poster_bytes:
                    path = _Bytes(poster_bytes[key])
                if fault == "poster-403":
                    self._send(403, b"AccessDenied", "text/plain")
                elif fault == "text-poster":
                    self._send(200, b"<html>this is not an image</html>", "image/jpeg")
                elif fault == "truncated-poster" and path.is_file():
                    data = path.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif path.is_file():
                    self._send(200, path.read_bytes(), "image/jpeg")
                else:
                    self._send(404, b"not found", "text/plain")
                return
            if query.get("apikey", [""])[0] != API_KEY:
                self._send(401, json.dumps({"Response": "False", "Error": "Invalid API key!"}).encode(), "application/json")
                return
            imdb_id = query.get("i", [""])[0]
            film = films.get(imdb_id)
            if film is None:
                answer = {"Response": "False", "Error": "Movie not found!"}
            else:
                answer = dict(film)
                if answer["Poster"] == "POSTER":
                    base = poster_base or f"http://127.0.0.1:{self.server.server_address[1]}"
                    if fault == "foreign-poster":
                        base = "http://posters.example.net"
                    answer["Poster"] = f"{base}/posters/{imdb_id}.jpg"
            self._send(200, json.dumps(answer).encode("utf-8"), "application/json; charset=utf-8")

    return Handler


class _Bytes:
    """Poster bytes held in memory, read like a poster file."""

    def __init__(self, data: bytes):
        self.data = data

    def is_file(self) -> bool:
        return True

    def read_bytes(self) -> bytes:
        return self.data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("shared", type=Path, help="the shared/data folder")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--log", type=Path, default=None, help="append 'path id' of every request to this file")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args.shared, args.latency, log_file=args.log))
    server.daemon_threads = True
    server.request_queue_size = 128
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
