# ruff: noqa: E501 - Chinese text is counted by display width; lines stay readable.
"""The catalog: key -> {"en": ..., "zh": ...}. Keys name where a text is used: "btn." buttons,
"tab." tabs, "acc." accordions and section titles, "view." the view toggles, "slow." the
slow-motion step, "plot." chart titles, "msg." messages; from views.py "hint.", "explain.",
"reg.plain." and "md.": the explanations and the page's Markdown blocks. RunConfig's field labels are in English
in config.py (their one declaration) and in Chinese in FIELD_LABELS_ZH below."""

from __future__ import annotations

from .runtext import RUN as _RUN
from .views import VIEWS as _VIEWS

CATALOG: dict[str, dict[str, str]] = {
    # --- buttons -------------------------------------------------------------------------------
    "btn.train": {"en": "▶ Train", "zh": "▶ 训练"},
    "btn.pause": {"en": "Pause", "zh": "暂停"},
    "btn.step": {"en": "Step", "zh": "单步"},
    "btn.reset": {"en": "Reset", "zh": "重置"},
    "btn.slow": {"en": "Slow-motion step ▶", "zh": "慢动作单步 ▶"},
    "btn.slow_play": {"en": "Slow play ▶▶", "zh": "慢速播放 ▶▶"},
    "btn.slow_pause": {"en": "Pause slow play", "zh": "暂停慢速播放"},
    "btn.lesson_back": {"en": "◀ Back", "zh": "◀ 上一步"},
    "btn.lesson_next": {"en": "Next ▶", "zh": "下一步 ▶"},
    "btn.lesson_close": {"en": "Close the lesson", "zh": "关闭课程"},
    "btn.keep_a": {"en": "Keep as A", "zh": "保留为 A"},
    "btn.train_ab": {"en": "▶ Train B beside A", "zh": "▶ 在 A 旁训练 B"},
    "btn.with_without": {"en": "With vs without the regularizer", "zh": "有无正则化对比"},
    "btn.compare_link": {"en": "Comparison link", "zh": "对比链接"},
    "btn.save_run": {"en": "Save the run on screen", "zh": "保存当前运行"},
    "btn.overlay_saved": {"en": "Overlay the chosen runs", "zh": "叠加所选运行"},
    "btn.sweep": {"en": "▶ Run the sweep", "zh": "▶ 开始扫描"},
    "btn.sweep_stop": {"en": "Stop the sweep", "zh": "停止扫描"},
    "btn.draw_undo": {"en": "Undo", "zh": "撤销"},
    "btn.draw_clear": {"en": "Clear", "zh": "清除"},
    "btn.draw_use": {"en": "▶ Train on my drawing", "zh": "▶ 用我画的数据训练"},
    "btn.share": {"en": "Copy share link", "zh": "复制分享链接"},
    "btn.export": {"en": "Show current settings", "zh": "显示当前设置"},
    "btn.import": {"en": "Load settings", "zh": "载入设置"},
    "btn.dl.config": {"en": "Config JSON", "zh": "配置 JSON"},
    "btn.dl.checkpoint": {"en": "Checkpoint", "zh": "检查点"},
    "btn.dl.metrics": {"en": "Metrics CSV", "zh": "指标 CSV"},
    "btn.dl.samples": {"en": "Samples PNG", "zh": "样本 PNG"},
    "btn.dl.gif": {"en": "GIF of the run", "zh": "训练过程 GIF"},
    "btn.dl.points": {"en": "Points CSV", "zh": "数据点 CSV"},
    "preset.Default 2-D": {"en": "Default 2-D", "zh": "默认二维"},
    "preset.Mode collapse": {"en": "Mode collapse", "zh": "模式崩溃"},
    "preset.L1 makes D sparse": {"en": "L1 makes D sparse", "zh": "L1 让 D 稀疏"},
    "preset.HSN1R flattens D": {"en": "HSN1R flattens D", "zh": "HSN1R 让 D 平坦"},
    "preset.Spectral norm vs HSN1R": {"en": "Spectral norm vs HSN1R", "zh": "谱归一化 vs HSN1R"},
    "preset.WGAN-GP": {"en": "WGAN-GP", "zh": "WGAN-GP（梯度惩罚）"},
    "preset.MNIST digits": {"en": "MNIST digits", "zh": "MNIST 手写数字"},
    "preset.MNIST conv": {"en": "MNIST conv", "zh": "MNIST 卷积网络"},
    "preset.MNIST conv, long": {"en": "MNIST conv, long", "zh": "MNIST 卷积网络（长）"},
    # --- tabs, accordions, sections ----------------------------------------------------------
    "tab.watch": {"en": "Watch", "zh": "观察"},
    "tab.compare": {"en": "Compare", "zh": "对比"},
    "tab.sweep": {"en": "Sweep", "zh": "扫描"},
    "tab.draw": {"en": "Draw your data", "zh": "绘制你的数据"},
    "acc.about": {"en": "What is this?", "zh": "这是什么？"},
    "acc.explain": {"en": "What am I looking at?", "zh": "我在看什么？"},
    "acc.reg_help": {"en": "What does this regularizer do?", "zh": "这个正则化器做什么？"},
    "acc.settings": {"en": "Share or load settings (JSON)", "zh": "分享或载入设置（JSON）"},
    "acc.share": {"en": "Share link, downloads, uploads", "zh": "分享链接、下载、上传"},
    "acc.saved": {"en": "Saved runs: overlay up to 4", "zh": "已保存的运行：最多叠加 4 个"},
    "acc.sidebar": {"en": "Controls", "zh": "控制面板"},
    "acc.group.regularization": {"en": "Regularizer options", "zh": "正则化选项"},
    "acc.group.architecture": {"en": "Architecture (rebuilds the networks)",
                               "zh": "网络结构（会重建网络）"},
    "acc.group.optimization": {"en": "Optimization", "zh": "优化"},
    "acc.group.metrics": {"en": "Measurement", "zh": "测量"},
    "lang.label": {"en": "Language / 语言", "zh": "语言 / Language"},
    # --- view toggles and boxes ----------------------------------------------------------------
    "view.heat": {"en": "D(x) heatmap", "zh": "D(x) 热力图"},
    "view.arrows": {"en": "G gradient arrows", "zh": "G 梯度箭头"},
    "view.mani": {"en": "Noise grid (manifold)", "zh": "噪声网格（流形）"},
    "view.layer": {"en": "Layer", "zh": "层"},
    "box.sweep_field": {"en": "Field to sweep", "zh": "要扫描的参数"},
    "box.sweep_values": {"en": "Values (comma-separated)", "zh": "取值（用逗号分隔）"},
    "box.sweep_table": {"en": "Results", "zh": "结果"},
    "box.sweep_plot": {"en": "Trade-off", "zh": "权衡"},
    "box.draw_n": {"en": "Points per click", "zh": "每次点击的点数"},
    "box.draw_spread": {"en": "Spread of each click", "zh": "每次点击的散布"},
    "box.share_link": {"en": "Share link", "zh": "分享链接"},
    "box.compare_link": {"en": "Comparison link", "zh": "对比链接"},
    "box.download": {"en": "Your download", "zh": "你的下载"},
    "box.settings": {"en": "Settings", "zh": "设置"},
    "box.up_config": {"en": "Config JSON", "zh": "配置 JSON"},
    "box.up_ckpt": {"en": "Checkpoint (.safetensors)", "zh": "检查点（.safetensors）"},
    "box.up_points": {"en": "Your 2-D points (CSV: x,y per row)",
                      "zh": "你的二维数据点（CSV：每行 x,y）"},
    "box.saved_runs": {"en": "Your saved runs (choose up to 4)", "zh": "你保存的运行（最多选 4 个）"},
    "box.draw_canvas": {"en": "Your data", "zh": "你的数据"},
    "plot.a_weights": {"en": "A weights", "zh": "A 的权重"},
    "plot.b_weights": {"en": "B weights", "zh": "B 的权重"},
    "plot.saved": {"en": "Saved runs overlaid", "zh": "已保存运行的叠加"},
    # --- chart titles --------------------------------------------------------------------------
    "plot.losses": {"en": "Losses", "zh": "损失"},
    "plot.losses.log": {"en": "Losses (log scale: they ran away)", "zh": "损失（对数刻度：损失失控了）"},
    "plot.losses.wait": {"en": "Losses: they appear once training starts (press Train)",
                         "zh": "损失：开始训练后出现（按 训练）"},
    "wait.none": {"en": "not measured in this run", "zh": "本次运行未测量"},
    "wait.first": {"en": "waiting: first measurement at step {at}", "zh": "等待：第 {at} 步首次测量"},
    "wait.next": {"en": "waiting: next measurement at step {at}", "zh": "等待：第 {at} 步下次测量"},
    "plot.penalties": {"en": "Penalties (lambda or weight included)",
                       "zh": "惩罚项（已乘以 lambda 或权重）"},
    "plot.coverage": {"en": "Modes captured", "zh": "捕获的模式数"},
    "plot.fidelity": {"en": "High-quality samples (%)", "zh": "高质量样本（%）"},
    "plot.divergence": {"en": "Distance to the data (nats, lower is better)",
                        "zh": "与真实数据的距离（nats，越低越好）"},
    "plot.sparsity": {"en": "Sparsity over time (%)", "zh": "稀疏度随时间变化（%）"},
    "plot.sharpness": {"en": "Sharpness (top |Hessian eigenvalue|)",
                       "zh": "锐度（Hessian 最大特征值的绝对值）"},
    "plot.spectrum": {"en": "Weight spectral norm (product of the layers' top singular values)",
                      "zh": "权重谱范数（各层最大奇异值之积）"},
    "plot.generalization": {"en": "D generalization gap", "zh": "判别器 D 的泛化差距"},
    "plot.coverage.img": {"en": "Digits covered (>= 1% of samples)",
                          "zh": "覆盖的数字类别（占样本至少 1%）"},
    "plot.fidelity.img": {"en": "Inception score (classifier, max 10)",
                          "zh": "Inception 分数（分类器，最高 10）"},
    "plot.divergence.img": {"en": "Frechet classifier distance (lower is better)",
                            "zh": "Fréchet 分类器距离（越低越好）"},
    "plot.sparsity.img": {"en": "Sparsity over time (%)", "zh": "稀疏度随时间变化（%）"},
    "plot.sharpness.img": {"en": "Sharpness (top |Hessian eigenvalue|)",
                           "zh": "锐度（Hessian 最大特征值的绝对值）"},
    "plot.spectrum.img": {"en": "Weight spectral norm (product of the layers' top singular "
                                "values)", "zh": "权重谱范数（各层最大奇异值之积）"},
    "plot.generalization.img": {"en": "D generalization gap: mean D(x), training minus "
                                      "held-out digits",
                                "zh": "判别器 D 的泛化差距：训练集与留出集上 D(x) 均值之差"},
    "plot.lambda": {"en": "Adaptive lambda", "zh": "自适应 lambda"},
    "plot.lambda.img": {"en": "Adaptive lambda", "zh": "自适应 lambda"},
    "plot.a": {"en": "A", "zh": "A"},
    "plot.b": {"en": "B", "zh": "B"},
    "plot.overlay": {"en": "A (dashed) and B overlaid", "zh": "A（虚线）与 B 叠加"},
    # --- figure text (matplotlib; English where no CJK font is installed, plots/fonts.py) --
    "fig.title": {"en": "{name}: real vs generated, step {step}",
                  "zh": "{name}：真实与生成，第 {step} 步"},
    "fig.title.slow": {"en": "{name}: slow motion {stage}, step {step}",
                       "zh": "{name}：慢动作 {stage}，第 {step} 步"},
    "fig.heat": {"en": "D(x): probability that x is real", "zh": "D(x)：x 为真实数据的概率"},
    "fig.heat.critic": {"en": "critic score D(x), scaled to [0, 1] over this view",
                        "zh": "评论家分数 D(x)，在视野内缩放到 [0, 1]"},
    "fig.real": {"en": "real data", "zh": "真实数据"},
    "fig.fake": {"en": "generated", "zh": "生成的点"},
    "fig.arrows": {"en": "G gradient", "zh": "G 的梯度"},
    "fig.manifold": {"en": "G manifold (z grid)", "zh": "G 的流形（z 网格）"},
    "fig.w.sup": {"en": "Weight magnitudes |w|, log scale", "zh": "权重大小 |w|（对数刻度）"},
    "fig.w.sup_sn": {"en": "Weight magnitudes |w|, log scale (spectral norm: effective W / "
                           "sigma)",
                     "zh": "权重大小 |w|（对数刻度；谱归一化：有效权重 W / sigma）"},
    "fig.w.g": {"en": "Generator G", "zh": "生成器 G"},
    "fig.w.d": {"en": "Discriminator D", "zh": "判别器 D"},
    "fig.w.none": {"en": "no weights", "zh": "没有权重"},
    "fig.w.detail": {"en": "sparse {sparse}, zeros {zeros}", "zh": "稀疏 {sparse}，零 {zeros}"},
    "fig.w.count": {"en": "{n} weights", "zh": "{n} 个权重"},
    "fig.w.bad": {"en": ", {n} not finite", "zh": "，{n} 个非有限值"},
    "fig.w.ylabel": {"en": "% of weights", "zh": "权重占比 %"},
    "fig.o.loss": {"en": "D loss", "zh": "D 的损失"},
    "fig.o.hq": {"en": "High-quality samples (%)", "zh": "高质量样本（%）"},
    "fig.o.is": {"en": "Inception score", "zh": "Inception 分数"},
    "fig.o.sparse": {"en": "D sparse (|w| <= eps, %)", "zh": "D 的稀疏度（|w| <= eps，%）"},
    "fig.o.sharp": {"en": "D sharpness (log scale)", "zh": "D 的锐度（对数刻度）"},
    "fig.o.spec": {"en": "D weight spectral norm (log scale)", "zh": "D 的权重谱范数（对数刻度）"},
    "fig.o.modes": {"en": "Modes captured", "zh": "捕获的模式数"},
    "fig.o.gap": {"en": "D generalization gap (train - held-out)",
                  "zh": "D 的泛化差距（训练集 - 留出集）"},
    "fig.o.step": {"en": "step", "zh": "步数"},
    "fig.o.unmeasured": {"en": "not measured yet", "zh": "尚未测量"},
    "fig.t.sparse": {"en": "D sparsity", "zh": "D 的稀疏度"},
    "fig.t.sparse_y": {"en": "D sparse (% of weights)", "zh": "D 的稀疏权重（占权重 %）"},
    "fig.t.sharp": {"en": "D sharpness", "zh": "D 的锐度"},
    "fig.t.sharp_y": {"en": "top |Hessian eigenvalue|", "zh": "Hessian 最大特征值的绝对值"},
    "fig.t.none": {"en": "no finished run yet", "zh": "还没有完成的运行"},
    # --- slow-motion step ----------------------------------------------------------------------
    "slow.stage": {"en": "**Slow motion, stage {i} of {n}:** {text}",
                   "zh": "**慢动作，第 {i} / {n} 阶段：** {text}"},
    "slow.see": {"en": "D looks at real points (green) and G's generated points (purple) at "
                       "step {step}. The background is D's current guess: green where it "
                       "says 'real', purple where it says 'generated'.",
                 "zh": "第 {step} 步：判别器 D 观察真实的点（绿色）和生成器 G 生成的点（紫色）。"
                       "背景是 D 目前的判断：绿色表示它认为“真实”，紫色表示它认为“生成”。"},
    "slow.d_update": {"en": "D updates its weights ({n}x) to score real points higher and "
                            "generated points lower: the heatmap moves (weights changed by "
                            "{size:.3g}).",
                      "zh": "D 更新自己的权重（{n} 次），给真实的点打更高分、给生成的点打更低分："
                            "热力图随之变化（权重变化量 {size:.3g}）。"},
    "slow.g_push": {"en": "G asks the updated D which way to move each generated point: the "
                          "arrows point where D would call it more real.",
                    "zh": "G 向更新后的 D 询问每个生成点该往哪里移动：箭头指向 D 认为更“真实”的方向。"},
    "slow.g_update": {"en": "G updates its weights: the generated points move along the arrows. "
                            "The step is done; the run is now at step {step}.",
                      "zh": "G 更新自己的权重：生成的点沿着箭头移动。这一步完成了，"
                            "现在是第 {step} 步。"},
    "slow.reg.prox": {"en": "Then L1's proximal step (lambda {lam:g}) set weights of {net} "
                            "that were close to zero to exactly zero: {new} new exact zeros, "
                            "{total} in all.",
                      "zh": "随后 L1 的近端步骤（lambda {lam:g}）把 {net} 中接近零的权重直接置为零："
                            "新增 {new} 个精确零，共 {total} 个。"},
    "slow.reg.l1": {"en": "The L1 penalty (lambda {lam:g}) also pulled every weight of {net} "
                          "toward zero by the same amount.",
                    "zh": "L1 惩罚（lambda {lam:g}）还把 {net} 的每个权重以相同幅度拉向零。"},
    "slow.reg.l2": {"en": "The L2 penalty (lambda {lam:g}) also shrank the weights of {net} "
                          "toward zero, big ones most.",
                    "zh": "L2 惩罚（lambda {lam:g}）还把 {net} 的权重向零收缩，越大的权重收缩越多。"},
    "slow.reg.hsn1r": {"en": "HSN1R (lambda {lam:g}) also pushed the weights of {net} along "
                             "the direction in which its loss curves most sharply (found by "
                             "power iterations), to flatten the loss there.",
                       "zh": "HSN1R（lambda {lam:g}）还沿着 {net} 的损失弯曲最剧烈的方向"
                             "（用幂迭代求得）推动其权重，使那里的损失变得更平坦。"},
    "slow.batch": {"en": "These are the {n} real and {n} generated points of this very step's "
                         "batch.",
                   "zh": "这些正是这一步所用批次中的 {n} 个真实点和 {n} 个生成点。"},
    "slow.view": {"en": "(The points shown are the page's fixed view points, not this step's "
                        "batch.)",
                  "zh": "（显示的是页面固定的观察点，不是这一步的批次。）"},
    "slow.g_batch": {"en": "The purple points are the {n} points of G's own batch in this step.",
                     "zh": "紫色的点是这一步中 G 自己那一批的 {n} 个点。"},
    "slow.hsn.layer": {"en": "layer {i}: {share}", "zh": "第 {i} 层：{share}"},
    "slow.hsn.dir": {"en": "HSN1R (lambda {lam:g}) also pushed {net}'s weights to flatten its "
                           "loss along one direction: the way of nudging all of {net}'s weights "
                           "at once that bends the loss most (found by power iterations). "
                           "{share} of that direction lies in layer {top} of {n} ({parts}); "
                           "along it the loss bends by {curv}, the sharpness HSN1R lowers.",
                     "zh": "HSN1R（lambda {lam:g}）还推动了 {net} 的权重，让它的损失沿着一个方向变得更平坦："
                           "这个方向是同时微调 {net} 全部权重、让损失弯曲最厉害的方式（用幂迭代求得）。"
                           "这个方向的 {share} 落在第 {top} 层（共 {n} 层；{parts}）；沿着它，损失的弯曲程度为 "
                           "{curv}，也就是 HSN1R 要降低的锐度。"},
    "slow.hsn.idle": {"en": "HSN1R (lambda {lam:g}) acts every {every} steps (with {every}x lambda), not in this "
                            "one. The direction it last found, the way of nudging {net}'s weights "
                            "that bends the loss most, lies {share} in layer {top} of {n} "
                            "({parts}); along it the loss bent by {curv}.",
                      "zh": "HSN1R（lambda {lam:g}）每 {every} 步作用一次（强度为 {every} 倍 lambda），这一步没有作用。它上次找到的方向，"
                            "即让 {net} 的损失弯曲最厉害的权重微调方式，有 {share} 落在第 {top} 层（共 {n} 层；"
                            "{parts}）；沿着这个方向，损失的弯曲程度为 {curv}。"},
    "slow.only_2d": {"en": "Slow motion shows 2-D data only; this run trains on images.",
                     "zh": "慢动作只适用于二维数据；当前运行使用的是图像。"},
    "slow.done": {"en": "Slow motion: the run is done; raise Steps to go on.",
                  "zh": "慢动作：训练已完成；请调高步数后继续。"},
    # --- lessons (their texts: gan_lab.lessons in English, lessons_zh.py in Chinese) ----------
    # What to watch and the question first (on a projector both sit beside the samples plot,
    # in two columns; on a phone they come first); the lesson's introduction one click away.
    "lesson.box": {"en": "### Lesson {i} of {n}: {title}\n\n**What to watch.** {watch}\n\n"
                         "**Question.** {question}\n\n<details><summary>About this lesson"
                         "</summary>\n\n{intro}\n\n</details>",
                   "zh": "### 第 {i} 课（共 {n} 课）：{title}\n\n**观察什么。** {watch}\n\n"
                         "**问题。** {question}\n\n<details><summary>关于这节课"
                         "</summary>\n\n{intro}\n\n</details>"},
    "lesson.pick": {"en": "Start a guided lesson…", "zh": "开始一节引导课程…"},
    "lesson.set": {"en": "Lesson {i}: **{title}** is set up. Press **Train**.",
                   "zh": "第 {i} 课：**{title}** 已设置好。请按 **训练**。"},
    # --- messages ------------------------------------------------------------------------------
    "msg.keep_none": {"en": "Nothing to keep yet: press **Train** first.",
                      "zh": "还没有可以保留的运行：请先按 **训练**。"},
    "msg.keep_a": {"en": "Run A pinned at step {step}. Change one thing in the controls, then "
                         "press **Train B beside A** (same seed as A).",
                   "zh": "运行 A 已固定在第 {step} 步。在控制面板中改动一处，然后按 **在 A 旁训练 B**"
                         "（与 A 相同的随机种子）。"},
    "msg.pin_first": {"en": "Pin a run as A first (**Keep as A**), or press **With vs without "
                            "the regularizer**.",
                      "zh": "请先把一个运行固定为 A（**保留为 A**），或者按 **有无正则化对比**。"},
    "msg.b_seed": {"en": "B uses A's seed ({seed}) so that only your change differs.",
                   "zh": "B 使用 A 的随机种子（{seed}），这样只有你的改动不同。"},
    "msg.a_busy": {"en": "Run A could not continue: {why}", "zh": "运行 A 无法继续：{why}"},
    "msg.ab_train": {"en": "A and B train side by side (Compare tab).",
                     "zh": "A 和 B 并排训练（“对比”页）。"},
    "msg.with_without": {"en": "A: no regularizer. B: {what}. Same seed ({seed}). Press **Train "
                               "B beside A**.",
                         "zh": "A：不加正则化。B：{what}。相同的随机种子（{seed}）。请按 **在 A 旁训练 B**。"},
    "msg.no_compare": {"en": "There is no comparison to share yet.", "zh": "还没有可以分享的对比。"},
    "msg.compare_link": {"en": "Comparison link below the buttons: copy it with its copy button.",
                         "zh": "对比链接在按钮下方：用它的复制按钮复制。"},
    "msg.compare_none": {"en": "No comparison yet: **Keep as A**, or **With vs without the "
                               "regularizer**.",
                         "zh": "还没有对比：按 **保留为 A**，或者 **有无正则化对比**。"},
    "msg.sweep_start": {"en": "Sweep of **{field}** over {n} values, {k} at a time; results fill "
                              "the table.",
                        "zh": "正在扫描 **{field}** 的 {n} 个取值，每次 {k} 个；结果会填入表格。"},
    "msg.sweep_stop": {"en": "Sweep stopped; the finished runs stay in the table.",
                       "zh": "扫描已停止；已完成的运行保留在表格中。"},
    # --- the status line (ui/status.py) --------------------------------------------------------
    "st.idle": {"en": "Ready", "zh": "就绪"},
    "st.running": {"en": "Training", "zh": "训练中"},
    "st.paused": {"en": "Paused", "zh": "已暂停"},
    "st.done": {"en": "Done", "zh": "已完成"},
    "st.diverged": {"en": "Diverged (paused)", "zh": "发散了（已暂停）"},
    "st.stopped": {"en": "Stopped", "zh": "已停止"},
    "st.error": {"en": "Error", "zh": "出错"},
    "st.step": {"en": "step **{step}** / {total}", "zh": "第 **{step}** / {total} 步"},
    "st.rate": {"en": "{rate} steps a second", "zh": "每秒 {rate} 步"},
    "st.eta": {"en": "done in {eta}", "zh": "预计 {eta} 后完成"},
    "st.modes": {"en": "**{v} of {n}** clusters covered", "zh": "覆盖了 **{n} 个簇中的 {v} 个**"},
    "st.hq": {"en": "{pct} of samples on a cluster", "zh": "{pct} 的样本落在簇上"},
    "st.digits": {"en": "**{v} of 10** digits drawn", "zh": "画出了 **10 个数字中的 {v} 个**"},
    "st.more": {"en": "More numbers", "zh": "更多数字"},
    # --- what an edit of the controls did (ui/notes.py) -------------------------------------
    "note.continue": {"en": "The run continues from step {step} to {steps}.",
                      "zh": "运行从第 {step} 步继续到第 {steps} 步。"},
    "note.lr_stay": {"en": "Learning rates stay at {after} of their base values.",
                     "zh": "学习率保持在基准值的 {after}。"},
    "note.lr_end": {"en": ", then decay to 0 by step {steps}", "zh": "，然后在第 {steps} 步前衰减到 0"},
    "note.lr_move": {"en": "Under the {schedule} schedule the learning rates move from {before} to "
                           "{after} of their base values at step {step}{end} (the schedule is "
                           "always that of a run of Steps steps).",
                     "zh": "在 {schedule} 调度下，学习率在第 {step} 步从基准值的 {before} 变为 {after}{end}"
                           "（调度总是按“步数”那么长的运行来计算）。"},
    "note.rebuilt": {"en": "{what}: new networks built from seed {seed} (step 0). Press "
                           "**Train**.",
                     "zh": "{what}：已用随机种子 {seed} 重新构建网络（第 0 步）。请按 **训练**。"},
    "note.set": {"en": "{what}: set for the run at step 0. Press **Train**.",
                 "zh": "{what}：已为第 0 步的运行设置好。请按 **训练**。"},
    "note.live": {"en": "Applied live at step {step}: {what} (weights kept).",
                  "zh": "已在第 {step} 步即时生效：{what}（权重保留）。"},
    "note.later": {"en": "**{what}**: takes effect when you press **Train** or **Reset** (the "
                         "networks are rebuilt from step 0).",
                   "zh": "**{what}**：在你按 **训练** 或 **重置** 时生效（网络会从第 0 步重新构建）。"},
    "msg.lang": {"en": "Language: English", "zh": "语言：简体中文"},
}

# RunConfig's field labels in Chinese (English: config.py's `label`).
FIELD_LABELS_ZH: dict[str, str] = {
    "dataset": "数据集", "arch": "网络结构", "latent_dim": "噪声维度", "g_hidden": "G 宽度",
    "g_depth": "G 深度", "d_hidden": "D 宽度", "d_depth": "D 深度", "activation": "激活函数",
    "d_activation": "D 激活函数", "g_norm": "G 归一化", "spectral_norm": "谱归一化",
    "loss": "损失函数", "optimizer": "优化器", "lr_g": "G 学习率", "lr_d": "D 学习率",
    "beta1": "beta1", "beta2": "beta2", "lr_schedule": "学习率调度", "g_ema": "G 权重平均",
    "d_r1": "D 的 R1 惩罚", "gp_weight": "梯度惩罚权重", "batch_size": "批大小",
    "d_steps": "D:G 步数比", "steps": "步数", "seed": "随机种子", "device": "设备",
    "reg": "正则化器", "lam": "Lambda（正则化强度）", "reg_target": "作用对象", "l1_mode": "L1 方式",
    "reg_bias": "也正则化偏置", "hsn_iters": "HSN1R 迭代次数", "hsn_every": "HSN1R 每 k 步",
    "hsn_method": "HSN1R 方法", "sparsity_eps": "稀疏阈值 eps", "eval_every": "每隔多少步评估",
    "sharpness_every": "每隔多少步测锐度",
    "extra_regs": "额外的正则化器", "lam_goal": "Lambda 目标", "lam_gain": "Lambda 目标增益", "init": "起点",
}

# RunConfig's help lines in Chinese (English: config.py's `help`); the page appends the range.
FIELD_HELP_ZH: dict[str, str] = {
    "dataset": "训练数据：一个二维形状，或真实的 MNIST 手写数字。",
    "arch": "网络类型：MLP 适用于任何数据；“conv”（DCGAN 风格）只用于图像（MNIST）。",
    "latent_dim": "生成器输入噪声 z ~ N(0, I) 的维度。",
    "g_hidden": "生成器隐藏层宽度（每层单元数；卷积网络为基础通道数）。",
    "g_depth": "生成器隐藏层数。",
    "d_hidden": "判别器隐藏层宽度（每层单元数；卷积网络为基础通道数）。",
    "d_depth": "判别器隐藏层数。",
    "activation": "生成器隐藏层的非线性激活函数（判别器选“same”时也用它）。",
    "d_activation": "判别器隐藏层的非线性激活函数（“same” = 与生成器相同）。",
    "g_norm": "卷积生成器中的归一化：无，或在每个隐藏层后做批归一化（用批统计量，不用滑动平均）。",
    "spectral_norm": "谱归一化（Miyato 等，2018）：把 G、D 或两者的每个权重矩阵/卷积核除以其最大奇异值（每次更新做一次幂迭代）。L1、L2 和 HSN1R 作用于原始权重；直方图和稀疏度显示有效权重 W/sigma。",
    "loss": "对抗损失：非饱和（ns）、极小极大（minimax）、最小二乘（lsgan）、hinge，或 wgan-gp（D 是打分无界的评论家，并带梯度惩罚）。",
    "optimizer": "两个网络使用的优化器。",
    "lr_g": "生成器的学习率。",
    "lr_d": "判别器的学习率。",
    "beta1": "Adam 的 beta1（动量；优化器为 sgd 时是 SGD 的动量）。",
    "beta2": "Adam 的 beta2（二阶矩衰减）。",
    "lr_schedule": "整个运行中的学习率调度：恒定，或在最后一步衰减到 0（cosine、linear）；衰减能让最终样本更清晰。",
    "g_ema": "以这个衰减率对 G 的权重做指数滑动平均（0 = 关闭，常用 0.999），样本和质量指标取自平均后的 G：样本更平滑干净。损失、锐度和稀疏度仍是训练中的 G 的。",
    "d_r1": "在真实数据处对 D 施加 R1 梯度惩罚：gamma/2 * E||grad_x D(x)||^2（Mescheder 等，2018；0 = 关闭，MNIST 约为 1）。它让 D 在数据附近保持平滑，长时间训练能持续改进，而不是让 D 记住训练集。每步多一次经过 D 的反向传播。",
    "gp_weight": "WGAN-GP 惩罚权重（损失为 wgan-gp 时）：gp * E[(||grad_x D(x_hat)||_2 - 1)^2]，x_hat = e*real + (1-e)*fake，e ~ U(0, 1)。",
    "batch_size": "每批的样本数，真实数据和生成数据相同。",
    "d_steps": "每次生成器更新对应的判别器更新次数。",
    "steps": "要运行的生成器更新次数。",
    "seed": "随机种子：在 CPU 上，相同的种子和配置得到相同的运行。",
    "device": "在哪里训练：auto 会为这个模型选择最快的可用设备。",
    "reg": "权重正则化器：none（无）、L1（lambda*sum|w|）、L2（(lambda/2)*sum w^2）、HSN1R（lambda * Hessian 谱范数）。",
    "lam": "正则化强度 lambda（0 表示关闭）。",
    "reg_target": "惩罚项加在哪个网络上。",
    "l1_mode": "L1 的更新方式：“penalty”（损失中的次梯度；很少得到精确零）或“proximal”（每步之后做软阈值；得到精确零）。",
    "reg_bias": "也对偏置做正则化（默认只对权重）。",
    "hsn_iters": "HSN1R 每步的幂迭代次数（向量在各步之间保留）。",
    "hsn_every": "每 k 步施加一次 HSN1R，强度为 lambda*k（惰性正则化：k=8 时代价约为普通 ring8 步的 1.15 倍，而 fd 方法每步约 1.9 倍，exact 约 3.7 倍）。",
    "hsn_method": "HSN1R 惩罚的求导方式：“fd”（沿幂迭代向量对梯度做有限差分：每步 3 次梯度，约为普通 ring8 步的 1.9 倍；与精确值相差不到 1%）或“exact”（对 Hessian-向量积做二次反向传播，约 3.7 倍）。",
    "sparsity_eps": "当 |w| <= eps 时，这个权重算作稀疏。",
    "eval_every": "每 N 步计算一次质量指标。",
    "extra_regs": "同时使用更多正则化器，每个有自己的作用对象和 lambda：用“+”连接的 kind:target:lambda 项，例如 l2:d:0.001（配合 L1 即弹性网络）或 l2:d:0.001+hsn1r:d:0.01。留空：只用上面的正则化器。它们共用其选项（L1 方式、HSN1R 等）。",
    "lam_goal": "自适应 lambda（0 = 关闭）：训练中调节 lambda，使目标网络保持这个目标。L1：精确零的比例（0-1）；L2：权重范数；HSN1R：锐度（每次测量锐度时）。无法达到的目标会被报告。",
    "lam_gain": "自适应 lambda 的增益 k：每次测量时 lambda *= exp(k * 误差)（误差截断到 [-1, 1]），范围 [1e-6, 1]。",
    "init": "从随机权重开始，或从一个已在这份数据上训练好的 GAN 开始（随应用提供 MNIST 数字和 MNIST 卷积两个预设的）：这样正则化器从第一步起就作用在一个已收敛的模型上。",
    "sharpness_every": "每 N 步测量一次锐度（D 和 G 的损失的 Hessian 最大特征值的绝对值）；0 = 只在最后测量。",
}

# The explanations and the page's Markdown blocks (views.py).
CATALOG.update(_VIEWS)
# The run's messages, range messages, "More numbers" labels, durations (runtext.py).
CATALOG.update(_RUN)
