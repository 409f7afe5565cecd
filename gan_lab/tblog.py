"""TensorBoard export: `--tensorboard DIR` on `train` and `sweep` writes each run's curves as
TensorBoard event files under DIR/<run> (train: the --out folder's name; sweep: each run's
folder, e.g. `reg=l1,lam=0.01/seed0`), so `tensorboard --logdir DIR` shows every run:

- scalars at every metrics.csv row: `loss/loss_d`, `loss/loss_g`, `penalty/reg_d`,
  `penalty/reg_g`, `penalty/gp_d` (the losses and penalties, averaged over the steps since the
  previous row, as metrics.csv has them) and `lambda/lam` (lambda at that step);
- scalars at every evaluation: `metrics/<key>` for each metric the run measured (modes,
  hq_frac, fcd, d_gap, sparsity_d, sharpness_d, wspec_d, ...);
- histograms at every evaluation step and the last: `weights/G/<layer>` and `weights/D/<layer>`
  of the regularized tensors as the networks compute with them (W / sigma under spectral norm),
  the tensors the app's weight histograms draw (models.shown_weights).

The writer is torch.utils.tensorboard.SummaryWriter. The tensorboard package is optional (like
Ray; requirements-tensorboard.txt; not installed on the Space): `require()` reports its absence
as a ConfigError, which the CLI turns into one line and exit status 2. A run written again into
the same folder replaces its curves (the writer marks a restart at step 0, `purge_step`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

INSTALL = "pip install -r requirements-tensorboard.txt -c constraints.txt"
# Event files a Ray task returns among a run's files carry this prefix (sweep.execute).
FILE_PREFIX = "tensorboard:"


def require() -> None:
    """Raise ConfigError when the tensorboard package (and torch's writer for it) is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard", f"needs the optional tensorboard package, which is "
                                           f"not installed: {INSTALL}") from None


def log_dir(root: str, run: str) -> Path:
    """DIR/<run> for `--tensorboard DIR`, after checking the package is there and DIR is a
    folder name (ConfigError otherwise)."""
    require()
    if not str(root).strip():
        raise ConfigError("--tensorboard", "needs a folder name")
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise ConfigError("--tensorboard", f"{str(root)[:80]} exists and is not a folder")
    return path / run


class TensorBoardLog:
    """One run's event files in `log_dir` (created)."""

    def __init__(self, log_dir: str | Path):
        require()
        from torch.utils.tensorboard import SummaryWriter

        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._w = SummaryWriter(str(self.dir), purge_step=0)

    def losses(self, step: int, row: dict[str, float], lam: float) -> None:
        """One metrics.csv row: the loss and penalty columns, and lambda."""
        for k, v in row.items():
            if k != "step":
                self._w.add_scalar(f"{'loss' if k.startswith('loss') else 'penalty'}/{k}",
                                   float(v), step)
        self._w.add_scalar("lambda/lam", float(lam), step)

    def metrics(self, step: int, m: dict[str, float]) -> None:
        for k, v in m.items():
            if k != "step":
                self._w.add_scalar(f"metrics/{k}", float(v), step)

    def weights(self, step: int, nets: dict[str, object], reg_bias: bool) -> None:
        """Histograms of each network's shown weights, one per tensor: nets is {"G": G, ...}."""
        from .models import shown_weights

        for tag, net in nets.items():
            for name, t in shown_weights(net.state_dict(), reg_bias):
                self._w.add_histogram(f"weights/{tag}/{name}", t.detach().float().cpu(), step)

    def close(self) -> None:
        self._w.close()


def event_files(log_dir: str | Path) -> dict[str, bytes]:
    """The event files of a run's log folder, prefixed with FILE_PREFIX (to send them along
    with the run's files)."""
    d = Path(log_dir)
    return {FILE_PREFIX + p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def split_files(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(run files, event files by their own names) of what train_files returned."""
    run = {k: v for k, v in files.items() if not k.startswith(FILE_PREFIX)}
    events = {k[len(FILE_PREFIX):]: v for k, v in files.items() if k.startswith(FILE_PREFIX)}
    return run, events


def write_event_files(log_dir: str | Path, events: dict[str, bytes]) -> None:
    d = Path(log_dir)
    d.mkdir(parents=True, exist_ok=True)
    for name, data in events.items():
        if "/" in name or name.startswith(".") or not name.startswith("events.out.tfevents"):
            raise ValueError(f"bad event file name {name!r}")
        (d / name).write_bytes(data)
