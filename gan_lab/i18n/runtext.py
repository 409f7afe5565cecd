# ruff: noqa: E501 - Chinese text is counted by display width; lines stay readable.
"""The texts a run and a bad input produce, in Chinese: the run's own messages (built in
English in gan_lab/jobs/ and gan_lab/ui/, which stay byte-identical), the range messages of a
ConfigError, the "More numbers" labels and durations. Each English message is a catalog entry
"run.*" whose English text is its template: `run_message(text, lang)` finds each template in a
message (numbers and values are kept as they are) and puts the Chinese one in its place; a
part of a message that no template matches stays English. Merged into the catalog
(catalog.py), so every key has both texts."""

from __future__ import annotations

import re

from .errtext import ERR, NESTED
from .errtext import WORDS_ZH as _ERR_WORDS

RUN = {
    # gan_lab/jobs/base.py
    "run.ready": {"en": "Ready. Press Train.", "zh": "就绪。按“训练”开始。"},
    "run.finished": {"en": "Finished {step} steps. Raise Steps to continue.",
                     "zh": "已完成 {step} 步。调高“步数”即可继续。"},
    "run.training": {"en": "Training…", "zh": "训练中…"},
    "run.stepping": {"en": "Stepping {n}…", "zh": "正在前进 {n} 步…"},
    "run.pausing": {"en": "Pausing…", "zh": "正在暂停…"},
    "run.paused": {"en": "Paused at step {step}.", "zh": "已在第 {step} 步暂停。"},
    "run.stopped": {"en": "Stopped.", "zh": "已停止。"},
    "run.reset_job": {"en": "Reset: fresh weights from seed {seed}. Press Train.",
                      "zh": "已重置：用种子 {seed} 重新初始化权重。按“训练”开始。"},
    "run.done": {"en": "Done: {step} steps.", "zh": "完成：{step} 步。"},
    "run.stepped": {"en": "Stepped to {step}.", "zh": "已前进到第 {step} 步。"},
    "run.advice": {"en": " Paused; everything before it is kept. Lower the learning rate or lambda, then press Train (or Reset).",
                   "zh": " 已暂停；之前的一切都保留。请调低学习率或 lambda，再按“训练”（或“重置”）。"},
    # gan_lab/run.py
    "run.diverged": {"en": "Diverged at step {step}: {what} became {value}.",
                     "zh": "在第 {step} 步发散：{what} 变成了 {value}。"},
    # gan_lab/adaptive.py (a run's note, after its message)
    "run.lam_goal": {"en": "Lambda goal not reachable: {what} of {net} is {measured} against the goal {goal}, with lambda pinned at its {bound} bound {lam} for {n} measurements; lambda stays there (adaptation stopped).",
                     "zh": "lambda 目标无法达到：{net} 的{what}为 {measured}，目标是 {goal}，而 lambda 已在{bound}限 {lam} 停留了 {n} 次测量；lambda 保持在那里（自适应已停止）。"},
    # gan_lab/jobs/zerogpu.py
    "run.chunk_failed": {"en": "Paused: a training chunk failed ({error}). Your run is kept; press Train to retry.",
                         "zh": "已暂停：一段训练失败（{error}）。你的运行已保留；按“训练”重试。"},
    # gan_lab/ui/app.py
    "run.one_step": {"en": "One step: D updated {n}x, then G once.",
                     "zh": "单步：D 更新 {n} 次，然后 G 更新一次。"},
    "run.reset": {"en": "Reset: fresh weights from seed {seed}, step 0. Press Train.",
                  "zh": "已重置：用种子 {seed} 重新初始化权重，第 0 步。按“训练”开始。"},
    # gan_lab/ui/sessions.py
    "run.previous": {"en": "The previous run had {state} ({message}); started a fresh one.",
                     "zh": "上一个运行已{state}（{message}）；已开始一个新的运行。"},
    # gan_lab/ui/sessions.py: the server's load (the status line) and a full server
    "run.server_free": {"en": "server: no other run training", "zh": "服务器：没有其他运行在训练"},
    "run.server_one": {"en": "server: {n} other run training", "zh": "服务器：另有 {n} 个运行在训练"},
    "run.server_many": {"en": "server: {n} other runs training", "zh": "服务器：另有 {n} 个运行在训练"},
    "run.sharing_1_1": {"en": "sharing the server with {n} other run ({total} runs take turns on {cores} core)",
                        "zh": "与另外 {n} 个运行共用服务器（{total} 个运行轮流使用 {cores} 个核心）"},
    "run.sharing_1_n": {"en": "sharing the server with {n} other run ({total} runs take turns on {cores} cores)",
                        "zh": "与另外 {n} 个运行共用服务器（{total} 个运行轮流使用 {cores} 个核心）"},
    "run.sharing_n_1": {"en": "sharing the server with {n} other runs ({total} runs take turns on {cores} core)",
                        "zh": "与另外 {n} 个运行共用服务器（{total} 个运行轮流使用 {cores} 个核心）"},
    "run.sharing_n_n": {"en": "sharing the server with {n} other runs ({total} runs take turns on {cores} cores)",
                        "zh": "与另外 {n} 个运行共用服务器（{total} 个运行轮流使用 {cores} 个核心）"},
    "run.page_full": {"en": "This page already holds {n} runs in training (its run, run A and sweep runs together; finished ones do not count), the most one page may: stop the sweep or reset a run first. Your settings are kept.",
                      "zh": "这个页面已有 {n} 个运行在训练（它的运行、运行 A 和扫描的运行合计；已完成的不算），这是一个页面的上限：请先停止扫描或重置一个运行。你的设置已保留。"},
    "run.server_full": {"en": "Server busy: it holds {n} runs already, the most it allows. Try again shortly; your settings are kept.",
                        "zh": "服务器繁忙：它已有 {n} 个运行，达到上限。请稍后再试；你的设置已保留。"},
    "run.sweep_waiting": {"en": "Sweep waiting: {why}", "zh": "扫描在等待：{why}"},
    # gan_lab/ui/app.py: a link's settings
    "run.link_bad_1": {"en": "⚠️ The settings in this link were not applied ({n} problem); the page shows the defaults.",
                       "zh": "⚠️ 这个链接中的设置没有被应用（{n} 个问题）；页面显示的是默认设置。"},
    "run.link_bad_n": {"en": "⚠️ The settings in this link were not applied ({n} problems); the page shows the defaults.",
                       "zh": "⚠️ 这个链接中的设置没有被应用（{n} 个问题）；页面显示的是默认设置。"},
    "run.link_bad_a": {"en": "⚠️ Run A of this comparison link was not set up:", "zh": "⚠️ 这个对比链接中的运行 A 没有设置好："},
    "run.link_compare": {"en": "A comparison from a link: A and B are set up (Compare tab). Press **Train B beside A**.",
                         "zh": "来自链接的对比：A 和 B 已设置好（“对比”标签页）。按 **在 A 旁训练 B**。"},
    # gan_lab/ui/messages.py
    "run.checkpoint": {"en": "⚠️ Checkpoint refused: {error}. Nothing was changed.",
                       "zh": "⚠️ 检查点被拒绝：{error}。没有做任何更改。"},
    "run.incident": {"en": "⚠️ Something went wrong on the server (incident {incident}). Your settings are kept; press Reset to start over.",
                     "zh": "⚠️ 服务器出错了（事件编号 {incident}）。你的设置已保留；按“重置”重新开始。"},
    # ConfigError texts (gan_lab/config.py, config_coerce.py, errors.py): phrases of a range
    # message; the field's label comes from i18n.field_label, the numbers stay.
    "cfg.int_in": {"en": "must be a whole number in {range}", "zh": "必须是整数，范围 {range}"},
    "cfg.float_in": {"en": "must be a finite number in {range}", "zh": "必须是有限的数，范围 {range}"},
    "cfg.in": {"en": "must be in {range}", "zh": "必须在 {range} 之内"},
    "cfg.bool": {"en": "must be true or false", "zh": "必须是 true 或 false"},
    "cfg.one_of": {"en": "must be one of {choices}; got {value}", "zh": "必须是以下之一：{choices}；收到的是 {value}"},
    "cfg.empty": {"en": ", got an empty box or text that is not a number", "zh": "，收到的是空框或不是数字的文字"},
    "cfg.not_number": {"en": ", got {value}, which is not a number", "zh": "，收到的是 {value}，它不是数字"},
    "cfg.got": {"en": ", got {value}", "zh": "，收到的是 {value}"},
    "cfg.unknown": {"en": "unknown field", "zh": "未知字段"},
    # rules that span fields (config.py, adaptive.check_goal)
    "cfg.conv": {"en": "'conv' works only with image data (mnist); use 'mlp'",
                 "zh": "'conv' 只适用于图像数据（mnist）；请用 'mlp'"},
    "cfg.g_norm": {"en": "batch norm is for the conv generator (arch conv); use 'none' with an MLP",
                   "zh": "批归一化只用于卷积生成器（arch conv）；MLP 请用 'none'"},
    "cfg.goal_reg": {"en": "an adaptive lambda needs regularizer l1, l2 or hsn1r (got {reg}); set lam_goal 0 to turn it off",
                     "zh": "自适应 lambda 需要正则化器 l1、l2 或 hsn1r（当前是 {reg}）；把 lam_goal 设为 0 即可关闭"},
    "cfg.goal_both": {"en": "an adaptive lambda holds one network's measure: set reg_target to g or d",
                      "zh": "自适应 lambda 只调节一个网络的指标：请把 reg_target 设为 g 或 d"},
    "cfg.goal_lam": {"en": "an adaptive lambda starts from lam and multiplies it; set lam > 0",
                     "zh": "自适应 lambda 从 lam 出发并不断乘以它；请设置 lam > 0"},
    "cfg.goal_l1": {"en": "for L1 the goal is a fraction of exact zeros in (0, 1); got {value}",
                    "zh": "对 L1，目标是精确零的比例，在 (0, 1) 之内；收到的是 {value}"},
    "cfg.goal_hsn": {"en": "an HSN1R sharpness goal is held at each sharpness measurement; set sharpness_every > 0",
                     "zh": "HSN1R 的锐度目标在每次测量锐度时调节；请设置 sharpness_every > 0"},
    "cfg.text": {"en": "must be text, got {value}", "zh": "必须是文字，收到的是 {value}"},
    # the status line: "More numbers" and durations (gan_lab/ui/status.py, estimate.fmt_duration)
    "st.m.device": {"en": "device", "zh": "设备"},
    "st.m.modes": {"en": "modes", "zh": "模式"},
    "st.m.hq_frac": {"en": "high-quality", "zh": "高质量"},
    "st.m.digits_covered": {"en": "digits", "zh": "数字类别"},
    "st.m.cls_is": {"en": "IS", "zh": "IS 分数"},
    "st.m.grid_js": {"en": "grid JS", "zh": "网格 JS 距离"},
    "st.m.sparsity_d": {"en": "D sparse", "zh": "D 稀疏度"},
    "st.m.zeros_d": {"en": "D zeros", "zh": "D 精确零"},
    "st.m.sparsity_g": {"en": "G sparse", "zh": "G 稀疏度"},
    "st.m.sharpness_d": {"en": "D sharpness", "zh": "D 锐度"},
    "st.m.d_gap": {"en": "D gap", "zh": "D 泛化差距"},
    "st.m.lam": {"en": "adaptive lambda", "zh": "自适应 lambda"},
    "dur.s": {"en": "~{n} s", "zh": "约 {n} 秒"},
    "dur.min": {"en": "~{n} min", "zh": "约 {n} 分钟"},
    "dur.h": {"en": "~{n} h", "zh": "约 {n} 小时"},
    # the line charts' y-axis titles (ui/layout.py, ui/stream.py)
    "axis.count": {"en": "count", "zh": "数量"},
    "axis.loss": {"en": "loss", "zh": "损失"},
    "axis.penalty": {"en": "penalty", "zh": "惩罚项"},
    "axis.value": {"en": "value", "zh": "数值"},
    "axis.step": {"en": "step", "zh": "步数"},
}
# A chart's y-axis title (ui/layout.py) by its English; symbols ("%", "|λ| max") stay.
AXES = {"count", "loss", "penalty", "value", "step"}
# Words inside a template's values (a job's state, adaptive.WHAT, a bound), by value name.
WORDS_ZH = {"state": {"stopped": "停止", "error": "出错"},
            "what": {"fraction of exact zeros": "精确零的比例", "weight norm": "权重范数",
                     "sharpness": "锐度"},
            "bound": {"upper": "上", "lower": "下"}, **_ERR_WORDS}
RUN.update(ERR)
_PATTERN_KEYS = [k for k in RUN if k.startswith(("run.", "cfg.", "err.", "say."))]
# What a value of each name looks like, where "any text" would take too much.
_VALUE = {"range": r"\[[^\]]*\]", "step": r"[\d,]+", "n": r"[\d,]+", "seed": r"-?[\d,]+",
          "incident": r"[0-9a-f]+", "state": r"\w+", "total": r"\d+",
          "cores": r"\d+", "net": r"[GD]", "bound": r"upper|lower", "extra": r"[^;]*"}


def _regex(template: str) -> re.Pattern:
    """A template's English as a regex: its literal text exactly, each {name} any text."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>{_VALUE.get(m.group(1), '.+?')})")
        pos = m.end()
    tail = template[pos:]
    out.append(re.escape(tail))
    # A template that ends in a value of any text takes it up to the message's end or its
    # next sentence; one that ends in literal text or a value of a known shape needs no more.
    last = re.findall(r"\{(\w+)\}$", template)
    open_end = bool(last) and last[0] not in _VALUE
    return re.compile("".join(out) + (r"(?=\. |$)" if open_end else ""), re.S)


# Longest first: "Paused: a training chunk failed" before "Paused at step", a full sentence
# before the phrases it contains.
_PATTERNS = sorted(((key, _regex(RUN[key]["en"])) for key in _PATTERN_KEYS),
                   key=lambda kp: -len(RUN[kp[0]]["en"]))


def run_message(text: str, lang: str = "en") -> str:
    """`text` (a run's message, a note, a ConfigError's text) in `lang`: English unchanged;
    in Chinese, each part that is one of the templates above in its Chinese form."""
    from . import norm

    if norm(lang) != "zh" or not text:
        return text
    holes: list[str] = []
    text = _zh(text.replace("\x00", "\ufffd"), holes)   # \x00: the marker; input is quoted
    for _ in range(len(holes)):   # a template's value may hold one translated before it
        if "\x00" not in text:
            break
        text = re.sub(r"\x00(\d+)\x00", lambda m: holes[int(m.group(1))], text)
    return text


def _zh(text: str, holes: list[str]) -> str:
    """`text` with each template found replaced by a marker of its Chinese text in `holes`
    (so a translated part is not matched again)."""
    def put(key: str):
        def sub(m: re.Match) -> str:
            values = dict(m.groupdict())
            for name, words in WORDS_ZH.items():
                if name in values:
                    values[name] = words.get(values[name], values[name])
            for name in NESTED:   # a value that is a message itself
                if name in values:
                    values[name] = _zh(values[name], holes)
            for name, fn in _VALUE_ZH.items():   # durations, the fields that make a step dear
                if name in values:
                    values[name] = fn(values[name])
            holes.append(RUN[key]["zh"].format(**values))
            return f"\x00{len(holes) - 1}\x00"
        return sub

    for key, rx in _PATTERNS:
        text = rx.sub(put(key), text)
    return text


_UNITS_ZH = {"s": "秒", "min": "分钟", "h": "小时"}
_DRIVER_WORDS_ZH = {"depths": "深度", "iteration(s)": "次迭代", "penalty on": "惩罚开启"}


def _duration_zh(text: str) -> str:
    """'40 s' / '3 min' / '1.5 h' (estimate.fmt_duration without its '~') in Chinese."""
    m = re.fullmatch(r"([\d.,]+) (s|min|h)", text)
    return f"{m.group(1)} {_UNITS_ZH[m.group(2)]}" if m else text


def _drivers_zh(text: str) -> str:
    """cost._drivers' list ('Batch size 4,096, G width 128, ...'): each field's label in
    Chinese (i18n.field_label), the few other words too, the numbers kept."""
    from ..config import specs
    from . import field_label

    labels = sorted(((sp["label"], field_label(sp["name"], sp["label"], "zh"))
                     for sp in specs() if sp.get("label")), key=lambda lz: -len(lz[0]))
    for en, zh in labels + sorted(_DRIVER_WORDS_ZH.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w]){re.escape(en)}(?![\w])", zh, text)
    return text.replace(", ", "，")


_VALUE_ZH = {"a": _duration_zh, "b": _duration_zh, "drivers": _drivers_zh}


def axis_title(english: str, lang: str = "en") -> str:
    """A line chart's axis title in `lang`."""
    from . import t

    return t(f"axis.{english}", lang) if english in AXES else english


def duration(seconds: float, lang: str = "en") -> str:
    """estimate.fmt_duration in `lang` ('~40 s', '约 3 分钟')."""
    from . import t

    if seconds < 60:
        return t("dur.s", lang, n=max(1, round(seconds)))
    if seconds < 3600:
        return t("dur.min", lang, n=round(seconds / 60))
    return t("dur.h", lang, n=f"{seconds / 3600:.1f}")
