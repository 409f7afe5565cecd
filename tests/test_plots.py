"""gan_lab.plots on snapshots from the real trainer (small nets, a few dozen steps).

PNGs of the main figures are written to tests/output/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import re
import threading
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.quiver import Quiver

from gan_lab import metrics, plots
from gan_lab.config import RunConfig
from gan_lab.jobs import TrainingJob
from gan_lab.plots import canvas, curves, samples, weights
from gan_lab.run import Run
from gan_lab.snapshot import snapshot_of

OUT = Path(__file__).parent / "output"
SMALL = dict(g_hidden=32, d_hidden=32, batch_size=64, sharpness_every=0)


def _job_snapshots(cfg: RunConfig, chunks: list[int], points=None):
    job = TrainingJob(cfg, points)
    try:
        snaps = []
        for n in chunks:
            job.step(n)
            job.wait(timeout=120)
            snaps.append(job.snapshot())
        return snaps
    finally:
        job.stop()


def _run_snapshot(cfg: RunConfig, steps: int, points=None):
    # The CLI's path (snapshot_of a Run), without evaluations: MNIST needs no classifier.
    run = Run(cfg, points, start_eval=None)
    run.advance(steps, view=False)
    return snapshot_of(run)


@pytest.fixture(scope="module")
def ring():
    """Two snapshots of one ring8 run, at steps 20 and 40."""
    return _job_snapshots(RunConfig(dataset="ring8", steps=40, eval_every=20, seed=0, **SMALL),
                          [20, 20])


@pytest.fixture(scope="module")
def l1():
    """grid25 with proximal L1 on both nets, biases included: exact zeros appear."""
    cfg = RunConfig(dataset="grid25", steps=30, eval_every=30, reg="l1", l1_mode="proximal",
                    lam=0.5, reg_target="both", reg_bias=True, lr_g=2e-3, lr_d=2e-3, **SMALL)
    return _job_snapshots(cfg, [30])[0]


@pytest.fixture(scope="module")
def mnist():
    cfg = RunConfig(dataset="mnist", latent_dim=8, g_depth=1, d_depth=1, **SMALL)
    return _run_snapshot(cfg, 2)


def _ax(fig):
    return fig.axes[0]


def _texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def _full_draw(fig) -> np.ndarray:
    """The figure drawn by matplotlib's own Agg canvas, bypassing the cached background."""
    FigureCanvasAgg.draw(fig.canvas)
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


# ------------------------------------------------------------------------------------------------
# Frames


def test_loss_frame_has_documented_columns_and_finite_values(ring):
    snap = ring[1]
    df = plots.loss_frame(snap)
    assert list(df.columns) == ["step", "value", "series"]
    assert df["step"].dtype == np.int64 and df["value"].dtype == np.float64
    assert set(df["series"]) == {"D loss", "G loss"}  # no regularizer: no penalty series
    assert np.isfinite(df["value"]).all()
    d = df[df["series"] == "D loss"]
    assert list(d["step"]) == list(snap.history["step"])
    np.testing.assert_allclose(d["value"], snap.history["loss_d"])


def test_loss_frame_penalties_nonfinite_and_row_cap(l1):
    df = plots.loss_frame(l1)
    assert set(df["series"]) == {"D loss", "G loss", "D penalty", "G penalty"}
    n = 5000
    steps = np.arange(1, n + 1)
    loss_d = np.linspace(1, 2, n)
    loss_d[[3, 10]] = [np.nan, np.inf]
    loss_d[2345] = 1e6   # a one-step spike: thinning keeps it
    hist = {"step": steps, "loss_d": loss_d, "loss_g": np.ones(n), "reg_d": np.zeros(n),
            "reg_g": np.full(n, np.nan)}
    df = plots.loss_frame(dataclasses.replace(l1, history=hist))
    assert set(df["series"]) == {"D loss", "G loss"}  # all-zero / all-NaN penalties left out
    assert np.isfinite(df["value"]).all()
    d = df[df["series"] == "D loss"]
    assert 0.9 * curves.MAX_ROWS_PER_SERIES <= len(d) <= curves.MAX_ROWS_PER_SERIES
    assert d["step"].iloc[0] == 1 and d["step"].iloc[-1] == n
    assert d["value"].max() == 1e6 and 2346 in set(d["step"])
    assert (np.diff(d["step"].to_numpy()) > 0).all()   # in step order
    assert not {4, 11} & set(d["step"])
    # A class sharing the server gets fewer rows, the spike still in them.
    d = plots.loss_frame(dataclasses.replace(l1, history=hist), curves.CLASS_ROWS_PER_SERIES)
    d = d[d["series"] == "D loss"]
    assert 0.9 * curves.CLASS_ROWS_PER_SERIES <= len(d) <= curves.CLASS_ROWS_PER_SERIES
    assert d["value"].max() == 1e6 and d["step"].iloc[-1] == n


def test_metric_frames_one_scale_per_chart(ring, l1):
    snap = ring[1]
    q = plots.metric_frame(snap, "coverage")
    assert list(q.columns) == ["step", "value", "series"]
    assert set(q["series"]) == {"modes captured"}
    hq = plots.metric_frame(snap, "fidelity")
    assert set(hq["series"]) == {"high-quality %"}
    np.testing.assert_allclose(hq["value"], snap.metrics["hq_frac"] * 100)
    assert list(hq["step"]) == [0, 20, 40]
    dv = plots.metric_frame(snap, "divergence")
    assert set(dv["series"]) == {"reverse KL", "grid KL", "grid JS"}   # all in nats
    s = plots.metric_frame(l1, "sparsity")
    assert set(s["series"]) == {"G sparse %", "D sparse %", "G zeros %", "D zeros %"}
    assert ((s["value"] >= 0) & (s["value"] <= 100)).all()
    last = s[s["step"] == l1.step].set_index("series")["value"]
    assert last["D zeros %"] == pytest.approx(l1.latest["zeros_d"] * 100)
    sh = plots.metric_frame(snap, "sharpness")
    assert set(sh["series"]) == {"D sharpness", "G sharpness"}  # measured at the end
    assert np.isfinite(sh["value"]).all()
    for kind in plots.METRIC_SERIES:
        e = plots.metric_frame(dataclasses.replace(snap, metrics={}), kind)
        assert list(e.columns) == ["step", "value", "series"] and len(e) == 0
    with pytest.raises(ValueError, match="unknown metric kind"):
        plots.metric_frame(snap, "nope")


def test_metric_frames_for_mnist_and_shapes(ring):
    m = {"step": np.array([0, 100]), "digits_covered": np.array([3.0, 9.0]),
         "cls_is": np.array([1.5, np.nan]), "fcd": np.array([300.0, 120.0]),
         "class_kl": np.array([1.2, 0.1]), "sparsity_g": np.array([0.0, 0.1])}
    snap = dataclasses.replace(ring[1], metrics=m)
    assert set(plots.metric_frame(snap, "coverage")["series"]) == {"digits covered"}
    f = plots.metric_frame(snap, "fidelity")
    assert set(f["series"]) == {"inception score"} and len(f) == 1   # the NaN row is dropped
    assert set(plots.metric_frame(snap, "divergence")["series"]) == {"FCD"}
    # A shape without mode centres has no coverage chart, but a divergence curve.
    m = {"step": np.array([0, 100]), "grid_kl": np.array([3.0, 1.0]),
         "grid_js": np.array([0.5, 0.2])}
    snap = dataclasses.replace(ring[1], metrics=m)
    assert len(plots.metric_frame(snap, "coverage")) == 0
    assert set(plots.metric_frame(snap, "divergence")["series"]) == {"grid KL", "grid JS"}
    assert plots.metric_title("fidelity", True).startswith("Inception score")


def test_layer_names(ring, mnist):
    names = plots.layer_names(ring[1])
    assert names[0] == "all"
    assert "D net.0.weight" in names and "G net.6.weight" in names
    assert not any(n.endswith(".bias") for n in names)
    assert len(names) == 1 + RunConfig().g_depth + 1 + RunConfig().d_depth + 1  # hidden + output
    conv = _run_snapshot(RunConfig(dataset="mnist", arch="conv", g_hidden=8, d_hidden=8,
                                       latent_dim=8, batch_size=16), 1)
    names = plots.layer_names(conv)
    assert "D net.0.weight" in names  # a 4-D conv kernel
    assert "G fc.weight" in names
    fig = plots.FigureRenderer().weights(conv, "G net.1.weight")  # a transposed-conv kernel
    assert "G net.1.weight" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# Samples figure


def test_samples_figure_artists_follow_the_toggles(ring):
    snap = ring[1]
    r = plots.FigureRenderer()
    fig = r.samples(snap)
    ax = _ax(fig)
    heat = [a for a in ax.get_children() if isinstance(a, canvas.Raster)]
    assert len(heat) == 1 and heat[0].get_visible()
    assert heat[0].rgba.shape == (samples.HEAT_RES, samples.HEAT_RES, 4)
    assert fig.axes[1].get_visible()  # the D(x) colour bar
    scatters = [a for a in ax.collections if isinstance(a, PathCollection)]
    counts = sorted(len(s.get_offsets()) for s in scatters)
    assert counts == sorted([len(snap.samples), len(snap.real)])
    (q,) = [a for a in ax.collections if isinstance(a, Quiver)]
    assert q.get_visible() and q.N == samples.N_ARROWS
    assert np.isfinite(q.U).all() and np.isfinite(q.V).all()
    assert np.hypot(q.U, q.V).max() > 0
    (mani,) = [a for a in ax.collections if isinstance(a, LineCollection)]
    assert mani.get_visible() and len(mani.get_segments()) == 2 * samples.MANIFOLD_LINES
    assert "step 40" in _texts(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["real data", "generated", "G gradient", "G manifold (z grid)"]
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "samples_ring8.png")

    fig2 = r.samples(snap, heatmap=False, arrows=False, manifold=False)
    assert fig2 is fig
    assert not heat[0].get_visible() and not fig.axes[1].get_visible()
    assert not q.get_visible() and not mani.get_visible()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["real data", "generated"]
    r.samples(snap, heatmap=True, arrows=False, manifold=False)
    assert heat[0].get_visible() and not q.get_visible()


def test_arrows_point_where_the_generator_loss_falls(ring):
    """Each arrow is -d g_loss/d x: a small step along it lowers the generator's loss there."""
    snap = ring[1]
    r = plots.FigureRenderer()
    q = next(a for a in _ax(r.samples(snap)).collections if isinstance(a, Quiver))
    _, D = r._nets(snap)
    # float64: after 40 steps D is nearly flat, and a 1e-3 step changes the loss by less than
    # float32 resolution at some points.
    D = copy.deepcopy(D).double()
    x = torch.from_numpy(np.asarray(q.get_offsets())).double()
    step = 1e-3 * torch.from_numpy(np.stack([q.U, q.V], 1)).double()
    from gan_lab.losses import g_loss

    with torch.no_grad():
        before = torch.stack([g_loss(snap.cfg.loss, D(p[None])) for p in x])
        after = torch.stack([g_loss(snap.cfg.loss, D(p[None])) for p in x + step])
    assert (after < before).float().mean() > 0.95


def test_renderer_reuses_figures_and_skips_unchanged_frames(ring):
    a, b = ring
    r = plots.FigureRenderer()
    fig = r.samples(a)
    n_children = len(_ax(fig).get_children())
    img_a = plots.figure_to_array(fig)
    bg = fig.canvas._bg
    assert r.samples(a) is fig and not r.last_changed  # same weights, same options: cached
    assert r.samples(b) is fig and r.last_changed
    assert len(_ax(fig).get_children()) == n_children and len(fig.axes) == 2
    img_b = plots.figure_to_array(fig)
    assert img_a.shape == img_b.shape
    assert np.abs(img_a.astype(int) - img_b).sum() > 1000  # new weights: a new picture
    assert fig.canvas._bg is bg  # axes unchanged: the cached background was reused

    w = r.weights(a)
    w_a = plots.figure_to_array(w)
    w_children = [len(ax.get_children()) for ax in w.axes]
    assert r.weights(b) is w
    assert [len(ax.get_children()) for ax in w.axes] == w_children
    assert not np.array_equal(plots.figure_to_array(w), w_a)


def test_fast_draw_is_pixel_identical_to_a_full_draw(ring, l1, mnist):
    r = plots.FigureRenderer()
    figs = [r.samples(ring[1]), r.weights(ring[1]), r.weights(l1, "D net.2.weight"),
            r.samples(mnist)]
    for fig in figs:
        fast = plots.figure_to_array(fig)
        np.testing.assert_array_equal(fast, _full_draw(fig))
    # And after a toggle changes what the background holds (colour bar, legend).
    fig = r.samples(ring[1], heatmap=False, manifold=False)
    np.testing.assert_array_equal(plots.figure_to_array(fig), _full_draw(fig))


def test_savefig_png_and_webp_give_the_whole_figure(ring):
    fig = plots.FigureRenderer().samples(ring[1])
    want = plots.figure_to_array(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    got = np.asarray(PIL.Image.open(buf).convert("RGB"))
    np.testing.assert_array_equal(got, want)
    buf = io.BytesIO()
    fig.savefig(buf, format="webp")  # lossy: compare loosely
    got = np.asarray(PIL.Image.open(buf).convert("RGB")).astype(int)
    assert got.shape == want.shape and np.abs(got - want).mean() < 8
    # Another dpi bypasses the cached background and still draws everything.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    small = np.asarray(PIL.Image.open(buf).convert("RGB"))
    assert small.shape == (250, 250, 3) and (small < 100).any()  # axes and text are there


def test_mnist_grid(mnist):
    r = plots.FigureRenderer()
    fig = r.samples(mnist)
    (raster,) = [a for a in _ax(fig).get_children() if isinstance(a, canvas.Raster)]
    side = 8 * (28 + 2) + 2
    assert raster.rgba.shape == (side, side, 4)
    # Tile 0 sits at the top left after a 2-pixel border; pixel values map -1..1 to black..white.
    x = mnist.samples[0, 0]
    want = np.round((np.clip(x, -1, 1) + 1) / 2 * 255)
    np.testing.assert_allclose(raster.rgba[2:30, 2:30, 0], want, atol=3)  # 256-entry LUT
    assert "64 generated digits" in _texts(fig)
    fig.savefig(OUT / "samples_mnist.png")


def _axes_pixels(fig, ax) -> np.ndarray:
    """The rendered RGB pixels inside `ax` (rows top to bottom, as the picture is seen)."""
    FigureCanvasAgg(fig).draw() if fig.canvas is None else fig.canvas.draw()
    buf = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
    bb = ax.bbox
    h = buf.shape[0]
    return buf[h - int(bb.y1) + 2: h - int(bb.y0) - 2, int(bb.x0) + 2: int(bb.x1) - 2]


def test_rasters_are_drawn_upright(mnist):
    """Digits and D's heatmap keep their top at the top (Raster once drew its first row at the
    bottom: every digit upside down, the heatmap flipped in y)."""
    x = np.full_like(mnist.samples, -1.0)
    x[:, :, :10, :] = 1.0                      # a white bar across the top of every tile
    snap = dataclasses.replace(mnist, samples=x)
    st = samples.init_digits(80)
    fig = samples.draw_digits(st, snap)
    px = _axes_pixels(fig, st["ax"]).mean(axis=(1, 2))
    rows = np.nonzero(px > 20)[0]                 # rows of the mosaic drawn (not background)
    first_tile = px[rows[0]: rows[0] + (rows[-1] - rows[0]) // 8]
    half = len(first_tile) // 2
    assert first_tile[:half].mean() > first_tile[half:].mean() + 40

    class UpIsReal(torch.nn.Module):           # D(x) high where x2 > 0 (the top of the plot)
        def forward(self, z):
            return 20.0 * z[:, 1]

    st = samples.init_points(80)
    fig = samples.draw_points(st, ring_like(mnist), lambda s: (None, UpIsReal()),
                              heatmap=True, arrows=False, manifold=False)
    px = _axes_pixels(fig, st["ax"])
    top, bottom = px[: len(px) // 4].mean(axis=(0, 1)), px[-len(px) // 4:].mean(axis=(0, 1))
    # The colour bar's top (D = 1) is green, its bottom (D = 0) purple.
    assert top[1] > top[0] and bottom[0] > bottom[1]


def ring_like(mnist):
    cfg = RunConfig(dataset="ring8", **SMALL)
    return dataclasses.replace(mnist, cfg=cfg, is_image=False, samples=np.zeros((0, 2)),
                               real=np.zeros((0, 2)), bounds=(-1.5, 1.5, -1.5, 1.5))


# ------------------------------------------------------------------------------------------------
# Weights figure


def _reported(fig, name: str) -> tuple[float, float]:
    """(sparse %, exact-zero %) printed above the panel whose heading starts with name."""
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.texts]
        if ax.get_visible() and any(t.startswith(name) for t in texts):
            detail = next(t for t in texts if t.startswith("sparse"))
            m = re.fullmatch(r"sparse ([\d.e-]+)%, zeros ([\d.e-]+)%", detail)
            assert m, detail
            return float(m.group(1)), float(m.group(2))
    raise AssertionError(f"no panel headed {name!r}")


def _weight_count(fig, name: str) -> int:
    for ax in fig.axes:
        for t in ax.texts:
            if ax.get_visible() and t.get_text().startswith(name):
                return int(re.search(r"([\d,]+) weights", t.get_text()).group(1).replace(",", ""))
    raise AssertionError(f"no panel headed {name!r}")


def _close(printed: float, frac: float):
    # Printed with 1 decimal (2 significant digits below 0.1%).
    assert printed == pytest.approx(frac * 100, rel=0.05, abs=0.051)


def test_weights_text_reports_the_same_sparsity_as_metrics(l1):
    fig = plots.FigureRenderer().weights(l1)
    eps = l1.cfg.sparsity_eps
    for name, state, key in (("Generator", l1.g_state, "g"), ("Discriminator", l1.d_state, "d")):
        # reg_bias=True in this run: biases are regularized, so they count, as in the trainer.
        want = metrics.sparsity(list(state.items()), eps)
        sparse, zeros = _reported(fig, name)
        assert _weight_count(fig, name) == want["n"]  # the same tensors, biases included
        assert want["frac_zero"] > 0  # the proximal step made exact zeros: a real check
        _close(sparse, want["frac_small"])
        _close(zeros, want["frac_zero"])
        _close(sparse, l1.latest[f"sparsity_{key}"])  # and the trainer's own log agrees
    fig.savefig(OUT / "weights_l1.png")

    fig = plots.FigureRenderer().weights(l1, "D net.0.weight")
    want = metrics.sparsity([("w", l1.d_state["net.0.weight"])], eps)
    sparse, zeros = _reported(fig, "D net.0.weight")
    assert _weight_count(fig, "D net.0.weight") == l1.d_state["net.0.weight"].numel()
    _close(sparse, want["frac_small"])
    _close(zeros, want["frac_zero"])


def test_weights_figure_accounts_for_every_weight(l1):
    r = plots.FigureRenderer()
    r.weights(l1)
    for tag, state in (("G", l1.g_state), ("D", l1.d_state)):
        p = r._w["panels"][tag]
        values, edges, _ = p["hist"].get_data()
        n = sum(v.numel() for v in state.values())
        zeros = sum(int((v == 0).sum()) for v in state.values())
        assert values.sum() + 100 * zeros / n == pytest.approx(100, abs=1e-6)
        assert len(edges) == weights.HIST_BINS + 1
        line = p["eline"].get_xdata()[0]
        assert line == pytest.approx(np.log10(l1.cfg.sparsity_eps))
        assert zeros > 0 and p["zbar"].get_height() > 0
    assert not r._w["panels"]["one"]["ax"].get_visible()
    # Picking one layer shows one panel; an unknown layer (a stale UI choice) falls back to all.
    r.weights(l1, "G net.2.weight")
    assert r._w["panels"]["one"]["ax"].get_visible()
    assert not r._w["panels"]["G"]["ax"].get_visible()
    r.weights(l1, "G no.such.layer")
    assert r._w["panels"]["G"]["ax"].get_visible()


# ------------------------------------------------------------------------------------------------
# Edge cases


def test_nonfinite_and_degenerate_inputs_do_not_raise(ring):
    snap = ring[1]
    r = plots.FigureRenderer()
    samples = snap.samples.copy()
    samples[::3] = np.nan
    samples[1] = [np.inf, 0.0]
    n_ok = int(np.isfinite(samples).all(1).sum())
    g = {k: v.clone() for k, v in snap.g_state.items()}
    g["net.0.weight"][0] = float("nan")
    d = {k: v.clone() for k, v in snap.d_state.items()}
    d["net.2.weight"][:3] = float("inf")
    bad = dataclasses.replace(snap, samples=samples, g_state=g, d_state=d, weights_version=1000,
                              history={}, metrics={}, bounds=None)
    fig = r.samples(bad)
    ax = _ax(fig)
    counts = sorted(len(s.get_offsets()) for s in ax.collections
                    if isinstance(s, PathCollection))
    assert counts == sorted([n_ok, len(snap.real)])
    assert f"{len(samples) - n_ok} non-finite samples skipped" in _texts(fig)
    assert "not finite" in _texts(fig)
    assert not fig.axes[1].get_visible()  # no colour bar for a heatmap that is all NaN
    plots.figure_to_array(fig)
    w = r.weights(bad)
    assert "not finite" in _texts(w)
    plots.figure_to_array(w)
    assert len(plots.loss_frame(bad)) == 0

    # Everything NaN, every weight equal (a zero-width histogram), all zeros, no samples.
    nan = dataclasses.replace(bad, samples=np.full_like(samples, np.nan), weights_version=1001,
                              g_state={k: torch.zeros_like(v) for k, v in g.items()},
                              d_state={k: torch.full_like(v, 0.25) for k, v in d.items()})
    plots.figure_to_array(r.samples(nan))
    w = r.weights(nan)
    assert _reported(w, "Generator") == (100.0, 100.0)
    assert _reported(w, "Discriminator") == (0.0, 0.0)
    plots.figure_to_array(w)
    empty = dataclasses.replace(bad, samples=None, real=None, weights_version=1002)
    plots.figure_to_array(r.samples(empty))
    mnist_nan = dataclasses.replace(bad, is_image=True, weights_version=1003,
                                    samples=np.full((64, 1, 28, 28), np.nan))
    fig = r.samples(mnist_nan)
    assert "non-finite pixels" in _texts(fig)
    plots.figure_to_array(fig)


def test_custom_points_single_layer_nets_and_one_latent_dim():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 2)) * [3.0, 0.5] + [10.0, -4.0]
    cfg = RunConfig(dataset="custom", latent_dim=1, g_depth=1, d_depth=1, g_hidden=8,
                    d_hidden=8, batch_size=32)
    snap = _run_snapshot(cfg, 5, points=pts)
    threads = torch.get_num_threads()
    r = plots.FigureRenderer()
    fig = r.samples(snap)
    # The renders' torch work runs single-threaded, and nobody else's thread count changed:
    # not this thread's, nor the default a new thread (a trainer's, say) starts with.
    assert canvas.in_torch_thread(torch.get_num_threads) == 1
    assert torch.get_num_threads() == threads
    seen = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert seen == [threads]
    ax = _ax(fig)
    lo, hi = ax.get_xlim()
    assert lo < pts[:, 0].min() and hi > pts[:, 0].max()  # the view covers the user's points
    (mani,) = [a for a in ax.collections if isinstance(a, LineCollection)]
    assert len(mani.get_segments()) == 1  # a 1-D latent space is one curve
    assert plots.layer_names(snap) == ["all", "G net.0.weight", "G net.2.weight",
                                       "D net.0.weight", "D net.2.weight"]
    plots.figure_to_array(r.weights(snap, "D net.2.weight"))  # a 1 x 8 weight matrix


def test_save_samples_png_and_figure_to_array(ring, tmp_path):
    path = tmp_path / "samples.png"
    plots.save_samples_png(ring[1], path)
    img = PIL.Image.open(path)
    assert img.size == (500, 500)
    arr = plots.figure_to_array(plots.FigureRenderer().weights(ring[1]))
    assert arr.dtype == np.uint8 and arr.shape == (330, 500, 3)
    assert arr.std() > 10  # not a blank canvas
    plots.FigureRenderer().weights(ring[1]).savefig(OUT / "weights_ring8.png")
