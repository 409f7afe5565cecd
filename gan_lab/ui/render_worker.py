"""Figure rendering in a child process, so drawing never competes with training or serving for
the GIL.

Measured on a 2-core box: rendering the samples and weights figures in the server process while
a job trains cut training from ~155 to ~60 steps/s and made each frame ~3x slower, because both
are Python-heavy and share one interpreter lock. In a child process each gets its own core, and
the server process never imports matplotlib.

The child owns one gan_lab.plots.FigureRenderer per browser session (figures are reused
between frames) and answers "draw this snapshot" with encoded image bytes. It is started as
`python -m gan_lab.ui.render_worker` with a private socket and key, so it imports only the
plotting side of gan_lab. `RenderService(use_process=False)` (GAN_LAB_RENDER_PROCESS=0, or
when a child cannot start here) does the same work in-process.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import pickle
import secrets
import subprocess
import sys
import threading
from multiprocessing.connection import Client, Listener
from pathlib import Path

log = logging.getLogger("gan_lab.ui")

IMAGE_FORMAT = "webp"  # a fifth of PNG's bytes for the same encode time
MAX_SESSIONS = 64      # renderers kept in the child; the least recently used go first
START_TIMEOUT_S = 60.0
# Ops drawing one Snapshot (sent without its curves, weights as numpy); "overlay" and
# "tradeoff" get plain data of several runs.
SNAPSHOT_OPS = ("samples", "weights", "png")


def encode(fig) -> bytes:
    with io.BytesIO() as buf:
        fig.savefig(buf, format=IMAGE_FORMAT)
        return buf.getvalue()


def _portable(snap):
    """The snapshot minus what a renderer never reads (curves), with weights as numpy, so plain
    pickle carries it (torch's own reducers would try shared memory between processes)."""
    return dataclasses.replace(
        snap, history={}, metrics={},
        g_state={k: v.numpy() for k, v in (snap.g_state or {}).items()},
        d_state={k: v.numpy() for k, v in (snap.d_state or {}).items()})


def _restore(snap):
    import torch

    return dataclasses.replace(
        snap, g_state={k: torch.from_numpy(v) for k, v in snap.g_state.items()},
        d_state={k: torch.from_numpy(v) for k, v in snap.d_state.items()})


class _Store:
    """FigureRenderers by session key, least recently used dropped first."""

    def __init__(self):
        from ..lru import LRU

        self._r = LRU(MAX_SESSIONS)

    def get(self, key):
        r = self._r.get(key)
        if r is None:
            from .. import plots

            r = self._r[key] = plots.FigureRenderer()
        return r

    def drop(self, key):
        """Forget a session's renderers: `key` and its runs' ("A:key", "B:key")."""
        for k in [k for k in self._r if k == key or k.endswith(":" + key)]:
            del self._r[k]

    def __len__(self):
        return len(self._r)

    def draw(self, op: str, key: str, snap, opts: dict):
        """Image bytes; with opts["frame_side"] (an int) an (image bytes, RGB array) pair,
        the array being the same figure shrunk to at most frame_side pixels a side (a frame
        for the run's GIF, taken here so the server never draws a figure twice)."""
        opts = dict(opts)
        if op in ("overlay", "tradeoff"):   # several runs: `snap` is their data
            from ..plots import overlay

            fig = (overlay.overlay_figure(snap, lang=opts.get("lang", "en")) if op == "overlay"
                   else overlay.tradeoff_figure(snap, opts.get("field_label", "value"),
                                                lang=opts.get("lang", "en")))
            return encode(fig)
        if op == "png":   # the samples download: a full-size PNG, all overlays on
            from ..exports import samples_png

            return samples_png(snap)
        frame_side = opts.pop("frame_side", None)
        r = self.get(key)
        fig = r.samples(snap, **opts) if op == "samples" else r.weights(snap, **opts)
        image = encode(fig)
        if frame_side is None:
            return image
        from .. import plots
        from ..exports import downscale

        return image, downscale(plots.figure_to_array(fig), int(frame_side))


class RenderService:
    """Thread-safe front: `draw(op, key, snap, **opts) -> image bytes` (op: "samples",
    "weights", or "png" for the samples download; with frame_side=N: (image bytes,
    H x W x 3 uint8 array), see _Store.draw), `drop(key)`."""

    def __init__(self, use_process: bool | None = None, timeout_s: float = 30.0,
                 nice: int = 0):
        if use_process is None:
            from .. import settings

            use_process = settings.get("GAN_LAB_RENDER_PROCESS")
        self.use_process = use_process
        self.timeout_s = timeout_s
        # Pictures share the cores with training (the same niceness as the workers), so the
        # server process, which answers the clicks, comes first.
        self.nice = nice
        self._lock = threading.Lock()
        self._local = _Store()
        self._proc: subprocess.Popen | None = None
        self._conn = None

    # --- child management ----------------------------------------------------------------------
    def _start(self) -> None:
        key = secrets.token_bytes(32)
        with Listener(("127.0.0.1", 0), authkey=key) as listener:
            root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join(
                       p for p in (root, os.environ.get("PYTHONPATH")) if p)}
            host, port = listener.address
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gan_lab.ui.render_worker", host, str(port)],
                stdin=subprocess.PIPE, env=env,
                preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None)
            self._proc.stdin.write(key.hex().encode() + b"\n")
            self._proc.stdin.close()
            # Listener.accept has no timeout of its own; a child that dies before connecting
            # would hang the server's start.
            sock = getattr(getattr(listener, "_listener", None), "_socket", None)
            if sock is not None:
                sock.settimeout(START_TIMEOUT_S)
            self._conn = listener.accept()

    def _stop_child(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(timeout=5)
            self._proc = None

    def _request(self, msg) -> bytes | None:
        if self._conn is None:
            self._start()
        try:
            self._conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
            if not self._conn.poll(self.timeout_s):
                raise TimeoutError(f"the renderer gave no answer in {self.timeout_s:.0f} s")
            status, payload = pickle.loads(self._conn.recv_bytes())
        except (OSError, EOFError, TimeoutError):
            self._stop_child()  # the next call starts a fresh one
            raise
        if status == "err":
            raise RuntimeError(f"drawing failed: {payload}")
        return payload

    def start(self) -> None:
        """Start the child now (at server start) instead of on the first frame; fall back to
        in-process drawing when it cannot run here."""
        if not self.use_process:
            return
        with self._lock:
            try:
                self._start()
                self._request(("ping", "", None, None))
            except Exception as e:  # noqa: BLE001 - any failure means: draw in-process
                log.warning("render process unavailable (%s); drawing in the server process",
                            e)
                self._stop_child()
                self.use_process = False

    # --- API -----------------------------------------------------------------------------------
    def draw(self, op: str, key: str, snap, **opts):
        with self._lock:
            if not self.use_process:
                return self._local.draw(op, key, snap, opts)
            msg = (op, key, _portable(snap) if op in SNAPSHOT_OPS else snap, opts)
            try:
                return self._request(msg)
            except (OSError, EOFError):
                # The child died (killed, out of memory): one fresh child, one more try.
                log.warning("render process lost; starting a new one")
                return self._request(msg)

    def held(self) -> int:
        """Renderers (figures kept for a session's run) the drawing process holds now."""
        with self._lock:
            if not self.use_process:
                return len(self._local)
            return self._request(("ping", "", None, None))

    def drop(self, key: str) -> None:
        """Forget a session's figures (see _Store.drop)."""
        with self._lock:
            self._local.drop(key)
            if self.use_process and self._conn is not None:
                try:
                    self._request(("drop", key, None, None))
                except Exception:  # noqa: BLE001 - forgetting a figure must never fail a call
                    pass

    def close(self) -> None:
        with self._lock:
            self._stop_child()


def _serve(host: str, port: int) -> None:
    import torch

    torch.set_num_threads(1)
    key = bytes.fromhex(sys.stdin.readline().strip())
    conn = Client((host, port), authkey=key)
    store = _Store()
    while True:
        try:
            op, skey, snap, opts = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the server went away
        try:
            if op == "ping":
                out = len(store)
            elif op == "drop":
                store.drop(skey)
                out = None
            else:
                out = store.draw(op, skey, _restore(snap) if op in SNAPSHOT_OPS else snap,
                                 opts)
            conn.send_bytes(pickle.dumps(("ok", out), protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as e:  # noqa: BLE001 - report to the server, keep serving
            conn.send_bytes(pickle.dumps(("err", f"{type(e).__name__}: {e}")))


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]))
