"""Dataset-aware defaults and named presets (issue 12): `--dataset mnist` alone trains an MNIST
GAN, the app's dataset menu swaps defaults without losing the user's changes, and `--preset`
slugs follow documented precedence (preset < --config < flags)."""

from __future__ import annotations

import json

import pytest

from gan_lab import share
from gan_lab.cli import build_parser, config_from_args, main
from gan_lab.config import DATASET_DEFAULTS, ConfigError, RunConfig, defaults_for, switch_dataset
from gan_lab.presets import PRESETS, by_slug, preset_config


def args(*argv):
    return config_from_args(build_parser().parse_args(["train", "--out", "x", *argv]))


def test_mnist_has_its_own_defaults_everywhere_a_config_is_built():
    mnist = DATASET_DEFAULTS["mnist"]
    assert mnist["latent_dim"] > 2 and mnist["g_hidden"] > RunConfig().g_hidden
    cfg = RunConfig.from_dict({"dataset": "mnist"})
    for k, v in mnist.items():
        assert getattr(cfg, k) == v, k
    # The CLI flag alone, a share link with only the dataset, and the preset agree.
    assert args("--dataset", "mnist") == cfg
    assert share.from_query({"dataset": "mnist"}) == cfg
    assert preset_config("MNIST digits") == cfg
    # A link of that run carries only the dataset; a field set to the 2-D default is kept.
    assert cfg.non_default() == {"dataset": "mnist"}
    odd = cfg.replace(latent_dim=2)
    assert odd.non_default() == {"dataset": "mnist", "latent_dim": 2}
    assert share.from_query(odd.non_default()) == odd
    # 2-D datasets keep the declared defaults.
    assert RunConfig.from_dict({"dataset": "grid25"}).latent_dim == RunConfig().latent_dim


def test_switching_the_dataset_swaps_defaults_and_keeps_the_users_changes():
    ring = RunConfig.from_dict({"lr_g": 5e-4})          # the user changed one field
    to_mnist = switch_dataset(ring.replace(dataset="mnist"), "ring8")
    assert to_mnist.latent_dim == DATASET_DEFAULTS["mnist"]["latent_dim"]
    assert to_mnist.steps == DATASET_DEFAULTS["mnist"]["steps"]
    assert to_mnist.lr_g == 5e-4                        # kept
    assert to_mnist.lr_d == DATASET_DEFAULTS["mnist"]["lr_d"]
    back = switch_dataset(to_mnist.replace(dataset="ring8"), "mnist")
    assert back == ring
    # grid25 has two defaults of its own (steps, lr_d); the user's lr_g stays.
    g = switch_dataset(ring.replace(dataset="grid25"), "ring8")
    assert (g.steps, g.lr_d, g.lr_g) == (DATASET_DEFAULTS["grid25"]["steps"],
                                         DATASET_DEFAULTS["grid25"]["lr_d"], 5e-4)
    assert switch_dataset(g.replace(dataset="ring8"), "grid25") == ring
    # Between datasets with the same defaults, nothing changes.
    s = ring.replace(dataset="spiral")
    assert switch_dataset(s, "ring8") == s
    assert defaults_for("spiral") == {**defaults_for("ring8"), "dataset": "spiral"}


def test_preset_slugs_list_and_refuse_unknown_names(capsys):
    slugs = by_slug()
    assert {"default-2d", "mode-collapse", "l1-sparse-d", "hsn1r-flat-d", "mnist"} <= set(slugs)
    assert len(slugs) == len(PRESETS)
    assert main(["train", "--preset", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(slugs)
    assert main(["train", "--preset", "nope", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "--preset" in err and "'nope'" in err and "l1-sparse-d" in err
    with pytest.raises(ConfigError, match="--preset"):
        args("--preset", "../etc")


def test_preset_precedence_preset_then_config_then_flags(tmp_path):
    l1 = preset_config("L1 makes D sparse")
    assert args("--preset", "l1-sparse-d") == l1
    # A flag overrides the preset; the preset's other fields stay.
    cfg = args("--preset", "l1-sparse-d", "--lam", "0.05")
    assert (cfg.reg, cfg.l1_mode, cfg.lam) == ("l1", "proximal", 0.05)
    # A config file overrides the preset, a flag overrides both.
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"lam": 0.2, "steps": 777}))
    cfg = args("--preset", "l1-sparse-d", "--config", str(f))
    assert (cfg.reg, cfg.lam, cfg.steps) == ("l1", 0.2, 777)
    cfg = args("--preset", "l1-sparse-d", "--config", str(f), "--lam", "0.3")
    assert (cfg.lam, cfg.steps) == (0.3, 777)
    # A preset's dataset brings that dataset's defaults; a flag on top still wins.
    cfg = args("--preset", "mnist", "--latent_dim", "32")
    assert (cfg.dataset, cfg.latent_dim, cfg.steps) == ("mnist", 32,
                                                        DATASET_DEFAULTS["mnist"]["steps"])
    # Switching a 2-D preset to mnist by flag: the preset's fields, mnist's defaults for the
    # rest.
    cfg = args("--preset", "l1-sparse-d", "--dataset", "mnist")
    assert (cfg.reg, cfg.dataset, cfg.latent_dim) == ("l1", "mnist",
                                                      DATASET_DEFAULTS["mnist"]["latent_dim"])


def test_sweep_takes_a_preset_under_its_grid(tmp_path, capsys):
    rc = main(["sweep", "--preset", "l1-sparse-d", "--grid", "lam=0.01,0.1", "--seeds", "0",
               "--out", str(tmp_path / "s"), "--dry-run"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "lam=0.01" in out and "2 runs" in out


def test_dataset_mnist_alone_trains_at_least_8_digits(tmp_path, capsys):
    """The command a new user types first: `--dataset mnist` (here shortened to 1,500 steps)
    must not collapse to one digit as the 2-D defaults did (latent size 2)."""
    out = tmp_path / "mnist"
    assert main(["train", "--dataset", "mnist", "--steps", "1500", "--out", str(out),
                 "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["latent_dim"] == DATASET_DEFAULTS["mnist"]["latent_dim"]
    # digits_covered: classes the bundled classifier gives >= 1% of the samples.
    assert s["final"]["digits_covered"] >= 8, s["final"]


def test_the_apps_dataset_menu_brings_mnists_defaults(live_app):
    """The dataset menu's handler (through the launched app's session): the controls get
    MNIST's defaults, a field the user changed is kept, and the message says so."""
    from gradio_client import Client

    from gan_lab.ui.storage import session_token

    url, demo = live_app
    app = demo.gan_lab
    c = Client(url, verbose=False)
    try:
        c.predict(api_name="/reset", lr_g=5e-4)
        s = app.registry._sessions[session_token(c.session_hash)]
        values = [getattr(s.job.cfg, n) for n in app.ctl.names]
        values[app.ctl.names.index("dataset")] = "mnist"
        out = app.on_edit("dataset")(s, True, False, False, None, *values)
        shown = {n: out[app.ctl.fields[n]]["value"] for n in app.ctl.names
                 if app.ctl.fields[n] in out}
        assert shown["latent_dim"] == DATASET_DEFAULTS["mnist"]["latent_dim"]
        assert shown["steps"] == DATASET_DEFAULTS["mnist"]["steps"]
        assert shown["lr_g"] == 5e-4
        msg = out[app.page.msg]
        assert "brings its own defaults" in msg and "Latent" in msg and "kept" in msg
        # every change is named with its new value (issue 21, finding 1)
        assert f"Latent dim = {DATASET_DEFAULTS['mnist']['latent_dim']}" in msg, msg
        # The untouched job was rebuilt as the MNIST run the controls show.
        assert s.job.cfg.dataset == "mnist" and s.job.cfg.latent_dim == shown["latent_dim"]
    finally:
        c.close()


def test_the_apps_dataset_menu_leaves_a_trained_start(live_app):
    """From a trained MNIST start (lesson 8's *Start from: A trained GAN*) the dataset menu
    goes to ring8 with ring8's defaults and random weights, instead of refusing the switch."""
    from gradio_client import Client

    from gan_lab.ui.storage import session_token

    url, demo = live_app
    app = demo.gan_lab
    c = Client(url, verbose=False)
    try:
        c.predict(api_name="/lesson", lesson=8)
        s = app.registry._sessions[session_token(c.session_hash)]
        assert s.job.cfg.init == "trained"
        values = [getattr(s.job.cfg, n) for n in app.ctl.names]
        values[app.ctl.names.index("dataset")] = "ring8"
        out = app.on_edit("dataset")(s, True, False, False, None, *values)
        assert out[app.ctl.fields["init"]]["value"] == "random"
        assert out[app.ctl.fields["latent_dim"]]["value"] == 2
        assert "brings its own defaults" in out[app.page.msg]
    finally:
        c.close()
