"""Training: one step, a run loop, and a background job the UI can steer.

Three layers, each usable on its own:
- `Trainer`: owns data, G, D, optimizers and regularizers; `run_steps(n)` does n D+G updates and
  returns their scalars with a single host sync (GPU-friendly); `evaluate()` measures.
- `History`: bounded, downsampled log of per-step scalars (memory does not grow with run length).
- `TrainingJob`: a Trainer on its own thread with start/pause/step/stop/reset and live updates of
  the LIVE_FIELDS. It publishes immutable `Snapshot`s at a capped rate; readers never block the
  trainer for longer than a reference swap. The trainer never waits for the UI.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import metrics
from .config import LIVE_FIELDS, ConfigError, RunConfig
from .data import make_dataset
from .losses import d_loss, g_loss
from .models import build_models, n_params
from .regularizers import make_regularizer, reg_params

LOSS_KEYS = ("loss_d", "loss_g", "reg_d", "reg_g")
N_EVAL_2D = 2500     # PacGAN protocol: 2,500 generator samples
N_EVAL_MNIST = 1000
N_VIEW_2D = 1000     # points shown in the sample plot
N_VIEW_MNIST = 64    # 8x8 grid from fixed noise


# --------------------------------------------------------------------------------------------
# Device choice
# --------------------------------------------------------------------------------------------
def resolve_device(cfg: RunConfig) -> tuple[torch.device, str]:
    """(device, reason). An explicit device must exist; 'auto' prefers an accelerator except for
    tiny 2-D nets, where kernel-launch latency makes a GPU slower than one CPU core."""
    has_cuda = torch.cuda.is_available()
    has_mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if cfg.device == "cuda":
        if not has_cuda:
            raise ConfigError("device", "cuda was requested but no CUDA GPU is available here; "
                                        "use auto or cpu")
        return torch.device("cuda"), "requested"
    if cfg.device == "mps":
        if not has_mps:
            raise ConfigError("device", "mps was requested but Apple MPS is not available here; "
                                        "use auto or cpu")
        return torch.device("mps"), "requested"
    if cfg.device == "cpu":
        return torch.device("cpu"), "requested"
    if not (has_cuda or has_mps):
        return torch.device("cpu"), "auto: no GPU found"
    accel = torch.device("cuda" if has_cuda else "mps")
    # Work per step ~ batch * width^2 * depth. Below this a step is a few dozen tiny kernels whose
    # launch latency exceeds the CPU's compute time (see the bench command's cpu-vs-gpu table).
    work = cfg.batch_size * max(cfg.g_hidden, cfg.d_hidden) ** 2 * max(cfg.g_depth, cfg.d_depth)
    if cfg.dataset != "mnist" and work < 256 * 256**2 * 3:
        return torch.device("cpu"), f"auto: CPU (a {accel.type} GPU is present, but this 2-D " \
                                    "net is too small to gain from it)"
    return accel, f"auto: {accel.type}"


def default_threads(cfg: RunConfig | None = None) -> int:
    """Intra-op threads for training. These nets are tiny: splitting a 256x128 matmul over
    threads costs more in synchronization than it saves, and on a shared 2-core box two threads
    per job oversubscribe the CPU (measured: 116 vs 5 steps/s under load). Conv MNIST is the one
    model big enough to gain from a second thread."""
    cores = os.cpu_count() or 1
    if cfg is not None and cfg.dataset == "mnist" and cfg.arch == "conv":
        return min(2, cores)
    return 1


def check_limits(cfg: RunConfig, max_steps: int | None = None,
                 max_params: int | None = None) -> None:
    """Per-session caps of a shared server, reported like any other bad field."""
    if max_steps is not None and cfg.steps > max_steps:
        raise ConfigError("steps", f"this server allows at most {max_steps:,} steps per run")
    if max_params is not None:
        g, d = build_models(cfg)
        total = n_params(g) + n_params(d)
        if total > max_params:
            raise ConfigError("g_hidden", f"the model has {total:,} parameters; this server "
                                          f"allows {max_params:,}. Lower the widths or depths")


# --------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: RunConfig, points: np.ndarray | None = None):
        self.cfg = cfg.validate()
        self.points = points
        self.device, self.device_reason = resolve_device(cfg)
        self.data = make_dataset(cfg, points)
        # Weight init, training noise and evaluation noise each get their own seeded stream, so
        # evaluating more or less often never changes the training trajectory.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.G, self.D = build_models(cfg)
        self.G.to(self.device)
        self.D.to(self.device)
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        cpu_gen = torch.Generator().manual_seed(cfg.seed + 2)
        n_eval = N_EVAL_MNIST if self.data.is_image else N_EVAL_2D
        self.z_eval = torch.randn(n_eval, cfg.latent_dim, generator=cpu_gen).to(self.device)
        self.eval_real = self.data.sample(n_eval, torch.Generator(device=self.device)
                                          .manual_seed(cfg.seed + 3), self.device)
        self.opt_g = self._make_opt(self.G, cfg.lr_g)
        self.opt_d = self._make_opt(self.D, cfg.lr_d)
        self.step = 0
        self.guard = self.device.type == "cpu"
        self._build_regularizers()

    # --- setup ---------------------------------------------------------------------------------
    def _make_opt(self, net, lr):
        c = self.cfg
        if c.optimizer == "adam":
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(c.beta1, c.beta2))
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=c.beta1)

    def _build_regularizers(self):
        c = self.cfg
        kinds = {"g": c.reg if c.reg_target in ("g", "both") else "none",
                 "d": c.reg if c.reg_target in ("d", "both") else "none"}
        self.reg_g = make_regularizer(kinds["g"], reg_params(self.G, c.reg_bias),
                                      l1_mode=c.l1_mode, hsn_iters=c.hsn_iters,
                                      hsn_every=c.hsn_every, hsn_method=c.hsn_method,
                                      modules=(self.G, self.D))
        self.reg_d = make_regularizer(kinds["d"], reg_params(self.D, c.reg_bias),
                                      l1_mode=c.l1_mode, hsn_iters=c.hsn_iters,
                                      hsn_every=c.hsn_every, hsn_method=c.hsn_method,
                                      modules=(self.G, self.D))

    def lr_scale(self) -> float:
        """Multiplier of the base learning rates at the current step (the lr schedule)."""
        c = self.cfg
        t = min(1.0, self.step / max(1, c.steps))
        if c.lr_schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * t))
        if c.lr_schedule == "linear":
            return 1.0 - t
        return 1.0

    def _set_lrs(self):
        k = self.lr_scale()
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * k

    def apply(self, **changes) -> RunConfig:
        """Change LIVE_FIELDS in place, keeping weights and optimizer state."""
        bad = [k for k in changes if k not in LIVE_FIELDS]
        if bad:
            raise ConfigError(bad[0], "cannot change during a run; press Reset to apply it")
        new = self.cfg.replace(**changes)
        old = self.cfg
        self.cfg = new
        self._set_lrs()
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                if "betas" in group:
                    group["betas"] = (new.beta1, new.beta2)
                elif "momentum" in group:
                    group["momentum"] = new.beta1
        reg_keys = ("reg", "reg_target", "l1_mode", "reg_bias", "hsn_iters", "hsn_every",
                    "hsn_method")
        if any(getattr(old, k) != getattr(new, k) for k in reg_keys):
            self._build_regularizers()
        return new

    # --- training ------------------------------------------------------------------------------
    def _one_step(self):
        c, dev, gen = self.cfg, self.device, self.gen
        bs = c.batch_size
        D, G = self.D, self.G
        if c.lr_schedule != "constant":
            self._set_lrs()
        k = self.lr_scale()
        for _ in range(c.d_steps):
            real = self.data.sample(bs, gen, dev)
            z = torch.randn(bs, c.latent_dim, generator=gen, device=dev)
            with torch.no_grad():
                fake = G(z)
            self.opt_d.zero_grad(set_to_none=True)
            # The regularizer runs the loss (a closure: some methods evaluate it more than once)
            # and the backward of loss + penalty; see regularizers.Regularizer.backward.
            ld, total = self.reg_d.backward(
                lambda real=real, fake=fake: d_loss(c.loss, D(real), D(fake)), c.lam, self.step)
            if self.guard and not torch.isfinite(total):
                return self._bad_row(ld, None)
            self.opt_d.step()
            self.reg_d.after_step(c.lam, c.lr_d * k)
        # D's weights need no gradient for G's update; skipping them saves a third of backward.
        D.requires_grad_(False)
        try:
            z = torch.randn(bs, c.latent_dim, generator=gen, device=dev)
            self.opt_g.zero_grad(set_to_none=True)
            lg, total = self.reg_g.backward(lambda: g_loss(c.loss, D(G(z))), c.lam, self.step)
            if self.guard and not torch.isfinite(total):
                return self._bad_row(ld, lg)
        finally:
            D.requires_grad_(True)
        self.opt_g.step()
        self.reg_g.after_step(c.lam, c.lr_g * k)
        self.step += 1
        return ld.detach(), lg.detach(), _as_tensor(self.reg_d.value_tensor, dev), \
            _as_tensor(self.reg_g.value_tensor, dev)

    def _bad_row(self, ld, lg):
        # A non-finite loss: the update is skipped, so weights and optimizer state stay good.
        nan = torch.tensor(float("nan"), device=self.device)
        ld = ld.detach() if torch.isfinite(ld) or lg is None else nan
        lg = nan if lg is None else lg.detach()
        return ld, lg, _as_tensor(self.reg_d.value_tensor, self.device), \
            _as_tensor(self.reg_g.value_tensor, self.device)

    def run_steps(self, n: int) -> np.ndarray:
        """n training steps; returns [n, 4] float64 rows of LOSS_KEYS (one host sync).

        On the CPU every loss is checked before its update (a check costs nothing there), and a
        non-finite one ends the chunk early with a NaN row and no update. On a GPU the check would
        cost a host sync per step, so the chunk runs through and a bad chunk is rolled back to its
        start by the caller (see save_state/load_state)."""
        rows = []
        for _ in range(n):
            row = torch.stack(self._one_step())
            rows.append(row)
            if self.guard and not bool(torch.isfinite(row[:2]).all()):
                break
        return torch.stack(rows).double().cpu().numpy()

    def save_state(self) -> dict:
        """Device-side copies of everything a step mutates (for rollback after divergence)."""
        import copy
        return {"G": copy.deepcopy(self.G.state_dict()), "D": copy.deepcopy(self.D.state_dict()),
                "opt_g": copy.deepcopy(self.opt_g.state_dict()),
                "opt_d": copy.deepcopy(self.opt_d.state_dict()), "step": self.step}

    def load_state(self, st: dict) -> None:
        self.G.load_state_dict(st["G"])
        self.D.load_state_dict(st["D"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        self.step = st["step"]

    # --- measurement ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int | None = None, z: torch.Tensor | None = None) -> np.ndarray:
        """Generator samples from the fixed evaluation noise (or given z) as numpy."""
        if z is None:
            z = self.z_eval if n is None else self.z_eval[:n]
        return self.G(z.to(self.device)).float().cpu().numpy()

    def named_reg_params(self, net) -> list[tuple[str, torch.Tensor]]:
        keep = {id(p) for p in reg_params(net, self.cfg.reg_bias)}
        return [(n, p) for n, p in net.named_parameters() if id(p) in keep]

    def evaluate(self, sharp: bool = False, quality: bool = True,
                 final: bool = False) -> dict[str, float]:
        """Sparsity always; sample quality (modes / grid KL, or MNIST classifier metrics) when
        `quality`; sharpness when `sharp`. During a run sharpness uses a cheaper estimate (10
        power iterations on 128 samples) so the trainer stalls for less; `final` (end of run,
        summary.json) uses 20 iterations on 256 samples."""
        c = self.cfg
        out: dict[str, float] = {}
        for tag, net in (("g", self.G), ("d", self.D)):
            s = metrics.sparsity(self.named_reg_params(net), c.sparsity_eps)
            out[f"sparsity_{tag}"] = s["frac_small"]
            out[f"zeros_{tag}"] = s["frac_zero"]
        fake = self.sample() if quality else None
        if fake is not None and np.all(np.isfinite(fake)):
            if self.data.is_image:
                out.update(metrics.mnist_metrics(fake))
            else:
                if self.data.modes is not None:
                    out.update(metrics.mode_stats(fake, self.data.modes, self.data.std))
                kl, js = metrics.grid_kl_js(self.eval_real.cpu().numpy(), fake,
                                            self.data.bounds)
                out["grid_kl"], out["grid_js"] = kl, js
        if sharp:
            out.update(self.sharpness() if final else self.sharpness(iters=10, n=128))
        return out

    def sharpness(self, iters: int = 20, n: int = 256) -> dict[str, float]:
        """Top |Hessian eigenvalue| of D's and G's losses on a fixed evaluation batch.
        Each power iteration is a Hessian-vector product (~3 backward passes) per network."""
        n = min(n, self.z_eval.shape[0])
        sd, sg = metrics.gan_sharpness(self.G, self.D, self.cfg.loss, self.eval_real[:n],
                                       self.z_eval[:n], iters=iters)
        return {"sharpness_d": sd, "sharpness_g": sg}

    def load_weights(self, g_state: dict, d_state: dict, step: int = 0) -> None:
        """Continue from saved weights (checkpoint.load_checkpoint has checked the shapes).
        Optimizer moments restart from zero: checkpoints hold weights, not optimizer state."""
        self.G.load_state_dict(g_state)
        self.D.load_state_dict(d_state)
        self.opt_g = self._make_opt(self.G, self.cfg.lr_g)
        self.opt_d = self._make_opt(self.D, self.cfg.lr_d)
        self._build_regularizers()
        self.step = int(step)

    def state_dicts(self) -> tuple[dict, dict]:
        """CPU copies of G's and D's weights."""
        return ({k: v.detach().to("cpu", copy=True) for k, v in self.G.state_dict().items()},
                {k: v.detach().to("cpu", copy=True) for k, v in self.D.state_dict().items()})


def start_metrics(tr: Trainer) -> dict[str, float]:
    """The evaluation a run starts with: cheap, so a job is ready at once. For 2-D data it
    includes sharpness (~0.1 s; the curve needs a starting point); for MNIST, sharpness and the
    classifier (~0.5-5 s) first run at their intervals."""
    two_d = not tr.data.is_image
    return tr.evaluate(sharp=two_d and tr.cfg.sharpness_every > 0, quality=two_d)


def _as_tensor(v, device) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.detach().reshape(()).to(device=device, dtype=torch.float32)
    return torch.tensor(float(v), device=device)


# --------------------------------------------------------------------------------------------
# History: bounded, downsampled
# --------------------------------------------------------------------------------------------
class History:
    """Per-step rows averaged into buckets of `stride` steps; when `cap` rows are held, adjacent
    rows are merged and the stride doubles. Memory is O(cap) however long the run."""

    def __init__(self, keys: tuple[str, ...], cap: int = 1000):
        self.keys = keys
        self.cap = cap
        self.stride = 1
        self.steps: list[float] = []
        self.rows: list[np.ndarray] = []
        self._acc = np.zeros(len(keys))
        self._n = 0
        self._last_step = 0

    def add(self, step: int, row: np.ndarray) -> None:
        self._acc += row
        self._n += 1
        self._last_step = step
        if self._n >= self.stride:
            self._flush()

    def _flush(self):
        self.steps.append(self._last_step)
        self.rows.append(self._acc / self._n)
        self._acc = np.zeros(len(self.keys))
        self._n = 0
        if len(self.rows) >= self.cap:
            self.steps = self.steps[1::2]
            self.rows = [(a + b) / 2 for a, b in zip(self.rows[0::2], self.rows[1::2])]
            self.stride *= 2

    def columns(self) -> dict[str, np.ndarray]:
        steps, rows = list(self.steps), list(self.rows)
        if self._n:  # include the partial bucket so the curve reaches the current step
            steps.append(self._last_step)
            rows.append(self._acc / self._n)
        arr = np.array(rows).reshape(len(rows), len(self.keys))
        out = {"step": np.array(steps, dtype=np.int64)}
        out.update({k: arr[:, i] for i, k in enumerate(self.keys)})
        return out


class MetricLog:
    """Evaluation rows (sparse in steps). Bounded by thinning to every other row at `cap`."""

    def __init__(self, cap: int = 500):
        self.cap = cap
        self.rows: list[dict[str, float]] = []

    def add(self, step: int, values: dict[str, float]) -> None:
        if self.rows and self.rows[-1]["step"] == step:
            self.rows[-1].update(values)
            return
        self.rows.append({"step": step, **values})
        if len(self.rows) > self.cap:
            self.rows = self.rows[:-1:2] + [self.rows[-1]]

    def columns(self) -> dict[str, np.ndarray]:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        return {k: np.array([r.get(k, np.nan) for r in self.rows], dtype=float) for k in keys}

    def latest(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for r in self.rows:
            out.update(r)
        return out


# --------------------------------------------------------------------------------------------
# Snapshot + TrainingJob
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """An immutable view of a job, safe to read from any thread.

    history: per-step curves (step, loss_d, loss_g, reg_d, reg_g), downsampled.
    metrics: evaluation curves (step, sparsity_*, zeros_*, modes, hq_frac, ..., sharpness_*).
    g_state/d_state: CPU copies of the weights (for histograms and for rebuilding the nets).
    samples: 2-D [N_VIEW_2D, 2] points or MNIST [64, 1, 28, 28] in [-1, 1], from fixed noise.
    weights_version bumps when g_state/d_state/samples change, so renderers can skip work.
    """

    version: int
    state: str
    message: str
    step: int
    steps_total: int
    steps_per_s: float
    device: str
    cfg: RunConfig
    history: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    latest: dict[str, float]
    g_state: dict[str, torch.Tensor] = field(repr=False)
    d_state: dict[str, torch.Tensor] = field(repr=False)
    samples: np.ndarray | None = field(repr=False)
    weights_version: int = 0
    is_image: bool = False
    bounds: tuple[float, float, float, float] | None = None
    modes: np.ndarray | None = field(default=None, repr=False)
    real: np.ndarray | None = field(default=None, repr=False)


STATES = ("idle", "running", "paused", "done", "diverged", "stopped", "error")


class JobView:
    """snapshot() and wait() for jobs that keep `_snap`, `_state`, `_cond` and `_last_poll`
    (TrainingJob, zerogpu.ChunkedRunner)."""

    def snapshot(self) -> Snapshot:
        self._last_poll = time.monotonic()   # polling is what keeps a job alive (ttl_s)
        return self._snap

    def _await_work(self) -> bool:
        """Worker side, under self._cond: wait until running. True when the worker should end
        (stopped, or nobody polled for ttl_s: a closed tab)."""
        while self._state != "running" and not self._stop:
            self._cond.wait(0.5)
            if self._ttl_expired():
                break
        if self._ttl_expired() and not self._stop:
            self._stop = True
            self._set_state("stopped", "Stopped: the page was closed or idle too long.")
        return self._stop

    def wait(self, states=("paused", "done", "diverged", "stopped", "error", "idle"),
             timeout: float = 60.0) -> str:
        """Block until the job is in one of `states` (tests and the CLI use this)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{type(self).__name__} still {self._state} after "
                                       f"{timeout}s")
                self._cond.wait(left)
            return self._state


class TrainingJob(JobView):
    """A Trainer on a background thread.

    idle -> start() -> running -> pause() -> paused -> start() -> running -> ... -> done
    step(n) runs n steps from idle/paused/done and pauses again. A non-finite loss moves to
    'diverged' (a pause: history, weights and samples before the bad step are kept). stop() ends
    the thread for good. reset() rebuilds the networks from the same seed.
    `ttl_s`: if nobody calls snapshot() for this long, the job stops itself (a closed tab).
    """

    def __init__(self, cfg: RunConfig, points: np.ndarray | None = None, *,
                 publish_every_s: float = 0.1, ttl_s: float | None = None,
                 chunk: int | None = None, history_cap: int = 1000):
        self.points = points
        self.publish_every_s = publish_every_s
        self.ttl_s = ttl_s
        self.history_cap = history_cap
        # One re-entrant lock guards the trainer and the job state; the worker holds it for one
        # chunk (a step on CPU, a few ms), so controls wait at most that long.
        self._cond = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None
        self._stop = False
        self._budget: int | None = None  # steps left for step(n); None = run to cfg.steps
        self._state = "idle"
        self._message = "Ready. Press Train."
        self._version = 0
        self._weights_version = 0
        self._last_poll = time.monotonic()
        # OpenMP's thread count is per OS thread and a new thread starts from the default (all
        # cores), so the training thread re-applies the creator's setting; otherwise these tiny
        # nets oversubscribe the cores (measured 116 vs 5 steps/s under load).
        self._threads = torch.get_num_threads()
        self._build(cfg)
        # GPU: fewer, larger chunks mean fewer host syncs. CPU: sync is free; small chunks keep
        # pause/step/update latency low.
        self.chunk = chunk or (1 if self.trainer.device.type == "cpu" else 10)
        self._publish(force=True)

    # --- construction ------------------------------------------------------------------------
    def _build(self, cfg: RunConfig):
        self.trainer = Trainer(cfg, self.points)
        self.history = History(LOSS_KEYS, self.history_cap)
        self.metric_log = MetricLog()
        self._rate = 0.0
        self._rate_t = time.monotonic()
        self._rate_step = 0
        self._latest_losses: dict[str, float] = {}
        self._g_state, self._d_state = self.trainer.state_dicts()
        self._samples = self._view_samples()
        self._weights_version += 1
        self.metric_log.add(0, start_metrics(self.trainer))

    def _view_samples(self) -> np.ndarray:
        n = N_VIEW_MNIST if self.trainer.data.is_image else N_VIEW_2D
        return self.trainer.sample(n)

    @property
    def cfg(self) -> RunConfig:
        return self.trainer.cfg

    @property
    def state(self) -> str:
        return self._state

    # --- controls ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start, or resume after pause/step/divergence (a diverged run resumes only after the
        user changes something, but we let them try: the next NaN pauses it again)."""
        with self._cond:
            if self._state in ("stopped", "error"):
                raise RuntimeError(f"job is {self._state}; create a new one")
            if self._state == "done":
                self._message = f"Finished {self.trainer.step} steps. Raise Steps to continue."
                self._publish(force=True)
                return
            self._budget = None
            self._set_state("running", "Training…")
            self._ensure_thread()

    def pause(self) -> None:
        with self._cond:
            if self._state == "running":
                self._set_state("paused", f"Paused at step {self.trainer.step}.")

    def step(self, n: int = 1) -> None:
        """Run n steps, then pause (for studying training slowly)."""
        if not isinstance(n, int) or n < 1:
            raise ConfigError("n", "step count must be a whole number >= 1")
        with self._cond:
            if self._state in ("stopped", "error"):
                raise RuntimeError(f"job is {self._state}; create a new one")
            self._budget = n
            self._set_state("running", f"Stepping {n}…")
            self._ensure_thread()

    def stop(self, message: str = "Stopped.") -> None:
        with self._cond:
            self._stop = True
            if self._state not in ("error",):
                self._set_state("stopped", message)
            self._cond.notify_all()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=10)

    def reset(self, cfg: RunConfig | None = None) -> None:
        """Fresh weights from the same seed (or a new config), back to step 0, paused."""
        with self._cond:
            self._build((cfg or self.trainer.cfg).validate())
            self._budget = None
            if self._state != "stopped":
                self._set_state("idle", "Reset: fresh weights from seed "
                                        f"{self.trainer.cfg.seed}. Press Train.")
            self._publish(force=True)

    def update(self, **changes) -> RunConfig:
        """Apply LIVE_FIELDS at once (weights kept). Raises ConfigError naming a bad field."""
        with self._cond:
            cfg = self.trainer.apply(**changes)
            if self._state == "done" and self.trainer.step < cfg.steps:
                self._set_state("paused", f"Steps raised to {cfg.steps}. Press Train.")
            self._publish(force=True)
            return cfg

    def load_weights(self, g_state: dict, d_state: dict, step: int = 0) -> None:
        """Continue from checked checkpoint weights (see checkpoint.load_checkpoint); pauses."""
        with self._cond:
            if self._state == "running":
                self._state = "paused"
            self.trainer.load_weights(g_state, d_state, step)
            self._refresh_weights()
            if self._state not in ("stopped", "error"):
                self._set_state("paused" if step else "idle",
                                f"Loaded weights (step {step}). Press Train to continue.")
            self._publish(force=True)

    # --- worker --------------------------------------------------------------------------------
    def _ensure_thread(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="gan-lab-job", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _set_state(self, state: str, message: str):
        self._state = state
        self._message = message
        self._publish(force=True)
        self._cond.notify_all()

    def _run(self):
        torch.set_num_threads(self._threads)
        try:
            while True:
                with self._cond:
                    if self._await_work():
                        return
                    self._work(self._budget)
                time.sleep(0)  # let a waiting control (pause, update) take the lock
        except Exception as e:  # never die silently: the UI shows the message
            with self._cond:
                self._stop = True
                self._set_state("error", f"Error: {type(e).__name__}: {e}")

    def _ttl_expired(self) -> bool:
        return self.ttl_s is not None and time.monotonic() - self._last_poll > self.ttl_s

    def _work(self, budget: int | None):
        tr = self.trainer
        c = tr.cfg
        left = c.steps - tr.step
        if left <= 0:
            self._finish()
            return
        n = min(self.chunk, left, budget if budget is not None else left)
        step0 = tr.step
        saved = None if tr.guard else tr.save_state()
        rows = tr.run_steps(n)
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            bad = int(np.argmin(finite))
            what = ", ".join(k for k, v in zip(LOSS_KEYS, rows[bad]) if not np.isfinite(v))
            if saved is not None:   # GPU: roll the whole chunk back, keep its good rows out
                tr.load_state(saved)
                step0 = tr.step
            else:
                for i in range(bad):
                    self.history.add(step0 + i + 1, rows[i])
                tr.step = step0 + bad
            self._budget = None
            self._refresh_weights()
            self._set_state("diverged",
                            f"Diverged at step {tr.step + 1}: {what} became "
                            f"{rows[bad][~np.isfinite(rows[bad])][0]}. Paused; everything "
                            "before it is kept. Lower the learning rate or lambda, "
                            "then press Train (or Reset).")
            return
        for i in range(n):
            self.history.add(step0 + i + 1, rows[i])
        self._latest_losses = dict(zip(LOSS_KEYS, rows[-1].tolist()))
        if budget is not None:
            self._budget = budget - n
        # Evaluate when a multiple of eval_every / sharpness_every was crossed.
        s = tr.step
        crossed = lambda k: k > 0 and (s // k) != (step0 // k)
        if crossed(c.eval_every) or crossed(c.sharpness_every) or s >= c.steps:
            self.metric_log.add(s, tr.evaluate(sharp=crossed(c.sharpness_every)))
        now = time.monotonic()
        if now - self._rate_t >= 0.5:
            self._rate = (s - self._rate_step) / (now - self._rate_t)
            self._rate_t, self._rate_step = now, s
        if s >= c.steps:
            self._finish()
        elif budget is not None and self._budget <= 0:
            self._budget = None
            self._refresh_weights()
            self._set_state("paused", f"Stepped to {s}.")
        else:
            self._publish()

    def _finish(self):
        tr = self.trainer
        last = self.metric_log.rows[-1]["step"] if self.metric_log.rows else -1
        if last != tr.step or "sharpness_d" not in self.metric_log.rows[-1]:
            self.metric_log.add(tr.step, tr.evaluate(sharp=True, final=True))
        self._refresh_weights()
        self._set_state("done", f"Done: {tr.step} steps.")

    def _refresh_weights(self):
        self._g_state, self._d_state = self.trainer.state_dicts()
        self._samples = self._view_samples()
        self._weights_version += 1

    def _publish(self, force: bool = False):
        now = time.monotonic()
        if not force and now - getattr(self, "_pub_t", 0.0) < self.publish_every_s:
            return
        if not force and self._state == "running":
            self._refresh_weights()
        self._pub_t = now
        self._version += 1
        self._snap = snapshot_of(
            self.trainer, self.history, self.metric_log, version=self._version,
            state=self._state, message=self._message, steps_per_s=self._rate,
            latest_losses=self._latest_losses, g_state=self._g_state, d_state=self._d_state,
            samples=self._samples, weights_version=self._weights_version)


def snapshot_of(tr: Trainer, history: History, metric_log: MetricLog, *, version: int = 0,
                state: str = "done", message: str = "", steps_per_s: float = 0.0,
                latest_losses: dict | None = None, g_state=None, d_state=None, samples=None,
                weights_version: int = 0) -> Snapshot:
    """A Snapshot of a Trainer (the job publishes these; the CLI makes one for samples.png)."""
    if g_state is None:
        g_state, d_state = tr.state_dicts()
    if samples is None:
        samples = tr.sample(N_VIEW_MNIST if tr.data.is_image else N_VIEW_2D)
    latest = dict(latest_losses or {})
    latest.update({k: v for k, v in metric_log.latest().items() if k != "step"})
    real = None if tr.data.is_image else tr.eval_real[:N_VIEW_2D].cpu().numpy()
    return Snapshot(
        version=version, state=state, message=message, step=tr.step, steps_total=tr.cfg.steps,
        steps_per_s=steps_per_s, device=str(tr.device), cfg=tr.cfg, history=history.columns(),
        metrics=metric_log.columns(), latest=latest, g_state=g_state, d_state=d_state,
        samples=samples, weights_version=weights_version, is_image=tr.data.is_image,
        bounds=None if tr.data.is_image else tr.data.bounds, modes=tr.data.modes, real=real)

