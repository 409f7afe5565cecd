"""Warm starts (issue 19 item 7): the shipped trained GANs in assets/warm/ match their manifest,
load (SHA-256 checked, safetensors only) and keep training under every regularizer; init
"trained" without a fitting checkpoint is refused, naming `init` and what exists; the choice
travels in share links, lessons and the CLI."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from gan_lab import cli, lessons, share, warm
from gan_lab.config import ConfigError, RunConfig
from gan_lab.losses import LOSS_KEYS
from gan_lab.presets import preset_config, preset_fields
from gan_lab.run import Run
from gan_lab.trainer import Trainer

SLUGS = ("mnist", "mnist-conv")
PROVENANCE = ("command", "seed", "steps", "torch", "date", "cpu", "cpu_s", "metrics", "stores")


def short(slug: str, **fields) -> RunConfig:
    """The preset from its trained start, a run of a few steps without evaluations."""
    return RunConfig.from_dict({**preset_fields(slug), "init": "trained", "steps": 100,
                                "eval_every": 1000, "sharpness_every": 0, **fields})


@pytest.mark.parametrize("slug", SLUGS)
def test_the_shipped_checkpoint_matches_its_manifest_and_preset(slug):
    m = warm.manifest()
    assert set(m) == set(SLUGS)
    e = m[slug]
    path = warm.ASSETS / e["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == e["sha256"]
    assert len(data) == e["bytes"] <= 2_000_000
    assert all(e.get(k) not in (None, "") for k in PROVENANCE), e
    # It fits its preset's networks, and the manifest's `net` is what the file itself stores.
    assert e["net"] == warm.net_of(preset_config(warm.PRESET_NAMES[slug]))
    with safe_open(str(path), "pt") as f:
        stored = RunConfig.from_json(f.metadata()["config"])
    assert warm.net_of(stored) == e["net"] and stored.steps == e["steps"]
    assert warm.find(short(slug))[0] == slug


@pytest.mark.parametrize("slug", SLUGS)
def test_a_trained_start_holds_the_shipped_weights(slug):
    shipped = load_file(str(warm.ASSETS / warm.manifest()[slug]["file"]))
    tr = Trainer(short(slug))
    for k, v in tr.G.state_dict().items():
        assert torch.equal(v, shipped[f"G.{k}"].float()), k
    for k, v in tr.D.state_dict().items():
        assert torch.equal(v, shipped[f"D.{k}"].float()), k
    fresh = Trainer(short(slug, init="random"))
    w = next(iter(fresh.D.state_dict()))
    assert not torch.equal(fresh.D.state_dict()[w], tr.D.state_dict()[w])


REGS = {"none": {}, "l1": {"reg": "l1", "lam": 0.3}, "l2": {"reg": "l2", "lam": 3e-3},
        "hsn1r": {"reg": "hsn1r", "lam": 0.01, "hsn_every": 1}}


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("reg", list(REGS))
def test_a_trained_start_keeps_training_with_every_regularizer(slug, reg):
    run = Run(short(slug, reg_target="d", **REGS[reg]), start_eval=None)
    before = {k: v.clone() for k, v in run.trainer.D.state_dict().items()}
    c = run.advance(max_steps=3, view=False)
    assert c.step == 3 and c.diverged is None and np.isfinite(c.rows).all()
    after = run.trainer.D.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    if reg != "none":   # D's penalty is logged (for proximal L1 too)
        assert (c.rows[:, LOSS_KEYS.index("reg_d")] > 0).all()


def test_l1_zeroes_weights_of_the_trained_d_at_once():
    """Lesson 8's point, in 3 steps: the trained D has no exact zeros; proximal L1 makes some."""
    les = lessons.LESSONS[7]
    cfg = les.config()
    assert cfg.init == "trained" and cfg.reg == "l1" and cfg.dataset == "mnist"
    run = Run(cfg.replace(eval_every=1000), start_eval=None)

    def zeros():
        return sum(int((v == 0).sum()) for k, v in run.trainer.D.state_dict().items()
                   if k.endswith("weight"))

    assert zeros() == 0
    run.advance(max_steps=3, view=False)
    assert zeros() > 1000


@pytest.mark.parametrize("fields, named", [
    ({"dataset": "ring8"}, "none is trained on ring8"),
    ({"dataset": "mnist", "g_hidden": 128}, "g_hidden 128 (it has 256)"),
    ({**preset_fields("mnist-conv"), "latent_dim": 16}, "latent_dim 16 (it has 8)"),
    ({"dataset": "mnist", "spectral_norm": "d"}, "spectral_norm d"),
])
def test_init_trained_without_a_checkpoint_is_refused_naming_what_exists(fields, named):
    # Refused by the config's own validation: before any network could be built from it.
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict({**fields, "init": "trained"})
    assert e.value.field == "init"
    assert named in str(e.value)
    assert "MNIST digits (--preset mnist" in str(e.value) and "MNIST conv" in str(e.value)


def test_cli_init_trained_is_refused_with_one_line_for_a_dataset_without_one(tmp_path, capsys):
    rc = cli.main(["train", "--dataset", "grid25", "--init", "trained",
                   "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_BAD_INPUT and err.startswith("error: init: ")
    assert len(err.strip().splitlines()) == 1 and "MNIST conv" in err
    assert not (tmp_path / "r").exists()


def test_cli_init_is_the_field_for_trained_and_random_and_a_file_otherwise():
    """`--init trained|random` sets RunConfig.init; anything else is a checkpoint to start
    from, as before (README's `--init trained` command runs in tests/test_readme_commands.py)."""
    parse = cli.build_parser().parse_args
    args = parse(["train", "--preset", "mnist", "--init", "trained", "--out", "x"])
    assert cli.init_path(args) is None and cli.config_from_args(args).init == "trained"
    args = parse(["train", "--dataset", "mnist", "--init", "random", "--out", "x"])
    assert cli.init_path(args) is None and cli.config_from_args(args).init == "random"
    args = parse(["train", "--dataset", "mnist", "--init", "runs/a/checkpoint.safetensors",
                  "--out", "x"])
    assert cli.init_path(args) == "runs/a/checkpoint.safetensors"
    assert cli.config_from_args(args).init == "random"


def test_init_travels_in_share_links_and_config_json():
    cfg = short("mnist")
    q = share.to_query(cfg)
    assert "init=trained" in q
    back, errors = share.parse_query(q)
    assert not errors and back == cfg and back.init == "trained"
    assert "init" not in share.to_query(cfg.replace(init="random"))
    assert RunConfig.from_json(cfg.to_json()).init == "trained"


def _copy_assets(tmp_path):
    root = tmp_path / "warm"
    shutil.copytree(warm.ASSETS, root)
    return root, json.loads((root / warm.MANIFEST).read_text())


def test_a_changed_file_is_refused_by_its_hash(tmp_path):
    root, m = _copy_assets(tmp_path)
    f = root / m["mnist"]["file"]
    data = bytearray(f.read_bytes())
    data[-1] ^= 1
    f.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="SHA-256") as e:
        warm.load(short("mnist"), root)
    assert e.value.field == "init"


def test_a_pickle_is_never_read_even_with_its_hash_in_the_manifest(tmp_path):
    root, m = _copy_assets(tmp_path)
    blob = pickle.dumps({"G.net.0.weight": [0.0]})
    (root / m["mnist"]["file"]).write_bytes(blob)
    m["mnist"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (root / warm.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="pickle") as e:
        warm.load(short("mnist"), root)
    assert e.value.field == "init"


def test_a_manifest_file_name_cannot_leave_the_folder(tmp_path):
    root, m = _copy_assets(tmp_path)
    m["mnist"]["file"] = "../warm/" + m["mnist"]["file"]
    (root / warm.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="plain file name"):
        warm.load(short("mnist"), root)


def test_the_dataset_menu_leaves_a_trained_start_for_a_random_one():
    import dataclasses

    from gan_lab.config import switch_dataset

    cfg = dataclasses.replace(short("mnist"), dataset="ring8")   # as the controls hold it
    new = switch_dataset(cfg, "mnist")
    assert new.init == "random" and new.latent_dim == 2 and new.arch == "mlp"
