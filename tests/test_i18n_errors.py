"""A bad input's message on a Chinese page is Chinese (issue 21, finding 17): every literal text
of the errors a page's input can raise is in the catalog (a static check of the raise sites,
so a new English message fails here), and real errors, made by the real readers, come out in
Chinese with their values kept."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gan_lab import share
from gan_lab.checkpoint import CheckpointError, load_checkpoint
from gan_lab.config import ConfigError, RunConfig
from gan_lab.data import drawing, toy2d
from gan_lab.i18n.runtext import RUN, run_message
from gan_lab.placement import check_limits

ROOT = Path(__file__).resolve().parents[1] / "gan_lab"
# The modules a page's input passes through (CLI-only messages about flags and folders stay
# English, as do the internal guards behind the config's ranges).
PAGE_MODULES = ["jobs/base.py", "trainer.py", "ui/app.py", "ui/controls.py", "ui/draw.py",
                "ui/many.py", "ui/sessions.py", "ui/transfer.py", "warm.py", "config.py",
                "config_json.py", "config_coerce.py", "regularizers/combo.py", "uploads.py",
                "cost.py", "checkpoint.py", "data/__init__.py", "data/drawing.py",
                "data/toy2d.py", "placement.py", "share.py", "lessons.py", "adaptive.py"]
ERRORS = {"ConfigError", "CheckpointError", "ValueError"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _raised_texts(path: Path):
    """The literal parts (>= 12 characters) of each error message built in `path`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name not in ERRORS:
            continue
        for part in ast.walk(node.args[-1]):
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                text = part.value.strip(" ;,.[(")
                if len(text) >= 12 and re.search(r"[a-z]{3} [a-z]{2}", text):
                    yield node.lineno, text


# The page's notes: the message argument of these calls in gan_lab/ui/, and every text of
# these functions (which build a note from parts).
NOTE_CALLS = {"ok": -1, "note": 0, "_show": 1, "_file": 3}
NOTE_FUNCS = {"ui/saved.py": "_full", "ui/draw.py": "_show", "estimate.py": "warning",
              "ui/transfer.py": "on_upload_checkpoint"}


def _literals(node):
    for part in ast.walk(node):
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            text = part.value.strip(" ;,.[(")
            if len(text) >= 12 and re.search(r"[a-z]{3} [a-z]{2}", text):
                yield part.lineno, text


def _note_texts(path: Path, func: str | None):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in NOTE_CALLS:
            i = NOTE_CALLS[node.func.attr]
            if len(node.args) > abs(i) - (i < 0):
                yield from _literals(node.args[i])
        if isinstance(node, ast.FunctionDef) and node.name == func:
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for stmt in body:
                yield from _literals(stmt)


def test_every_note_of_the_page_is_in_the_catalog():
    catalog = _english_catalog()
    missing = []
    for path in sorted(ROOT.glob("ui/*.py")) + [ROOT / "estimate.py"]:
        rel = path.relative_to(ROOT).as_posix()
        for line, text in _note_texts(path, NOTE_FUNCS.get(rel)):
            if text not in catalog:
                missing.append(f"{rel}:{line}: {text!r}")
    assert not missing, "English notes without a Chinese entry:\n" + "\n".join(missing)


def _english_catalog() -> str:
    return "\n".join(v["en"] for v in RUN.values())


def test_every_page_error_text_is_in_the_catalog():
    catalog = _english_catalog()
    # programming guards and internal checks behind the config's own validation
    skipped = {"ConfigErrors needs at least one error", "images: expected uint8 [N, 28, 28]",
               "the saved random state is for", "this trainer runs on", "choose one of",
               "n: number of samples must be"}
    missing = [f"{m}:{line}: {text!r}" for m in PAGE_MODULES
               for line, text in _raised_texts(ROOT / m)
               if text not in catalog and not any(text.startswith(s) for s in skipped)]
    assert not missing, "English error texts without a Chinese entry:\n" + "\n".join(missing)


def _leftover_english(zh: str) -> list[str]:
    """Runs of three or more English words left in a translated message, outside quoted
    values, code and the names a message keeps (fields, kinds, env variables, file names)."""
    zh = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\[[^\]]*\]", " ", zh)
    return re.findall(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b", zh)


def _zh(e: Exception) -> str:
    text = str(e)
    if isinstance(e, ConfigError) and text.startswith(f"{e.field}: "):
        text = text[len(e.field) + 2:]
    return run_message(text, "zh")


def _raises(fn, *args, **kw) -> Exception:
    with pytest.raises((ConfigError, CheckpointError, ValueError)) as info:
        fn(*args, **kw)
    return info.value


CASES = {
    "extra_regs item": lambda: RunConfig.from_dict({"extra_regs": "l2:d"}),
    "extra_regs kind": lambda: RunConfig.from_dict({"extra_regs": "l3:d:0.1"}),
    "extra_regs target": lambda: RunConfig.from_dict({"extra_regs": "l2:x:0.1"}),
    "extra_regs lambda": lambda: RunConfig.from_dict({"extra_regs": "l2:d:7"}),
    "extra_regs many": lambda: RunConfig.from_dict({"extra_regs": "+".join(["l2:d:0.1"] * 5)}),
    "extra_regs again": lambda: RunConfig.from_dict({"reg": "l2", "reg_target": "d",
                                                     "extra_regs": "l2:d:0.1"}),
    "csv two": lambda: toy2d.parse_points_csv("1,2\n3,4,5\n", "pts.csv"),
    "csv none": lambda: toy2d.parse_points_csv("\n\n", "pts.csv"),
    "csv out": lambda: toy2d.parse_points_csv("1e9,2\n", "pts.csv"),
    "steps cap": lambda: check_limits(RunConfig.from_dict({"steps": 90000}), max_steps=1000),
    "drawing": lambda: drawing.decode("!!"),
    "checkpoint short": lambda: load_checkpoint(b"xx"),
    "checkpoint pickle": lambda: load_checkpoint(b"\x80\x04" + b"\x00" * 64),
    "config json": lambda: RunConfig.from_json("[1, 2]"),
    "config json syntax": lambda: RunConfig.from_json("{\"steps\": }"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_errors_come_out_in_chinese(case):
    e = _raises(CASES[case])
    zh = _zh(e)
    assert CJK.search(zh), (case, str(e), zh)
    assert not _leftover_english(zh), (case, str(e), zh)
    # the numbers of the English message are all kept
    for number in re.findall(r"\d[\d,.]*\d|\d", _zh_source(e)):
        assert number in zh, (case, number, zh)


def _zh_source(e: Exception) -> str:
    text = str(e)
    return text[len(e.field) + 2:] if isinstance(e, ConfigError) and \
        text.startswith(f"{e.field}: ") else text


def test_a_link_with_unknown_and_repeated_keys_in_chinese():
    errors = share.parse_query("stpes=5&seed=1&seed=2&lr_d=")[1]
    assert len(errors) >= 3
    for e in errors:
        zh = _zh(e)
        assert CJK.search(zh) and not _leftover_english(zh), (str(e), zh)
    assert any("steps" in _zh(e) for e in errors)   # "did you mean steps?" keeps the name


def test_a_refused_checkpoint_is_chinese_inside_the_box():
    e = _raises(load_checkpoint, b"\x80\x04" + b"\x00" * 64)
    zh = run_message(f"⚠️ Checkpoint refused: {e}. Nothing was changed.", "zh")
    assert zh.startswith("⚠️ 检查点被拒绝：") and "pickle" in zh
    assert not _leftover_english(zh), zh


def test_the_servers_caps_in_chinese():
    from gan_lab import cost

    cfg = RunConfig.from_dict({"batch_size": 4096, "g_hidden": 1024, "d_hidden": 1024})
    e = _raises(cost.check, cfg, max_step_gflop=1.0)
    zh = _zh(e)
    assert "GAN_LAB_MAX_STEP_GFLOP" in zh and CJK.search(zh)
    assert "Lower the" not in zh and "this server" not in zh, zh
    # the fields that make the step dear are named as the Chinese controls name them
    assert "Batch size" not in zh and "4,096" in zh and "1024" in zh, zh
    assert not _leftover_english(zh.replace("GAN_LAB_MAX_STEP_GFLOP", "")), zh


def test_a_long_runs_warning_in_chinese():
    from gan_lab import estimate
    from gan_lab.presets import preset_config

    cfg = preset_config("MNIST conv")
    en = estimate.warning(cfg, 29, 2)
    zh = run_message(en, "zh")
    assert en.startswith("This run is long") and CJK.search(zh), en
    assert not _leftover_english(zh) and " min" not in zh and "分钟" in zh, zh


def test_english_messages_are_unchanged():
    e = _raises(RunConfig.from_dict, {"extra_regs": "l3:d:0.1"})
    assert run_message(str(e), "en") == str(e)
