"""Where the app writes files, and how much a client may send.

Nothing a client sends becomes a path. Gradio's session id is client text (a crafted id such as
`..` once deleted the server's whole temp folder through the unload handler), so:
- a session is known by `session_token(session_hash)`: a keyed hash (HMAC-SHA256 with a key
  made at server start) cut to 32 hex characters; every per-session folder is named by it;
- every folder and file is resolved and must lie strictly inside the app's own folder, which
  the app creates at start (`<tmp>/gan-lab-XXXXXXXX/`) and removes at shutdown;
- download file names are built from validated values only and must match SAFE_NAME.

Uploads: Gradio keeps every uploaded file in its cache folder. The app deletes an upload as soon
as its handler has read it, Blocks' `delete_cache` removes unused ones after CACHE_AGE_S, and
`CacheJanitor` deletes the oldest files whenever the cache grows past its byte cap.
`BodyLimit` refuses requests larger than the app can use (uploads: the largest file the app
accepts; everything else: MAX_REQUEST_BYTES) before gradio reads them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

log = logging.getLogger("gan_lab.ui")

# A server-made key: tokens cannot be predicted or reversed, and differ between restarts.
_KEY = secrets.token_bytes(32)
TOKEN = re.compile(r"[0-9a-f]{32}")
# Download names: letters, digits, '-', '_' and one extension. Built from validated values.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}\.[a-z]{2,12}")
# Requests other than file uploads carry control values and at most a pasted config JSON
# (64 KiB): 1 MiB is far above anything the page sends.
MAX_REQUEST_BYTES = 1024 * 1024
# Multipart framing around an upload's bytes.
UPLOAD_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")


def session_token(session_hash: str | None) -> str:
    """The name the server uses for a browser session (see the module docstring)."""
    raw = (session_hash or "").encode("utf-8", "surrogatepass")
    return hmac.new(_KEY, raw, hashlib.sha256).hexdigest()[:32]


def _inside(path: Path, root: Path) -> bool:
    """True when `path` (resolved) lies strictly inside `root` (resolved)."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return rel != Path(".")


class AppFiles:
    """The app's own temp folder: `root/exports/<session token>/<download>`."""

    def __init__(self, parent: str | os.PathLike | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="gan-lab-", dir=parent)).resolve()
        self.exports = self.root / "exports"
        self.exports.mkdir(mode=0o700)
        self._lock = threading.Lock()

    def session_dir(self, token: str) -> Path:
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise ValueError("not a session token")
        d = self.exports / token
        if not _inside(d, self.exports):
            raise ValueError("session folder outside the export folder")
        return d

    def write(self, token: str, name: str, data: bytes) -> Path:
        """Write a download for a session, replacing its previous one (gradio has copied that
        into its own cache by the time the next request of this session runs)."""
        if not SAFE_NAME.fullmatch(name):
            raise ValueError(f"unsafe download name {name[:40]!r}")
        with self._lock:
            d = self.session_dir(token)
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(mode=0o700)
            path = d / name
            if path.resolve().parent != d.resolve():
                raise ValueError("download path outside its session folder")
            tmp = d / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)
            return path

    def drop(self, token: str) -> None:
        """Forget a session's downloads (its tab closed)."""
        try:
            d = self.session_dir(token)
        except ValueError:
            return
        with self._lock:
            shutil.rmtree(d, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def discard_upload(path: str | os.PathLike | None, cache_dir: str | os.PathLike) -> bool:
    """Delete an uploaded file once its handler has read it, and its folder when that is now
    empty. Only files strictly inside gradio's cache folder are touched. True when deleted."""
    if not path:
        return False
    p, cache = Path(path), Path(cache_dir)
    if not _inside(p, cache) or not p.is_file():
        return False
    try:
        p.unlink()
        parent = p.resolve().parent
        if parent != cache.resolve() and _inside(parent, cache) and not any(parent.iterdir()):
            parent.rmdir()
    except OSError:
        return False
    return True


class CacheJanitor:
    """Keeps gradio's cache folder (and `also`: the app's downloads folder, whose files gradio
    has copied into its cache by the time a download's request ends) under `max_bytes` in all:
    every `interval_s` it sums the files and deletes the oldest until the total fits. A
    thread; `stop()` ends it."""

    def __init__(self, cache_dir: str | os.PathLike, max_bytes: int, interval_s: float = 30.0,
                 also: tuple = ()):
        self.cache_dir = Path(cache_dir)
        self.dirs = [self.cache_dir, *map(Path, also)]
        self.max_bytes = int(max_bytes)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gan-lab-cache-janitor",
                                        daemon=True)

    def start(self) -> CacheJanitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a janitor must never take the server down
                log.exception("cache janitor failed")

    def sweep(self) -> int:
        """Delete the oldest files until the cache fits; returns the bytes deleted."""
        files = []
        for dirpath, _dirs, names in (w for d in self.dirs if d.is_dir() for w in os.walk(d)):
            for n in names:
                p = Path(dirpath) / n
                try:
                    st = p.lstat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in files)
        freed = 0
        for _mtime, size, p in sorted(files):
            if total - freed <= self.max_bytes:
                break
            try:
                p.unlink()
                freed += size
            except OSError:
                pass
        return freed


class BodyLimit:
    """ASGI middleware: refuse a request body larger than the app can use, with 413, before the
    application reads it (by Content-Length, and by counting for chunked bodies)."""

    def __init__(self, app, max_upload_bytes: int, max_request_bytes: int = MAX_REQUEST_BYTES):
        self.app = app
        self.max_upload = int(max_upload_bytes) + UPLOAD_OVERHEAD_BYTES
        self.max_other = int(max_request_bytes)

    def _limit(self, path: str) -> int:
        return self.max_upload if path.rstrip("/").endswith(UPLOAD_PATHS) else self.max_other

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit(scope.get("path", ""))
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    return await _refuse(send, 400, "bad Content-Length")
                if n > limit:
                    return await _refuse(send, 413, f"request too large (limit {limit} bytes)")
        seen = 0
        over = False
        started = False

        async def counted_receive():
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg):
            nonlocal started
            if over and not started and msg["type"] == "http.response.start":
                started = True
                await _refuse(send, 413, f"request too large (limit {limit} bytes)")
                return
            if over and started:
                return
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if over and not started:
                await _refuse(send, 413, f"request too large (limit {limit} bytes)")
                return
            raise


async def _refuse(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

