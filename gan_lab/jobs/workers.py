"""Worker processes that host many runs, and the scheduler that gives every running one turns.

Why processes: these networks are so small that a training step is mostly Python (autograd
bookkeeping, optimizer loops) holding the GIL. Drawing frames and serving the page are Python
too; in one process the two take turns on the GIL (measured: a thread job with frames drawn
beside it ran at 0.39x of a plain loop on a loaded 2-core box). Why few: each process costs
~250 MB (torch), so a class of 30 cannot have one each. So `WorkerPool` keeps about one process
per core, each hosting any number of Runs (a paused run costs only its tensors), and a
dispatcher thread per process hands out time slices round-robin to that process's running
jobs: N running jobs on K processes each get about K/N of a core, every one advances at least
every `period_s`, and none is refused while the run cap (memory) allows. A job is placed on
the process with the fewest running jobs when its run is created, and moved (its full
TrainState, exactly) when it starts again on a process busier than another by two or more.

The protocol is request/reply over one pipe per process, plain pickle (our own processes only),
one typed request each (jobs/protocol.py) sent through the Host's typed client; the pool's
`advance`, `apply` and `export` find a job's run (its `Placement`, kept here, not on the job)
and handle a process lost meanwhile. Inside a process each advance runs on a thread of its own,
and one that overruns its slice finishes aside while the process serves the others
(jobs/host.py). Its job then answers PENDING and is asked again every PENDING_POLL_S.

One job's failure is its own (issue 18). When a process dies (killed, out of memory) or a piece
of work hangs past its time-out (sized from gan_lab.cost's estimate of the config), the process
is killed and reaped; the suspect (the job whose piece was in progress aside, else the job
whose request was being served) shows the error, and every other job of that process is placed
again, on the least busy process, from the weights and step of its last commit (which the
server keeps: the Snapshot). Its optimizer moments and noise stream restart there, and its
message says so; a full TrainState per job and slice would cost the server 3x the weights of
every run, the weights cost nothing extra.

Caps: `max_runs` runs placed in all (the memory cap, GAN_LAB_MAX_JOBS), and `per_owner` runs
placed per session (GAN_LAB_RUNS_PER_SESSION: its run, run A, its sweep's runs); done and
stopped runs are not placed (their jobs keep what the page shows, jobs/process.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from .host import Host, WorkerDied
from .protocol import Placement

log = logging.getLogger("gan_lab.jobs")

# Diagnostics: with this variable set to a file path, every training slice appends a line
# "slot start end job ready" (monotonic seconds; job: an opaque number; ready: running jobs on
# that process). scripts/load_test.py reads it for the server-side gaps between step advances.
SLICE_LOG_ENV = "GAN_LAB_SLICE_LOG"
PERIOD_S = 2.0      # a running job gets a slice at least this often (while <= 10 share a core)
# Shorter slices would spend their time on commits: a slice's commit (losses, weights and the
# samples on screen) costs a few ms, ~7% of a 0.1 s slice under 30 watchers (py-spy, issue 19).
MIN_SLICE_S = 0.2
MAX_SLICE_S = 0.25  # a pause, update or reset waits at most one slice
PENDING_POLL_S = 0.05   # a job whose piece is in progress aside is asked again this often


class PoolBusy(RuntimeError):
    """The server holds as many runs as it allows."""


class OwnerBusy(PoolBusy):
    """This session holds as many runs as one session may."""


class WorkerPool:
    """`processes` worker processes hosting at most `max_runs` runs in all, `per_owner` per
    session (see the module docstring). Jobs register themselves (ProcessJob); the pool places
    their runs, drives the running ones and stops those nobody polls (their ttl_s).
    `hang_s`: a piece of work in progress aside for longer than this is hung (default: from
    the job's cost estimate, ProcessJob.hang_s)."""

    def __init__(self, processes: int = 2, max_runs: int = 64, threads: int = 1,
                 period_s: float = PERIOD_S, nice: int = 0, per_owner: int | None = None,
                 hang_s: float | None = None):
        self.processes = max(1, int(processes))
        self.max_runs = int(max_runs)
        self.per_owner = per_owner
        self.hang_s = hang_s
        self.threads = threads
        self.nice = nice
        self.period_s = period_s
        self._cond = threading.Condition()
        self._closed = False
        path = os.environ.get(SLICE_LOG_ENV)
        self._slice_log = open(path, "a", buffering=1) if path else None  # noqa: SIM115
        self._log_lock = threading.Lock()
        self._hosts: list[Host | None] = [None] * self.processes
        self._host_locks = [threading.Lock() for _ in range(self.processes)]
        self._placed: list[list] = [[] for _ in range(self.processes)]
        self._in_flight: list = [None] * self.processes   # the job being advanced there
        self._jobs: set = set()
        self._where: dict = {}                            # job -> Placement of its run
        self._next_rid = 0
        # Warm processes (torch imported) so the first Train of a class starts in milliseconds.
        for i in range(self.processes):
            threading.Thread(target=self._host, args=(i,), daemon=True).start()
        self._threads = [threading.Thread(target=self._dispatch, args=(i,), daemon=True,
                                          name=f"gan-lab-dispatch-{i}")
                         for i in range(self.processes)]
        self._threads.append(threading.Thread(target=self._janitor, daemon=True,
                                              name="gan-lab-ttl"))
        for t in self._threads:
            t.start()

    # --- processes ---------------------------------------------------------------------------
    def _host(self, slot: int) -> Host:
        """The live process of a slot, spawned (or replaced, reaping a dead one) if needed."""
        with self._host_locks[slot]:
            h = self._hosts[slot]
            if h is not None and h.alive():
                return h
            if h is not None:
                h.kill()
            if self._closed:
                raise PoolBusy("the server is shutting down")
            self._hosts[slot] = h = Host(self.threads, self.nice)
            return h

    def pids(self) -> list[int]:
        return [h.proc.pid for h in self._hosts if h is not None and h.alive()]

    def pid_of(self, job) -> int | None:
        """The process hosting a job's run (None when it has none)."""
        slot = self.slot_of(job)
        h = self._hosts[slot] if slot is not None else None
        return h.proc.pid if h is not None else None

    def slot_of(self, job) -> int | None:
        """The slot of the process hosting a job's run (None when it has none)."""
        p = self._where.get(job)
        return None if p is None else p.slot

    # --- jobs --------------------------------------------------------------------------------
    def register(self, job) -> None:
        with self._cond:
            self._jobs.add(job)

    def unregister(self, job) -> None:
        self.unplace(job)
        with self._cond:
            self._jobs.discard(job)

    def _runs(self) -> int:
        return sum(len(p) for p in self._placed)

    def owned(self, owner) -> int:
        """Runs placed for one owner (a session's key)."""
        with self._cond:
            return sum(1 for p in self._placed for j in p
                       if owner is not None and getattr(j, "owner", None) == owner)

    def _pick_slot(self, exclude: int | None = None) -> int:
        def load(i):
            return (sum(j.runnable() for j in self._placed[i]), len(self._placed[i]))
        return min((i for i in range(self.processes) if i != exclude), key=load)

    def place(self, job, weights=None, state=None, final_at: int = -1,
              again: bool = False) -> str:
        """Create the job's run on the least busy process; returns its device. PoolBusy at the
        run cap, OwnerBusy at the session's cap; `again` (a job placed anew after its process
        was lost, or moved) is exempt from both: it held its place already."""
        with self._cond:
            if self._closed:
                raise PoolBusy("the server is shutting down")
            if not again:
                if self._runs() >= self.max_runs:
                    raise PoolBusy(f"this server holds {self.max_runs} runs already")
                owner = getattr(job, "owner", None)
                if (self.per_owner is not None and owner is not None and
                        sum(getattr(j, "owner", None) == owner for p in self._placed
                            for j in p) >= self.per_owner):
                    raise OwnerBusy(f"this page holds {self.per_owner} runs already")
            slot = self._pick_slot()
            self._next_rid += 1
            rid = self._next_rid
            self._placed[slot].append(job)   # reserved before the (slower) create
        try:
            device = self._host(slot).create(rid, job.cfg, job.points, weights, state, final_at)
        except BaseException:
            with self._cond:
                if job in self._placed[slot]:
                    self._placed[slot].remove(job)
            raise
        with self._cond:
            self._where[job] = Placement(slot, rid)
        return device

    def unplace(self, job) -> None:
        with self._cond:
            p = self._where.pop(job, None)
            if p is None:
                return
            if job in self._placed[p.slot]:
                self._placed[p.slot].remove(job)
        h = self._hosts[p.slot]
        if h is not None and h.alive():
            try:
                h.drop(p.rid, timeout=10)
            except Exception:  # noqa: BLE001 - the process may be dying: its runs go with it
                pass

    # --- requests for a job's run (the Host's typed client, wherever the run lives now) ------
    def advance(self, job, max_steps: int | None, seconds: float | None, aside: bool,
                timeout: float = 120.0):
        """A Commit of the job's run (weights as numpy: Commit.restored), or PENDING."""
        return self._on_run(job, lambda h, rid: h.advance(rid, max_steps, seconds, aside,
                                                          timeout=timeout))

    def apply(self, job, changes: dict, timeout: float = 120.0) -> dict:
        return self._on_run(job, lambda h, rid: h.apply(rid, changes, timeout=timeout))

    def export(self, job, timeout: float = 120.0) -> tuple:
        """(TrainState, step of its final evaluation) of the job's run."""
        return self._on_run(job, lambda h, rid: h.export(rid, timeout=timeout))

    def _on_run(self, job, request):
        """request(host, rid) for the job's run. When its process turns out to be lost, the
        process is handled (`_lost`) and, if this job was placed again meanwhile, the request
        is made once more there."""
        for attempt in (0, 1):
            p = self._where.get(job)
            h = self._hosts[p.slot] if p is not None else None
            if h is None:
                raise WorkerDied("the run's training process is gone")
            try:
                return request(h, p.rid)
            except WorkerDied as e:
                self._lost(p.slot, served=job if e.during else None, why=str(e))
                if attempt or job not in self._where:
                    raise
        raise AssertionError("unreachable")

    def rebalance(self, job, running: bool = False) -> bool:
        """Move a job that is about to run to a process with at least two fewer running jobs
        (its exact TrainState travels, so the run goes on bit for bit). True if it moved.
        running: the job is one of its process's running jobs already (counted there)."""
        slot = self.slot_of(job)
        if slot is None or self.processes < 2:
            return False
        with self._cond:
            target = self._pick_slot(exclude=slot)
            here = sum(j.runnable() for j in self._placed[slot] if j is not job) + running
            there = sum(j.runnable() for j in self._placed[target])
            if here - there < 2:
                return False
        state, final_at = self.export(job)
        self.unplace(job)
        self.place(job, state=state, final_at=final_at, again=True)
        return True

    def _lost(self, slot: int, served=None, why: str = "", suspect=None) -> None:
        """A process died, its pipe broke, or a piece of work there hung: kill and reap it;
        the suspect shows the error, every other job of it is placed again (module
        docstring). `suspect`: known (a hung piece's job); else the jobs with a piece in
        progress aside, else `served` (the job whose request the process was serving)."""
        with self._cond:
            jobs, self._placed[slot] = list(self._placed[slot]), []
            for j in jobs:
                self._where.pop(j, None)
        with self._host_locks[slot]:
            h, self._hosts[slot] = self._hosts[slot], None
        if h is not None:   # dead, or broken or hung (a call failed): either way, gone
            h.kill(timeout=1.0)
        if not jobs:
            return
        if suspect is not None:
            suspects = [suspect]
        else:
            suspects = [j for j in jobs if getattr(j, "_pending_since", None) is not None] \
                or ([served] if served is not None else [])
        log.warning("training process of slot %d lost (%s); %d run(s) on it, %d suspected",
                    slot, why, len(jobs), len(suspects))
        for j in jobs:
            if j in suspects:
                j.host_lost("the training process exited unexpectedly while it ran this "
                            "run (out of memory?)" if suspect is None else
                            f"a step of this run took longer than {why}")
            else:
                j.place_again()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stats(self) -> dict:
        with self._cond:
            return {"processes": self.processes, "runs": self._runs(),
                    "running": sum(j.runnable() for p in self._placed for j in p),
                    "max_runs": self.max_runs, "jobs": len(self._jobs)}

    def running_on(self, job) -> int:
        """Running jobs sharing this job's process, itself included."""
        slot = self.slot_of(job)
        with self._cond:
            return 0 if slot is None else sum(j.runnable() for j in self._placed[slot])

    # --- the scheduler -----------------------------------------------------------------------
    def _dispatch(self, slot: int) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                ready = [j for j in self._placed[slot] if j.runnable()]
                now = time.monotonic()
                due = [j for j in ready if getattr(j, "_poll_at", 0.0) <= now]
                if not due:
                    wait = min((j._poll_at - now for j in ready), default=0.5)
                    self._cond.wait(max(0.005, min(0.5, wait)))
                    continue
                # Round robin as "the one served longest ago": fair however the list changes
                # (a job with a piece aside drops out of `due` between its polls).
                job = min(due, key=lambda j: getattr(j, "_served_at", 0.0))
                job._served_at = now
                seconds = min(MAX_SLICE_S, max(MIN_SLICE_S, self.period_s / len(ready)))
                self._in_flight[slot] = job
            try:
                h = self._hosts[slot]
                if h is not None and not h.alive():
                    self._lost(slot, why="it exited")
                    continue
                # Runs finish (or hide) unevenly: a process with two more running jobs than
                # another hands this one over, so no core idles while another has a queue
                # (the class's last run is done sooner). The other process's dispatcher drives
                # it from now on.
                if self._busier(slot) and self._hand_over(job, slot):
                    continue
                t0 = time.monotonic()
                if job.drive(seconds) and self._slice_log is not None:
                    self._log_slice(f"{slot} {t0:.3f} {time.monotonic():.3f} {id(job)} "
                                    f"{len(ready)}\n")
            finally:
                self._in_flight[slot] = None

    def _busier(self, slot: int) -> bool:
        """Whether this process has at least two more running jobs than another."""
        if self.processes < 2:
            return False
        with self._cond:
            counts = [sum(j.runnable() for j in p) for p in self._placed]
        return counts[slot] - min(counts) >= 2

    def _hand_over(self, job, slot: int) -> bool:
        """Move `job` (not in flight) to a less busy process, under its lock (no pause, update
        or reset meanwhile). True if it moved."""
        try:
            with job._cond:
                if self.slot_of(job) != slot or not job.runnable():
                    return False
                return self.rebalance(job, running=True)
        except Exception:  # noqa: BLE001 - it stays where it was (or its job shows the error)
            log.warning("moving a run to a less busy process failed", exc_info=True)
            return False

    def _log_slice(self, line: str) -> None:
        with self._log_lock:
            if self._slice_log is not None:     # closed meanwhile (shutdown)
                self._slice_log.write(line)

    def _janitor(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                jobs = list(self._jobs)
                hosts = list(enumerate(self._hosts))
            for j in jobs:
                j.expire_if_idle()
                hung = j.hung(self.hang_s) if hasattr(j, "hung") else None
                slot = self.slot_of(j)
                if hung is not None and slot is not None:
                    self._lost(slot, why=hung, suspect=j)
            for slot, h in hosts:   # a process killed while none of its jobs runs
                if h is not None and not h.alive() and self._in_flight[slot] is None:
                    self._lost(slot, why="it exited")
            time.sleep(0.5)

    def close(self, timeout: float = 3.0) -> None:
        """End every process within about `timeout` seconds (asked to exit together, joined,
        stragglers killed)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            hosts = [h for h in self._hosts if h is not None]
        if self._slice_log is not None:
            with self._log_lock:
                self._slice_log.close()
                self._slice_log = None
        threads = [threading.Thread(target=h.kill, daemon=True) for h in hosts]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for h in hosts:
            if h.proc.is_alive():
                h.proc.kill()
                h.proc.join(1)
