"""A loopback stand-in for the Hugging Face Hub's dataset endpoints, as huggingface_hub's
``dataset_info`` and ``snapshot_download`` call them (point ``HF_ENDPOINT`` at it):
``/api/datasets/<repo>`` (the file list, ``blobs=true``), ``/api/datasets/<repo>/tree/<sha>``,
and ``/datasets/<repo>/resolve/<sha>/<path>`` (HEAD and GET). Serves the files of a folder;
``claimed`` adds files that the list says exist with a size but that are never served."""
from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from loopback import ServerThread

COMMIT = "c0ffee" + "0" * 34


def hub_server(repo: str, folder: Path, claimed: dict[str, int] | None = None, log: list | None = None) -> ServerThread:
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    sizes = {**{name: len(data) for name, data in files.items()}, **(claimed or {})}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _answer(self) -> None:
            if log is not None:
                log.append((self.command, self.path))
            path = self.path.split("?")[0]
            resolve = f"/datasets/{repo}/resolve/{COMMIT}/"
            if path.startswith(f"/api/datasets/{repo}/tree/"):
                tree = [{"type": "file", "path": name, "size": size, "oid": hashlib.sha1(name.encode()).hexdigest()}
                        for name, size in sizes.items()]
                return self._reply(200, {"Content-Type": "application/json"}, json.dumps(tree).encode())
            if path in (f"/api/datasets/{repo}", f"/api/datasets/{repo}/revision/main"):
                info = {"id": repo, "sha": COMMIT, "siblings": [{"rfilename": n, "size": s} for n, s in sizes.items()]}
                return self._reply(200, {"Content-Type": "application/json"}, json.dumps(info).encode())
            if path.startswith(resolve) and path[len(resolve):] in files:
                data = files[path[len(resolve):]]
                return self._reply(200, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}, data)
            return self._reply(404, {}, b"")

        do_GET = do_HEAD = _answer

    return ServerThread(Handler)
