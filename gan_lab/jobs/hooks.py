"""The hooks a job kind implements: where its run lives (jobs/base.py's Job calls them)."""

from __future__ import annotations

from collections.abc import Iterable

from ..run import Commit


class RunPlace:
    """Where a job's run lives and trains. `_create`, `_advance` and `_apply` are required;
    the others are optional (no-ops here)."""

    def _create(self, weights: tuple | None) -> None:
        """Build the run where it trains (called at the first start/step after a preview)."""
        raise NotImplementedError

    def _advance(self, max_steps: int | None, seconds: float) -> Iterable[Commit]:
        """Train where the run lives; yield its commits (one, or several for a long chunk)."""
        raise NotImplementedError

    def _apply(self, new) -> None:
        """Make the run where it lives train on `new` (validated; live fields changed only).
        A run in another process gets its live fields, checked there."""
        raise NotImplementedError

    def _discard(self) -> None:
        """Forget the run where it lives (reset, load, stop)."""

    def _before_run(self) -> None:
        """The job is about to run (under the lock, run created): e.g. move it somewhere less
        busy."""

    def _wake(self) -> None:
        """The job became runnable: make sure something will drive it."""

    def _release(self) -> None:
        """The job stopped for good: free what it holds (threads, slots)."""

    def _on_done(self) -> None:
        """The run reached its last step (under the lock): e.g. give its place back, keeping
        in `_resume` what `_create` needs to continue it (ProcessJob)."""
