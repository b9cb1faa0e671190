"""A local stand-in for the HuggingFace hub's file routes, for download tests (127.0.0.1 only).

Answers HEAD and GET on /{repo}/resolve/{revision}/{path} the way huggingface.co does:
* a small (git) file: 200 with Content-Length, ETag = its git blob hash, X-Repo-Commit;
* a large (LFS) file (.pth, .bin, .safetensors): 302 to the file store (/store/<sha256>) with
  X-Linked-Size, X-Linked-Etag = its sha256, X-Repo-Commit; the store answers 200 with the bytes;
* anything else: 404 with X-Error-Code: EntryNotFound.
Every request is recorded in `requests` ("METHOD /path"), so a test can check what was asked.
`rate` (bytes per second) slows the bytes down, so that a download can be stopped half-way.

As a script (for a real ComfyUI with HF_ENDPOINT=http://127.0.0.1:PORT), serving FloatKit's tiny
rule-made weights under the real names:
    python tests/hub_server.py --port 8299 [--rate 2000000] [--tiny-dir /tmp/tiny]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".pth", ".bin", ".safetensors")


class Hub:
    """Files by (repo, path), served from 127.0.0.1 on a free port; use as a context manager."""

    def __init__(self, files: dict[tuple[str, str], bytes | Path], rate: float | None = None, port: int = 0):
        self.files = files
        self.rate = rate
        self.tamper = None  # a function changing the bytes sent (not the hashes announced), for tests
        self.requests: list[str] = []
        self._hashes: dict[tuple[str, str], tuple[str, str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "Hub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def size(self, key: tuple[str, str]) -> int:
        value = self.files[key]
        return len(value) if isinstance(value, bytes) else Path(value).stat().st_size

    def chunks(self, key: tuple[str, str], step: int = 1 << 20):
        """The file's bytes, read a piece at a time (the tiny weights are a few hundred MB)."""
        value = self.files[key]
        if isinstance(value, bytes):
            yield from (value[i:i + step] for i in range(0, len(value), step))
            return
        with open(value, "rb") as f:
            while piece := f.read(step):
                yield piece

    def hashes(self, key: tuple[str, str]) -> tuple[str, str]:
        """(git blob sha1, sha256) of a file, computed once."""
        if key not in self._hashes:
            git, sha = hashlib.sha1(b"blob %d\0" % self.size(key)), hashlib.sha256()
            for piece in self.chunks(key):
                git.update(piece)
                sha.update(piece)
            self._hashes[key] = (git.hexdigest(), sha.hexdigest())
        return self._hashes[key]


def _handler(hub: Hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the test reads hub.requests
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = urlparse(self.path).path
            hub.requests.append(f"{self.command} {path}")
            if path.startswith("/store/"):
                key = next((k for k in hub.files if hub.hashes(k)[1] == path[len("/store/"):]), None)
                return self._send_file(key, body) if key else self._missing()
            parts = unquote(path).lstrip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return self._missing()
            key = (f"{parts[0]}/{parts[1]}", "/".join(parts[4:]))
            if key not in hub.files:
                return self._missing()
            git, sha = hub.hashes(key)
            if key[1].endswith(LFS_SUFFIXES):
                self.send_response(302)
                self.send_header("Location", f"{hub.url}/store/{sha}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Size", str(hub.size(key)))
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("ETag", f'"{git}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send_file(key, body, etag=git)

        def _send_file(self, key: tuple[str, str], body: bool, etag: str | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(hub.size(key)))
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{etag or hub.hashes(key)[1]}"')
            self.end_headers()
            if body:
                self._write(key)

        def _write(self, key: tuple[str, str]) -> None:
            step = 64 * 1024 if hub.rate else 1 << 20
            try:
                for piece in hub.chunks(key, step):
                    self.wfile.write(hub.tamper(piece) if hub.tamper else piece)
                    if hub.rate:
                        time.sleep(len(piece) / hub.rate)
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (cancel)
                self.close_connection = True

        def _missing(self) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def tiny_mirror(tiny_dir: Path) -> dict[tuple[str, str], Path]:
    """The tiny files under the names the table gives them in the mirror repository (float.pth, ...)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from float_models.app.download import MIRROR_REPO, MODEL_FILES

    sources = {"float.pth": tiny_dir / "float_tiny.pth"}
    return {(MIRROR_REPO, f.mirror_file): sources.get(f.mirror_file, tiny_dir / f.mirror_file) for f in MODEL_FILES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8299)
    parser.add_argument("--rate", type=float, default=None, help="bytes per second (default: as fast as it goes)")
    parser.add_argument("--tiny-dir", type=Path, default=Path("/tmp/floatkit-tiny-hub"))
    parser.add_argument("--log", type=Path, default=None, help="append every request here")
    args = parser.parse_args()
    if not (args.tiny_dir / "float_tiny.pth").is_file():
        from tiny_weights import write_tiny_files

        write_tiny_files(args.tiny_dir)
    hub = Hub(tiny_mirror(args.tiny_dir), rate=args.rate, port=args.port)
    with hub:
        print(f"serving {len(hub.files)} files at {hub.url}", flush=True)
        seen = 0
        try:
            while True:
                time.sleep(0.2)
                for line in hub.requests[seen:]:
                    print(line, flush=True)
                    if args.log:
                        with open(args.log, "a") as log:
                            log.write(line + "\n")
                seen = len(hub.requests)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
