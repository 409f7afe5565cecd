"""Which kind of job a browser session gets.

- ZeroGPU Space: zerogpu.ChunkedRunner (training in bounded @spaces.GPU chunks, state on the
  CPU between them; a process or thread job would try CUDA where ZeroGPU has none).
- Otherwise, with a worker pool: procjob.ProcessJob, the trainer in its own process, so drawing
  and serving the page never take the trainer's GIL (see procjob.py for the measurements).
- Without a pool (GAN_LAB_PROCESS_JOBS=0): the in-process thread TrainingJob.
All three have the same API.
"""

from __future__ import annotations

from .. import zerogpu
from ..config import RunConfig
from ..procjob import ProcessJob, WorkerPool
from ..trainer import TrainingJob


def make_job(cfg: RunConfig, points=None, *, ttl_s: float | None, history_cap: int,
             pool: WorkerPool | None = None):
    if zerogpu.on_zerogpu():
        return zerogpu.ChunkedRunner(cfg, points, ttl_s=ttl_s, history_cap=history_cap)
    if pool is not None:
        return ProcessJob(cfg, points, pool=pool, ttl_s=ttl_s, history_cap=history_cap)
    return TrainingJob(cfg, points, ttl_s=ttl_s, history_cap=history_cap)
