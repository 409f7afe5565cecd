"""Jobs: a run plus where it trains, behind one lifecycle (gan_lab.jobs.base.Job).

Kinds, differing only in where Run.advance() runs:
- TrainingJob (thread.py): a thread in this process (tests, bench, GAN_LAB_PROCESS_JOBS=0);
- ProcessJob (process.py): a worker process of a WorkerPool that hosts many runs and gives the
  running ones turns (the app's default);
- ChunkedRunner (zerogpu.py): bounded chunks with the state on the CPU in between (ZeroGPU);
- RayJob (ray.py, optional): a Ray actor on a cluster.
`make_job` picks the kind a browser session gets.
"""

from __future__ import annotations

from .base import Job, Preview, preview
from .process import ProcessJob
from .thread import TrainingJob
from .workers import OwnerBusy, PoolBusy, WorkerDied, WorkerPool

__all__ = ["Job", "Preview", "preview", "TrainingJob", "ProcessJob", "ChunkedRunner", "RayJob",
           "WorkerPool", "PoolBusy", "OwnerBusy", "WorkerDied", "make_job"]


def __getattr__(name):
    if name == "ChunkedRunner":   # imports the spaces package only when asked
        from .zerogpu import ChunkedRunner

        return ChunkedRunner
    if name == "RayJob":          # imports ray only when asked
        from .ray import RayJob

        return RayJob
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_job(cfg, points=None, *, ttl_s: float | None, history_cap: int,
             pool: WorkerPool | None = None, owner: str | None = None) -> Job:
    """The kind of job a browser session gets: ZeroGPU chunks on a ZeroGPU Space (a process or
    thread job would try CUDA where ZeroGPU has none), else a RayJob when GAN_LAB_RAY_ADDRESS
    is set (jobs/ray.py), else a ProcessJob on the pool, else (no pool:
    GAN_LAB_PROCESS_JOBS=0) a thread job."""
    from .. import settings, zerogpu

    if zerogpu.on_zerogpu():
        from .zerogpu import ChunkedRunner

        return ChunkedRunner(cfg, points, ttl_s=ttl_s, history_cap=history_cap, owner=owner)
    address = settings.get("GAN_LAB_RAY_ADDRESS")
    if address:
        from .ray import RayJob  # imports ray: only here

        return RayJob(cfg, points, address=address,
                      num_cpus=settings.get("GAN_LAB_RAY_CPUS_PER_RUN"),
                      num_gpus=settings.get("GAN_LAB_RAY_GPUS_PER_RUN"),
                      ttl_s=ttl_s, history_cap=history_cap, owner=owner)
    if pool is not None:
        return ProcessJob(cfg, points, pool=pool, ttl_s=ttl_s, history_cap=history_cap,
                          owner=owner)
    return TrainingJob(cfg, points, ttl_s=ttl_s, history_cap=history_cap, owner=owner)
