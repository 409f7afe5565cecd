"""RayJob: the run in a Ray actor (optional: `pip install -r requirements-ray.txt`).

One more place for Run.advance(): a Ray actor (`RunActor`) holds the Run on some node of a Ray
cluster, with one CPU (or `num_gpus` of a GPU) reserved for it; the job's own thread
(`OwnThread`, like TrainingJob's) drives it: each advance is a `ray.get` of the actor's
`advance` call, which returns the Commit. The job's curves, state and weights on screen stay in
this process, as for every kind (jobs/base.py).

The app's sessions get RayJobs when GAN_LAB_RAY_ADDRESS is set (jobs.make_job): an address of
a running cluster (`ray start --head` prints it), "auto" (the cluster started on this machine)
or "local" (start a private local instance). GAN_LAB_RAY_CPUS_PER_RUN (default 1) and
GAN_LAB_RAY_GPUS_PER_RUN (default 0) size each actor. An actor holds its CPU while its job
exists (paused included) and is killed on reset, load, stop or the job's time-to-live.

`connect()` is shared with the sweep's Ray backend (gan_lab/sweep/). This module and that
backend are the only ones that import ray.

Code on the workers: a local instance's workers import gan_lab from this checkout. Connecting to
a cluster at an address ships this checkout's code (the repository root: gan_lab/ and assets/;
.git, runs/, tests/, docs/ and scripts/ left out, and .gitignore honoured) as the job's Ray
`working_dir`, so every node runs the same code as the driver; the nodes need only the Python
packages (requirements.txt + requirements-ray.txt). GAN_LAB_RAY_SHIP_CODE=0 turns that off when
gan_lab is installed on the nodes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import ray

from .. import settings
from ..config import LIVE_FIELDS, RunConfig
from ..placement import default_threads
from ..run import Run
from .thread import OwnThread

_lock = threading.Lock()
ADVANCE_TIMEOUT_S = 120.0   # on top of the slice: a first call waits for the actor's start
SHIP_EXCLUDES = [".git", "runs", "tests", "docs", "scripts", "__pycache__", "*.pyc",
                 ".partial-*"]


ROOT = Path(__file__).resolve().parents[2]    # the folder holding the gan_lab package


def code_env() -> dict | None:
    """The runtime_env that ships this checkout to a cluster's workers, or None (no checkout
    with assets/ next to gan_lab/, or GAN_LAB_RAY_SHIP_CODE=0)."""
    if not settings.get("GAN_LAB_RAY_SHIP_CODE"):
        return None
    if not (ROOT / "gan_lab").is_dir() or not (ROOT / "assets").is_dir():
        return None
    return {"working_dir": str(ROOT), "excludes": list(SHIP_EXCLUDES)}


def local_env() -> dict:
    """A local instance's workers import gan_lab from this very folder, whatever the
    driver's working directory."""
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}}


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray once. address: a cluster's address or "auto"; None: the
    RAY_ADDRESS environment variable, else a new local instance with num_cpus CPUs ("local"
    does the same). Returns True when this call started a local instance (the caller shuts it
    down with ray.shutdown())."""
    with _lock:
        if ray.is_initialized():
            return False
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        kw = dict(include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        if address == "local":
            ray.init(address="local", num_cpus=num_cpus, runtime_env=local_env(), **kw)
            return True
        ray.init(address=address, runtime_env=code_env(), **kw)
        return False


class RunActor:
    """A Run where the actor lives (wrapped by ray.remote below; plain for reading)."""

    def __init__(self, cfg: dict, points, weights, threads: int = 1):
        import torch

        cfg = RunConfig.from_dict(cfg)
        # No more threads than the CPUs the actor reserved (other actors share the node).
        torch.set_num_threads(max(1, min(threads, default_threads(cfg))))
        self.run = Run(cfg, points, weights=weights, start_eval=None, history_cap=2)

    def advance(self, max_steps, seconds):
        return self.run.advance(max_steps, seconds)

    def apply(self, changes: dict) -> dict:
        return self.run.apply(**changes).to_dict()

    def device(self) -> str:
        return str(self.run.trainer.device)


RemoteRun = ray.remote(RunActor)


class RayJob(OwnThread):
    """A Run in a Ray actor, driven by this job's thread. address: see connect() (None: the
    RAY_ADDRESS environment variable, else a local instance); num_cpus/num_gpus: what each
    actor reserves; publish_every_s: the length of one advance (one round trip each)."""

    kind = "ray"

    def __init__(self, cfg, points=None, *, address: str | None = None, num_cpus: float = 1,
                 num_gpus: float = 0, publish_every_s: float = 0.25,
                 ttl_s: float | None = None, history_cap: int = 1000,
                 owner: str | None = None):
        self.address = address
        self.num_cpus, self.num_gpus = float(num_cpus), float(num_gpus)
        self.publish_every_s = publish_every_s
        self._actor = None
        super().__init__(cfg, points, ttl_s=ttl_s, history_cap=history_cap,
                         owner=owner)

    def _slice_s(self) -> float:
        return self.publish_every_s

    def _device_label(self) -> str:
        if self.num_gpus > 0 and self._cfg.device in ("auto", "cuda"):
            return "cuda (Ray)"
        return f"{super()._device_label()} (Ray)"

    # --- where the run lives -----------------------------------------------------------------
    def _create(self, weights):
        connect(self.address)
        # Not waited for: the first advance waits (a start does not hold the job's lock).
        self._actor = RemoteRun.options(num_cpus=self.num_cpus, num_gpus=self.num_gpus).remote(
            self._cfg.to_dict(), self.points, weights, max(1, int(self.num_cpus)))

    def _advance(self, max_steps, seconds):
        yield ray.get(self._actor.advance.remote(max_steps, seconds),
                      timeout=seconds + ADVANCE_TIMEOUT_S)

    def _apply(self, new):
        self._settle()
        live = {k: getattr(new, k) for k in LIVE_FIELDS}
        ray.get(self._actor.apply.remote(live), timeout=ADVANCE_TIMEOUT_S)

    def _discard(self):
        actor, self._actor = self._actor, None
        if actor is not None:
            ray.kill(actor)
