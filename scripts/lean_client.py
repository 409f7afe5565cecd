"""A light simulated browser tab for scripts/load_test.py: the same requests as gradio_client,
a fraction of its CPU.

Why: the load test's sessions share the server's two cores, while real students' browsers
run on their own machines. gradio_client waits for each answer in a loop that wakes 20 times a
second and keeps a heartbeat stream and a thread pool per client: 30 of them took ~0.75 of the
two cores (~80 ms of CPU per poll, measured 2026-12-02) and crowded the very workers the test
measures. `LeanClient` sends what the page sends for one event (POST queue/join with the
event's inputs, then reads the session's SSE stream queue/data until that event is completed)
with http.client on one thread, so the server sees the same requests and does the same work.

The endpoints' inputs (their order, defaults and gr.State slots) and outputs come from one
gradio_client Client's view of the app (`Endpoints`), shared by every LeanClient.
"""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.parse


class Endpoints:
    """The app's named endpoints as gradio_client reads them (fetched once)."""

    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=False)
        self.api_prefix = "/" + (getattr(self.client, "api_prefix", "") or "gradio_api").strip("/")

    def payload(self, api_name: str, kwargs: dict) -> tuple[int, list]:
        from gradio_client import utils

        fn_index = self.client._infer_fn_index(api_name, None)
        ep = self.client.endpoints[fn_index]
        data = utils.construct_args(ep.parameters_info, (), kwargs)
        return fn_index, list(ep.insert_empty_state(*data))

    def queued(self, fn_index: int) -> bool:
        """Whether the event goes through gradio's queue (else a plain POST run/predict)."""
        dep = self.client.config["dependencies"][fn_index]
        return dep.get("queue", True) is not False

    def outputs(self, fn_index: int, data: list):
        return self.client.endpoints[fn_index].process_predictions(*data)

    def close(self):
        self.client.close()


class AppError(RuntimeError):
    """The event ended without output (the server's error message, if any)."""


class LeanClient:
    """One tab: its own session hash; `predict(api_name=..., **inputs)` as gradio_client's."""

    def __init__(self, url: str, endpoints: Endpoints, timeout: float = 600.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.endpoints = endpoints
        self.session_hash = secrets.token_hex(6)
        self.timeout = timeout
        self._post = None

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def predict(self, api_name: str, **kwargs):
        fn_index, data = self.endpoints.payload(api_name, kwargs)
        body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": self.session_hash,
                           "event_data": None, "trigger_id": None})
        prefix = self.endpoints.api_prefix
        queued = self.endpoints.queued(fn_index)
        path = f"{prefix}/queue/join" if queued else f"{prefix}/run/predict"
        for attempt in (0, 1):            # a kept-alive connection the server closed: once more
            if self._post is None:
                self._post = self._conn()
            try:
                self._post.request("POST", path, body,
                                   {"Content-Type": "application/json"})
                r = self._post.getresponse()
                reply = r.read()
                break
            except (http.client.HTTPException, OSError):
                self._post.close()
                self._post = None
                if attempt:
                    raise
        if r.status != 200:
            raise AppError(f"{path} answered {r.status}: {reply[:200]!r}")
        if not queued:
            return self.endpoints.outputs(fn_index, json.loads(reply)["data"])
        event_id = json.loads(reply)["event_id"]
        return self.endpoints.outputs(fn_index, self._wait(event_id))

    def _wait(self, event_id: str) -> list:
        """Read the session's event stream until `event_id` is completed; its output data."""
        conn = self._conn()
        try:
            conn.request("GET", f"{self.endpoints.api_prefix}/queue/data?session_hash="
                                f"{self.session_hash}", headers={"Accept": "text/event-stream"})
            r = conn.getresponse()
            if r.status != 200:
                raise AppError(f"queue/data answered {r.status}")
            for raw in r:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "close_stream":
                    break
                if msg.get("event_id") != event_id or msg.get("msg") != "process_completed":
                    continue
                out = msg.get("output") or {}
                if not msg.get("success", True) or "data" not in out:
                    raise AppError(str(out.get("error") or "the event failed"))
                return out["data"]
            raise AppError("the event stream ended before the event completed")
        finally:
            conn.close()

    def close(self):
        if self._post is not None:
            self._post.close()
            self._post = None
