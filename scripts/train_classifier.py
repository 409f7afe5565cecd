"""Train the evaluation classifier behind the MNIST metrics and write its provenance.

Trains gan_lab.classifier.DigitCNN on the 8,000 train-split digits of the bundled set
(assets/mnist_10k.npz, gan_lab.data.mnist.split()), measures accuracy on the 2,000 held-out
digits, saves assets/mnist_classifier.safetensors and writes assets/CLASSIFIER.md with the exact
command, seed, epochs, held-out accuracy and the real-digit reference metrics.

Usage:
    python scripts/train_classifier.py [--epochs 20] [--seed 0] [--threads 2]

CPU only and deterministic for a given seed and thread count (a few minutes on 2 cores).
The held-out digits are never used for training or model selection: the weights saved are those
after the last epoch, and held-out accuracy is only reported.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gan_lab import metrics  # noqa: E402
from gan_lab.classifier import ASSET, DigitCNN, load_classifier  # noqa: E402
from gan_lab.data import mnist  # noqa: E402

DOC = ROOT / "assets" / "CLASSIFIER.md"


def augment(x01: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine jitter (shift <= 2 px, rotation <= 10 deg, scale 0.9-1.1).

    Works on [0, 1] pixels so grid_sample's zero padding is background, not mid-gray.
    """
    n = len(x01)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=gen)
    ang = u(-10, 10) * math.pi / 180
    scale = u(0.9, 1.1)
    tx, ty = u(-2, 2) * 2 / 28, u(-2, 2) * 2 / 28  # pixels -> normalized [-1, 1] coords
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x01.shape), align_corners=False)
    return F.grid_sample(x01, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def accuracy(net: DigitCNN, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


def train(x_tr: torch.Tensor, y_tr: torch.Tensor, x_ho: torch.Tensor, y_ho: torch.Tensor,
          epochs: int, seed: int, batch: int = 64, lr: float = 2e-3, log=print) -> DigitCNN:
    """x in [-1, 1], [N, 1, 28, 28]. One-cycle Adam; the last epoch's weights are returned."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DigitCNN()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(x_tr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch)
    x01 = (x_tr + 1) / 2
    for ep in range(epochs):
        net.train()
        t0 = time.time()
        perm = torch.randperm(len(x_tr), generator=gen)
        tot = 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            xb = augment(x01[idx], gen) * 2 - 1
            loss = F.cross_entropy(net(xb), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        log(f"epoch {ep + 1:2d}/{epochs}  train loss {tot / len(x_tr):.4f}  "
            f"held-out acc {accuracy(net, x_ho, y_ho):.4f}  ({time.time() - t0:.1f}s)")
    return net.eval()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    images, labels = mnist.load_bundled()
    tr_idx, ho_idx = mnist.split()
    # torch.tensor copies: the loader's arrays are read-only and shared.
    x = torch.tensor(images, dtype=torch.float32).div(127.5).sub(1).reshape(-1, 1, 28, 28)
    y = torch.tensor(labels, dtype=torch.long)
    tr_idx, ho_idx = torch.tensor(tr_idx), torch.tensor(ho_idx)
    print(f"train {len(tr_idx)} digits, held-out {len(ho_idx)} digits")

    t0 = time.time()
    net = train(x[tr_idx], y[tr_idx], x[ho_idx], y[ho_idx], args.epochs, args.seed)
    train_s = time.time() - t0
    acc = accuracy(net, x[ho_idx], y[ho_idx])
    print(f"held-out accuracy {acc:.4f} after {args.epochs} epochs ({train_s:.0f}s)")

    from safetensors.torch import save_file

    ASSET.parent.mkdir(parents=True, exist_ok=True)
    # No metadata: safetensors writes it from a hash map in arbitrary order, which would make
    # the file's bytes (and the SHA-256 in CLASSIFIER.md) differ between identical runs.
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(ASSET))

    # Reference numbers come from the asset as saved, exactly as the app will load it.
    clf = load_classifier("cpu")
    assert abs(accuracy(clf, x[ho_idx], y[ho_idx]) - acc) < 1e-9
    per_class = [float((clf(x[ho_idx][y[ho_idx] == d]).argmax(1) == d).float().mean())
                 for d in range(10)]
    ref = {n: metrics.real_reference_metrics(n=n, clf=clf) for n in (1000, len(tr_idx))}
    t = time.time()
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    noise_m = metrics.mnist_metrics(noise, clf)
    eval_ms = (time.time() - t) * 1000
    write_doc(args, acc, per_class, ref, noise_m, eval_ms, train_s, len(tr_idx), len(ho_idx))
    print(f"wrote {ASSET.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    for n, r in ref.items():
        print(f"real reference (FCD with n={n}): {r}")


def write_doc(args, acc, per_class, ref, noise_m, eval_ms, train_s, n_tr, n_ho) -> None:
    r = ref[1000]
    cmd = "python scripts/train_classifier.py"
    if (args.epochs, args.seed, args.threads) != (20, 0, 2):
        cmd += f" --epochs {args.epochs} --seed {args.seed} --threads {args.threads}"
    per = ", ".join(f"{d}: {a:.3f}" for d, a in enumerate(per_class))
    sha = hashlib.sha256(ASSET.read_bytes()).hexdigest()
    text = f"""# MNIST evaluation classifier

`assets/mnist_classifier.safetensors` holds the weights of `gan_lab.classifier.DigitCNN`, the
small CNN behind the MNIST metrics (`gan_lab.metrics.mnist_metrics`). It is loaded with
safetensors (no pickle) by `gan_lab.classifier.load_classifier()`; nothing trains at run time.

## How it was made
- Command: `{cmd}` (torch {torch.__version__}, CPU, {args.threads} threads; training took
  {train_s:.0f} s of wall time on a shared, busy machine, about 1 s per epoch when idle)
- Weights SHA-256: `{sha}`
- Data: the bundled digits `assets/mnist_10k.npz` (npm `mnist` 1.1.0, see DESIGN.md), pixels
  scaled to [-1, 1]; trained on the {n_tr:,} train-split digits of `gan_lab.data.mnist.split()`,
  evaluated on the {n_ho:,} held-out digits, which are never used for training or for choosing
  the weights (the weights are those after the last epoch).
- Model: conv3x3(16)-ReLU-maxpool, conv3x3(32)-ReLU-maxpool, FC 1568->128-ReLU (the
  128-dimensional penultimate features used by FCD), dropout 0.3, FC 128->10.
- Training: seed {args.seed}, {args.epochs} epochs, batch 64, Adam with a one-cycle schedule
  (max lr 2e-3), cross-entropy without label smoothing (so p(y|x) stays sharp on real digits),
  random affine augmentation (shift <= 2 px, rotation <= 10 degrees, scale 0.9-1.1).

## Measured
- Held-out accuracy: **{acc * 100:.2f}%** ({n_ho:,} digits). Per class:
  {per}.
- Reference metrics of real digits (`gan_lab.metrics.real_reference_metrics()`): the held-out
  digits give digits covered **{r['digits_covered']}**/10, class KL **{r['class_kl']:.4f}** nats
  (the split is not perfectly balanced, so this is the floor, not 0), classifier inception
  score **{r['cls_is']:.3f}**.
- FCD baseline (train-split real digits vs the held-out digits; FCD is biased upward for small
  samples, so compare a generator with the row of the same sample size):
  - n = 1,000 train-split digits: **{ref[1000]['fcd']:.3f}**
  - n = {n_tr:,} train-split digits: **{ref[n_tr]['fcd']:.3f}**
- Uniform noise in [-1, 1] (1,000 images): digits covered {noise_m['digits_covered']},
  class KL {noise_m['class_kl']:.3f}, IS {noise_m['cls_is']:.3f}, FCD {noise_m['fcd']:.1f}.
- Speed: `mnist_metrics` on 1,000 images took {eval_ms:.0f} ms on this CPU (reference
  statistics already cached).

## Caveats
- Trained on only 8,000 digits; a generator that draws shapes this classifier has never seen
  can still get confident (wrong) labels, so read IS and digits covered together with FCD.
- Retraining with another seed or thread count changes the weights and every number above.
"""
    DOC.write_text(text)


if __name__ == "__main__":
    main()
