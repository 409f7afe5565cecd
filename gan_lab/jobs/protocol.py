"""The requests a worker process answers (jobs/host.py), one typed message each.

The server's side sends them through `Host.call` (its typed front: `Host.create`,
`Host.advance`, `Host.apply`, `Host.export`, `Host.drop`); the worker's side answers them in
`handle`. Both ends are our own processes (spawned by jobs/host.py), so the messages travel with
plain pickle; a commit's weights travel as numpy (`Commit.portable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PENDING = "pending"      # an advance's answer: the run's piece is still in progress


@dataclass(frozen=True)
class Placement:
    """Where a job's run lives (jobs/workers.py keeps it): the process's slot, the run's id."""

    slot: int
    rid: int


@dataclass(frozen=True)
class Create:
    """Build run `rid` from a config dict, optional user points, weights (g, d, step) or an
    exact TrainState (with the step of its final evaluation). Answer: the run's device."""

    rid: int
    cfg: dict
    points: Any = None
    weights: tuple | None = None
    state: Any = None
    final_at: int = -1


@dataclass(frozen=True)
class Advance:
    """Train run `rid` for at most `max_steps` steps / `seconds`. Answer: a Commit (weights as
    numpy), or PENDING while a piece set aside (`aside`: it may be) is still in progress."""

    rid: int
    max_steps: int | None
    seconds: float | None
    aside: bool = True


@dataclass(frozen=True)
class Apply:
    """Change live fields of run `rid` in place. Answer: the new config as a dict."""

    rid: int
    changes: dict


@dataclass(frozen=True)
class Export:
    """Run `rid`'s exact TrainState. Answer: (TrainState, step of its final evaluation)."""

    rid: int


@dataclass(frozen=True)
class Drop:
    """Forget run `rid` (a piece in progress finishes unseen)."""

    rid: int


@dataclass(frozen=True)
class Ping:
    """Answer: how many runs the process holds."""


@dataclass(frozen=True)
class Exit:
    """End the process (answered before it exits)."""


# A control request for a run whose piece of work is in progress aside is answered RETRY.
CONTROLS = (Apply, Export)


def handle(req, runs: dict, pieces) -> Any:
    """The worker's answer to one request (jobs/host.py `_host_main` runs the loop)."""
    from ..config import RunConfig
    from ..run import Run

    if isinstance(req, Advance):
        out = pieces.advance(req.rid, runs[req.rid], req.max_steps, req.seconds, req.aside)
        return out if isinstance(out, str) else out.portable()   # restored by the server
    if isinstance(req, Create):
        # The worker's input, checked once: by the Trainer that Run builds.
        run = Run(RunConfig.from_dict(req.cfg, validate=False), req.points, weights=req.weights,
                  start_eval=None, history_cap=2)
        if req.state is not None:
            run.import_state(req.state, req.final_at)
        runs[req.rid] = run
        return str(run.trainer.device)
    if isinstance(req, Apply):
        return runs[req.rid].apply(**req.changes).to_dict()
    if isinstance(req, Export):
        run = runs[req.rid]
        return run.export_state(), run.final_at
    if isinstance(req, Drop):
        runs.pop(req.rid, None)
        pieces.forget(req.rid)
        return None
    if isinstance(req, Ping):
        return len(runs)
    raise ValueError(f"unknown request {type(req).__name__}")
