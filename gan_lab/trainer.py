"""Trainer: data, G, D, optimizers and regularizers, and one training step.

`Trainer.run_steps(n)` does n D+G updates and returns their scalars with a single host sync
(GPU-friendly); `evaluate()` measures; `apply()` changes live fields in place; `export_state()`
and `import_state()` move everything a step reads or changes (weights, optimizer moments, the
noise generator, the regularizers' state, the step) as a `TrainState`: to the CPU between
ZeroGPU chunks and worker processes, or as a device-side copy for rolling back a diverged
chunk on a GPU. The training loop itself (evaluation schedule, divergence, logs) is
`gan_lab.run.Run`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import adaptive, metrics, penalties, regularizers, spectral
from .config import LIVE_FIELDS, ConfigError, RunConfig, spec
from .data import kind_of, make_dataset
from .losses import LOSS_KEYS, d_loss_on, g_loss
from .models import build_models, generate, shown_weights, update_average
from .placement import resolve_device
from .regularizers import Combined, extra_key, extras_of, make_regularizer, reg_params
from .state import TrainState, copied, reg_state

__all__ = ["Trainer", "schedule_scale"]


def schedule_scale(schedule: str, step: int, steps: int) -> float:
    """The learning-rate multiplier at `step` of a run of `steps` steps. The schedule is always
    that of the run's current Steps: raising Steps after a decayed run is Done continues it
    where a run planned that long would be (linear, 4,000 -> 8,000 at step 4,000: 0 -> 0.5);
    the app says so when Steps changes (ui/notes.py)."""
    t = min(1.0, step / max(1, steps))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "linear":
        return 1.0 - t
    return 1.0


def live_change(cfg: RunConfig, changes: dict) -> RunConfig:
    """cfg with live field `changes` (values as a user gives them), validated; ConfigError
    names a bad or non-live field."""
    bad = [k for k in changes if k not in LIVE_FIELDS]
    if bad:
        raise ConfigError(bad[0], "cannot change during a run; press Reset to apply it")
    return cfg.replace(**changes)


# --------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: RunConfig, points: np.ndarray | None = None):
        self.cfg = cfg.validate()
        self.points = points
        self.device, self.device_reason = resolve_device(cfg)
        self.kind = kind_of(cfg.dataset)   # sample shape, evaluation sizes, quality metrics
        self.data = make_dataset(cfg, points)
        # Weight init, training noise and evaluation noise each get their own seeded stream, so
        # evaluating more or less often never changes the training trajectory.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.G, self.D = build_models(cfg)
        if cfg.init == "trained":   # a shipped trained GAN, its SHA-256 checked (gan_lab.warm)
            from .warm import load as load_trained
            g_state, d_state = load_trained(cfg)
            self.G.load_state_dict(g_state)
            self.D.load_state_dict(d_state)
        self.G.to(self.device)
        self.D.to(self.device)
        # Spectral norm's power iterations: one per update of that network (gan_lab.spectral).
        self.sn_g, self.sn_d = spectral.layers(self.G), spectral.layers(self.D)
        self.rng = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        eval_rng = torch.Generator().manual_seed(cfg.seed + 2)
        n_eval = self.kind.n_eval
        self.z_eval = torch.randn(n_eval, cfg.latent_dim, generator=eval_rng).to(self.device)
        self.eval_real = self.data.sample(n_eval, torch.Generator(device=self.device)
                                          .manual_seed(cfg.seed + 3), self.device)
        self.opt_g = self._make_opt(self.G, cfg.lr_g)
        self.opt_d = self._make_opt(self.D, cfg.lr_d)
        self.step = 0
        # On the CPU every loss is checked before its update (a check costs nothing there); on
        # a GPU a check would cost a host sync per step, so a chunk runs through and a bad one
        # is rolled back (gan_lab.run).
        self.checks_each_step = self.device.type == "cpu"
        self._build_regularizers()
        self.lam_ctl = adaptive.Controller.fresh(cfg)   # the adaptive lambda (lam_goal)
        self._zeros = (torch.zeros((), device=self.device),) * (len(LOSS_KEYS) - 5)

    # --- setup ---------------------------------------------------------------------------------
    def _make_opt(self, net, lr):
        c = self.cfg
        if c.optimizer == "adam":
            # foreach: one call over all of a network's tensors instead of a Python loop over
            # them (torch picks it only on a GPU); the same arithmetic, bit-identical weights
            # on the CPU, ~5% more ring8 steps/s (issue 19).
            return torch.optim.Adam(net.parameters(), lr=lr, betas=(c.beta1, c.beta2),
                                    foreach=True)
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=c.beta1)

    def _build_regularizers(self):
        c = self.cfg
        mods = (self.G, self.D)
        extras = extras_of(c)
        self._extra = {}     # loss-row column -> the extra regularizer it logs
        for tag, net in (("g", self.G), ("d", self.D)):
            params = reg_params(net, c.reg_bias)
            # modules: the nets the losses run through (HSN1R's fd method replays their
            # activation branches; see regularizers.HSN1R).
            reg = make_regularizer(c.reg if c.reg_target in (tag, "both") else "none", params, c,
                                   modules=mods)
            mine = [(make_regularizer(e.kind, params, c, modules=mods), e.lam)
                    for e in extras if tag in e.nets]
            if mine:   # more than one regularizer (regularizers.combo)
                reg = Combined(reg, mine)
                self._extra.update({extra_key(r.kind, tag): r for r, _ in mine})
            setattr(self, f"reg_{tag}", reg)

    @property
    def lam(self) -> float:
        """The primary regularizer's lambda in use: cfg.lam, or the adaptive one (lam_goal)."""
        return self.lam_ctl.lam if adaptive.on(self.cfg) else self.cfg.lam

    def lr_scale(self) -> float:
        """Multiplier of the base learning rates at the current step (the lr schedule)."""
        return schedule_scale(self.cfg.lr_schedule, self.step, self.cfg.steps)

    def _set_lrs(self):
        k = self.lr_scale()
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * k

    def _set_hyper(self):
        """Learning rates, betas / momentum from the config (kept moments untouched)."""
        self._set_lrs()
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                if "betas" in group:
                    group["betas"] = (self.cfg.beta1, self.cfg.beta2)
                elif "momentum" in group:
                    group["momentum"] = self.cfg.beta1

    def apply(self, new: RunConfig | None = None, /, **changes) -> RunConfig:
        """Change LIVE_FIELDS in place, keeping weights and optimizer state: by `changes`
        (checked here), or to `new`, validated by the caller (live fields changed only)."""
        new = live_change(self.cfg, changes) if new is None else new
        old = self.cfg
        self.cfg = new
        self._set_hyper()
        if any(getattr(old, k) != getattr(new, k) for k in regularizers.rebuild_fields()):
            self._build_regularizers()
        fresh = old.reg != new.reg or old.reg_target != new.reg_target
        self.lam_ctl = adaptive.Controller.fresh(new) if fresh else self.lam_ctl.synced(new)
        return new

    # --- training ------------------------------------------------------------------------------
    def _one_step(self):
        c, dev, rng = self.cfg, self.device, self.rng
        bs = c.batch_size
        D, G = self.D, self.G
        if c.lr_schedule != "constant":
            self._set_lrs()
        k = self.lr_scale()
        lam = self.lam
        gp = torch.zeros((), device=dev)
        for _ in range(c.d_steps):
            real = self.data.sample(bs, rng, dev)
            z = torch.randn(bs, c.latent_dim, generator=rng, device=dev)
            with torch.no_grad():
                fake = G(z)
            e = (penalties.interpolation_weights(real, rng)
                 if c.loss == "wgan-gp" and c.gp_weight > 0 else None)
            spectral.power_step(self.sn_d)
            self.opt_d.zero_grad(set_to_none=True)
            # The regularizer runs the loss (a closure: some methods evaluate it more than once)
            # and the backward of loss + penalty; see regularizers.Regularizer.backward.
            ld, total = self.reg_d.backward(
                lambda real=real, fake=fake: d_loss_on(c.loss, D, real, fake), lam, self.step)
            # D's gradient penalties (gan_lab.penalties): more backwards into the same .grad.
            gp = torch.zeros((), device=dev)
            if c.d_r1 > 0:
                gp = gp + penalties.r1_backward(D, real, c.d_r1)
            if e is not None:
                gp = gp + penalties.gp_backward(D, real, fake, e, c.gp_weight)
            total = total + gp
            if self.checks_each_step and not torch.isfinite(total):
                return self._bad_row(ld, None, gp)
            self.opt_d.step()
            self.reg_d.after_step(lam, c.lr_d * k)
        spectral.power_step(self.sn_g)
        # D's weights need no gradient for G's update; skipping them saves a third of backward.
        D.requires_grad_(False)
        try:
            z = torch.randn(bs, c.latent_dim, generator=rng, device=dev)
            self.opt_g.zero_grad(set_to_none=True)
            lg, total = self.reg_g.backward(lambda: g_loss(c.loss, D(G(z))), lam, self.step)
            if self.checks_each_step and not torch.isfinite(total):
                return self._bad_row(ld, lg, gp)
        finally:
            D.requires_grad_(True)
        self.opt_g.step()
        self.reg_g.after_step(lam, c.lr_g * k)
        if c.g_ema > 0:
            update_average(G, c.g_ema, self.step)
        self.step += 1
        return (ld.detach(), lg.detach(), *self._pens(gp))

    def _pens(self, gp):
        """The row's penalty columns: reg_d, reg_g, gp_d and the extra regularizers'."""
        dev, ex = self.device, self._extra
        base = (_as_tensor(self.reg_d.value_tensor, dev), _as_tensor(self.reg_g.value_tensor, dev),
                gp)
        if not ex:   # one regularizer: the extra columns are zeros (a tensor reused, not made)
            return (*base, *self._zeros)
        return (*base, *(_as_tensor(ex[k].value_tensor, dev) if k in ex else self._zeros[0]
                         for k in LOSS_KEYS[5:]))

    def _bad_row(self, ld, lg, gp):
        # A non-finite loss: the update is skipped, so weights and optimizer state stay good.
        nan = torch.tensor(float("nan"), device=self.device)
        ld = ld.detach() if torch.isfinite(ld) or lg is None else nan
        lg = nan if lg is None else lg.detach()
        return (ld, lg, *self._pens(gp))

    def run_steps(self, n: int) -> np.ndarray:
        """n training steps; returns [n, len(LOSS_KEYS)] float64 rows (one host sync).

        With checks_each_step (CPU) a non-finite loss ends the chunk early with a NaN row and no
        update; without (GPU) the chunk runs through and its caller rolls a bad one back."""
        rows = []
        for _ in range(n):
            row = torch.stack(self._one_step())
            rows.append(row)
            if self.checks_each_step and not bool(torch.isfinite(row[:2]).all()):
                break
        return torch.stack(rows).double().cpu().numpy()

    # --- state ---------------------------------------------------------------------------------
    def export_state(self, to: str | None = "cpu") -> TrainState:
        """A copy of the full training state: on the CPU (to="cpu"; picklable), or on the
        trainer's own device (to=None; a cheap rollback point on a GPU)."""
        return TrainState(step=int(self.step), g=copied(self.G.state_dict(), to),
                          d=copied(self.D.state_dict(), to),
                          opt_g=copied(self.opt_g.state_dict(), to),
                          opt_d=copied(self.opt_d.state_dict(), to),
                          rng=(self.rng.device.type, self.rng.get_state().clone()),
                          reg_g=reg_state(self.reg_g, to), reg_d=reg_state(self.reg_d, to),
                          lam_ctl=self.lam_ctl.state())

    def import_state(self, st: TrainState) -> None:
        """Load a TrainState (from any device) into this trainer, built from the current config.

        The optimizers keep the hyperparameters this trainer set from its config (a live change
        of lr or betas since the state was saved takes effect) and take the saved moments. The
        state is copied, never aliased: training on does not write into `st`."""
        self.G.load_state_dict(st.g)
        self.D.load_state_dict(st.d)
        for opt, sd in ((self.opt_g, st.opt_g), (self.opt_d, st.opt_d)):
            hyper = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
            opt.load_state_dict(copied(sd, None))
            for g, h in zip(opt.param_groups, hyper, strict=True):
                g.update(h)
        if st.rng is not None:
            kind, state = st.rng
            if kind != self.rng.device.type:
                raise ValueError(f"the saved random state is for {kind}, this trainer runs on "
                                 f"{self.rng.device.type}")
            self.rng.set_state(state)
        self.reg_g.load_state_dict(st.reg_g)
        self.reg_d.load_state_dict(st.reg_d)
        self.lam_ctl = adaptive.Controller.from_state(st.lam_ctl, self.cfg)
        self.step = int(st.step)

    def load_weights(self, g_state: dict, d_state: dict, step: int = 0) -> None:
        """Continue from saved weights (checkpoint.load_checkpoint has checked the shapes).
        Optimizer moments restart from zero: checkpoints hold weights, not optimizer state."""
        self.G.load_state_dict(g_state)
        self.D.load_state_dict(d_state)
        self.opt_g = self._make_opt(self.G, self.cfg.lr_g)
        self.opt_d = self._make_opt(self.D, self.cfg.lr_d)
        self._build_regularizers()
        self.lam_ctl = adaptive.Controller.fresh(self.cfg)
        self.step = int(step)

    def state_dicts(self) -> tuple[dict, dict]:
        """CPU copies of G's and D's weights (G's with its weight average, if any)."""
        return ({k: v.detach().to("cpu", copy=True) for k, v in self.G.state_dict().items()},
                {k: v.detach().to("cpu", copy=True) for k, v in self.D.state_dict().items()})

    # --- measurement ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int | None = None, z: torch.Tensor | None = None) -> np.ndarray:
        """Generator samples (from G's weight average when g_ema > 0) for the fixed evaluation
        noise (or given z) as numpy."""
        if z is None:
            z = self.z_eval if n is None else self.z_eval[:n]
        return generate(self.G, z.to(self.device)).float().cpu().numpy()

    def view_samples(self) -> np.ndarray:
        """What the samples plot shows: 1,000 points, or an 8x8 grid of digits."""
        return self.sample(self.kind.n_view)

    def named_reg_params(self, net) -> list[tuple[str, torch.Tensor]]:
        """The regularized tensors as the network computes with them (W/sigma where spectrally
        normalized): what sparsity counts and the weight histograms draw."""
        return shown_weights(net.state_dict(), self.cfg.reg_bias)

    def evaluate(self, sharp: bool = False, quality: bool = True,
                 final: bool = False) -> dict[str, float]:
        """Sparsity and weight spectra always; sample quality (the dataset kind's: modes / grid
        KL, or MNIST classifier metrics and D's generalization gap) when `quality`; sharpness
        when `sharp`. During a run sharpness uses a cheaper estimate (10 power iterations on 128
        samples) so the trainer stalls for less; `final` (end of run, summary.json) uses 20
        iterations on 256 samples."""
        c = self.cfg
        out: dict[str, float] = {}
        for tag, net in (("g", self.G), ("d", self.D)):
            s = metrics.sparsity(self.named_reg_params(net), c.sparsity_eps)
            out[f"sparsity_{tag}"] = s["frac_small"]
            out[f"zeros_{tag}"] = s["frac_zero"]
            out[f"wspec_{tag}"] = spectral.spectra_product(net)
        if quality:   # the dataset kind's metrics (gan_lab.data)
            out.update(self.kind.quality(self, self.sample()))
        if sharp:
            out.update(self.sharpness() if final else self.sharpness(iters=10, n=128))
        if adaptive.on(c):   # the adaptive lambda's curve, and an L2 goal's measure
            out["lam"] = self.lam
            if c.reg == "l2":
                net = self.D if c.reg_target == "d" else self.G
                out[f"wnorm_{c.reg_target}"] = adaptive.weight_norm(reg_params(net, c.reg_bias))
        return out

    def adapt(self, m: dict[str, float], sharp: bool) -> str | None:
        """One measurement of the adaptive lambda (gan_lab.adaptive) from the evaluation `m`
        (HSN1R's: one with sharpness); m["lam"] becomes the lambda used from here on. Returns
        the report when this measurement finds the goal unreachable."""
        c = self.cfg
        if not adaptive.on(c) or (c.reg == "hsn1r" and not sharp):
            return None
        key = adaptive.MEASURE[c.reg].format(c.reg_target)
        note = self.lam_ctl.update(c.reg, m.get(key, math.nan), spec("lam")["hi"], c.reg_target)
        m["lam"] = self.lam
        return note

    def sharpness(self, iters: int = 20, n: int = 256) -> dict[str, float]:
        """Top |Hessian eigenvalue| of D's and G's losses on a fixed evaluation batch.
        Each power iteration is a Hessian-vector product (~3 backward passes) per network."""
        n = min(n, self.z_eval.shape[0])
        sd, sg = metrics.gan_sharpness(self.G, self.D, self.cfg.loss, self.eval_real[:n],
                                       self.z_eval[:n], iters=iters)
        return {"sharpness_d": sd, "sharpness_g": sg}


def _as_tensor(v, device) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.detach().reshape(()).to(device=device, dtype=torch.float32)
    return torch.tensor(float(v), device=device)
