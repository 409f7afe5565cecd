# ruff: noqa: E501 - Chinese text is counted by display width; lines stay readable.
"""The page's explanations, for a student, in English and Chinese: the intro, one line beside
each view ("hint.*"), its "What am I looking at?" panel ("explain.*"), the first plain words
beside the regularizer menu ("reg.plain.*", before the registry's exact text, "reg.more.*"), and
the page's Markdown blocks ("md.*"). Merged into the catalog (catalog.py); a teacher edits the
words here, without touching the layout (gan_lab/ui/teaching.py places them)."""

from __future__ import annotations

INTRO_EN = (
    "Two small neural networks play a game. The **generator G** turns random noise into points; "
    "the **discriminator D** tries to tell G's points from the real data. Press **Train** and "
    "watch G's purple points move onto the real green ones. Then add a **regularizer** (a penalty "
    "on D's or G's weights) and see what it does to the weights, the samples and the curves."
)

EXPLAIN_EN = {
    "samples": (
        "**Green** dots are real data, **purple** dots are the generator's samples (always from "
        "the same noise, so you can follow them between frames). The background is the "
        "discriminator's belief D(x): green where it thinks points are real, purple where it "
        "thinks they are fake. **Dark purple arrows** show where the generator's gradient "
        "pushes its samples (towards what D calls real). In every chart G is purple and D is "
        "orange. The **noise grid** (manifold) is a square grid of "
        "noise warped by G: it shows how G stretches and folds its input space. Good training: "
        "purple covers every green cluster. *Mode collapse*: purple piles onto a few clusters "
        "and ignores the rest. With the **wgan-gp** loss D is a *critic*: its score is not a "
        "probability, so the background shows the score scaled from its lowest (0) to its "
        "highest (1) value in view, and the colour bar says so. "
        "For MNIST you see an 8x8 grid of digits from fixed noise."
    ),
    "losses": (
        "**loss_d** is how badly D separates real from fake; **loss_g** is how badly G fools D. "
        "They do not fall to zero together: in a healthy GAN they settle and wobble around a "
        "balance (for the default loss, loss_d near 1.39 = 2 ln 2 means D is guessing). "
        "When a regularizer is on, a second chart shows the **penalty** added to D's or G's "
        "loss (lambda included): with L1 or L2 it falls as the weights shrink. D's gradient "
        "penalties (R1, and WGAN-GP's on points between real and fake) show there too. With "
        "wgan-gp, -loss_d estimates the Wasserstein distance between real and fake."
    ),
    "quality": (
        "How good the samples are, measured every *Eval every* steps. For ring8 / grid25: "
        "**modes** = how many clusters G covers (8 or 25 is perfect), **hq_frac** = fraction of "
        "samples within 3 standard deviations of a cluster centre. **grid_kl / grid_js** compare "
        "2-D histograms of real and generated points (lower is better). For MNIST: digits "
        "covered, classifier score and Frechet distance of a small digit classifier."
    ),
    "sparsity": (
        "The fraction of regularized weights that are tiny (|w| <= eps, the *Sparsity eps* "
        "option) and that are exactly zero, for G and D. L1 in **proximal** mode pushes weights "
        "to exact zero, so these curves climb; L2 and no regularizer keep them near zero."
    ),
    "sharpness": (
        "Sharpness = the largest |eigenvalue| of the Hessian of each network's loss with respect "
        "to its weights: how sharply the loss curves around the current weights. Measured every "
        "*Sharpness every* steps for every regularizer, so runs can be compared. HSN1R penalizes "
        "exactly this number for the network it targets, so its curve should sit lower. "
        "(With wgan-gp, D's is that of the critic's loss without its gradient penalty.)"
    ),
    "spectrum": (
        "The **weight spectral norm**: for each network, the product of its layers' largest "
        "singular values (how much the layers can stretch an input, multiplied up; for an MLP "
        "an upper bound on how fast its output can change). **Spectral norm** (architecture "
        "option) divides every layer by its largest singular value, so its network stays near "
        "1. Compare it with sharpness: spectral norm bounds the weights, HSN1R the loss's "
        "curvature (lesson 6)."
    ),
    "generalization": (
        "MNIST only: **D's generalization gap**, D's mean logit on 2,000 of the digits it "
        "trains on minus on 2,000 held-out digits the GAN never sees. Near 0, D judges new "
        "digits like its own; a growing gap means D is memorizing its training set, which is "
        "what overfitting means for a GAN."
    ),
    "weights": (
        "Two histograms side by side, G on the left and D on the right: how many weights "
        "have each size, as log10|w| (-3 means 0.001), or one layer chosen in the menu. "
        "The dashed line marks eps: weights left of it count as sparse; exact zeros are "
        "counted separately (log10 0 is minus infinity). L1 (proximal) moves "
        "mass to the left and creates exact zeros; L2 shifts the whole bump left a little. "
        "With **spectral norm** the histogram shows the weights the network computes with, "
        "W / sigma (sigma the layer's largest singular value; the title says so), while L1 and "
        "L2 act on W itself."
    ),
    "compare": (
        "**A** is the run you kept with *Keep as A*; **B** trains beside it from the same seed "
        "and the same data, with the controls as they are now, so a difference between them "
        "comes from what you changed. Top: each run's samples (the same colours as on Watch). "
        "Middle: their curves overlaid, **A dashed** and B solid, read at the same step. "
        "Bottom: each run's weight histograms. **With vs without the regularizer** sets this "
        "up in one click: A without it, B with it. Look for: does B cover more clusters, sit "
        "lower in sharpness, or have more exact zeros than A? One pair of runs can be lucky: "
        "change the seed and compare again before you conclude."
    ),
    "sweep": (
        "A sweep trains the current settings once for each value you list (the same seed), a "
        "few at a time, and measures each run when it ends. The **table** has one row per "
        "value. The **trade-off plot** has three panels with the value on the x-axis: sample "
        "quality (modes captured, or the digits' score), D's sparsity and D's sharpness, what "
        "the regularizer changes. Look for the values where the "
        "regularizer changes D a lot while quality holds, and for the value where quality "
        "drops: that is its price. Read the numbers on the axis, not only the shape: a small "
        "difference between neighbouring values can be the luck of one seed."
    ),
}

# The first words beside the regularizer menu: what it does, in a student's words, before the
# registry's exact text (formula, options, cost).
REG_PLAIN_EN = {
    "none": "Nothing is added: both networks just play the game. The baseline to compare with.",
    "l1": "Pushes D's (or G's) small weights all the way to zero, so the network ends up using "
          "fewer connections.",
    "l2": "Pulls every weight a little toward zero, big ones hardest, like a spring: smaller "
          "weights, but rarely exactly zero.",
    "hsn1r": "Keeps the network's loss from curving sharply around its weights (a flatter "
             "loss), which tends to make D's judgement smoother and training calmer.",
}

# One line under each view, for a student; the panel below it holds the full explanation.
HINTS_EN = {
    "samples": "Green: real data. Purple: the generator's points. Background: where D thinks "
               "points are real (green) or fake (purple).",
    "losses": "How well each network is doing at its own game; they settle and wobble, they "
              "do not both fall to zero.",
    "weights": "How big the weights are (G left, D right); bars at the far left are weights "
               "that are exactly zero.",
    "quality": "How many clusters G covers, how many samples land on one, how far the samples "
               "are from the data.",
    "sparsity": "The share of weights that are tiny or exactly zero, over time.",
    "sharpness": "How sharply each network's loss curves: lower is flatter.",
    "spectrum": "How much each network can stretch its input: spectral norm keeps it at 1.",
    "generalization": "Does D judge new digits like the ones it trained on? A growing gap is "
                      "memorizing.",
    "compare": "Two runs from the same seed that differ only in what you changed: what did "
               "that one change do?",
    "sweep": "One run per value of one setting, all else equal: what does the setting buy, "
             "and what does it cost?",
}

INTRO_ZH = (
    "两个小型神经网络在玩一个游戏。**生成器 G** 把随机噪声变成点；**判别器 D** 试图把 G 的点和真实数据区分开。"
    "按 **训练**，看 G 的紫色点移到真实的绿色点上。然后加上一个**正则化器**（对 D 或 G 权重的惩罚），"
    "看看它对权重、样本和曲线有什么影响。"
)

EXPLAIN_ZH = {
    "samples": (
        "**绿色**的点是真实数据，**紫色**的点是生成器的样本（总是来自同一批噪声，所以你可以在帧与帧之间跟踪它们）。"
        "背景是判别器的判断 D(x)：绿色表示它认为这里的点是真实的，紫色表示它认为是生成的。"
        "**深紫色箭头**表示生成器的梯度把样本推向哪里（推向 D 认为真实的地方）。在每张图中 G 都是紫色，D 都是橙色。"
        "**噪声网格**（流形）是一个被 G 扭曲的方形噪声网格：它显示 G 如何拉伸和折叠它的输入空间。"
        "好的训练：紫色覆盖每一个绿色簇。*模式崩溃*：紫色挤在少数几个簇上，忽略其余的簇。"
        "使用 **wgan-gp** 损失时，D 是一个*评论家*：它的分数不是概率，所以背景把分数按视野内的最低值（0）"
        "到最高值（1）缩放显示，颜色条上也这样标注。MNIST 显示的是由固定噪声生成的 8x8 数字网格。"
    ),
    "losses": (
        "**loss_d** 表示 D 区分真假有多差；**loss_g** 表示 G 骗过 D 有多差。它们不会一起降到零："
        "健康的 GAN 中它们会稳定下来，在一个平衡点附近波动（默认损失下，loss_d 接近 1.39 = 2 ln 2 表示 D 在瞎猜）。"
        "打开正则化器时，第二张图显示加到 D 或 G 损失上的**惩罚项**（已乘以 lambda）：使用 L1 或 L2 时，"
        "它会随着权重变小而下降。D 的梯度惩罚（R1，以及 WGAN-GP 在真假之间的点上的惩罚）也显示在那里。"
        "使用 wgan-gp 时，-loss_d 估计真实分布与生成分布之间的 Wasserstein 距离。"
    ),
    "quality": (
        "样本有多好，每隔*每隔多少步评估*步测量一次。对 ring8 / grid25：**modes** = G 覆盖了多少个簇（8 或 25 为完美），"
        "**hq_frac** = 落在某个簇中心 3 个标准差以内的样本比例。**grid_kl / grid_js** 比较真实点和生成点的二维直方图"
        "（越低越好）。对 MNIST：覆盖的数字类别、分类器分数和一个小型数字分类器的 Fréchet 距离。"
    ),
    "sparsity": (
        "G 和 D 中被正则化的权重里，很小的（|w| <= eps，即*稀疏阈值 eps* 选项）和恰好为零的比例。"
        "**近端**方式的 L1 会把权重推到精确的零，所以这些曲线会上升；L2 和不加正则化时它们保持在零附近。"
    ),
    "sharpness": (
        "锐度 = 每个网络的损失对其权重的 Hessian 矩阵的最大特征值绝对值：损失在当前权重附近弯曲得有多厉害。"
        "对每种正则化器都每隔*每隔多少步测锐度*步测量一次，便于比较不同的运行。HSN1R 惩罚的正是它所作用的网络的这个数，"
        "所以它的曲线应该更低。（使用 wgan-gp 时，D 的锐度是评论家不含梯度惩罚的损失的锐度。）"
    ),
    "spectrum": (
        "**权重谱范数**：每个网络各层最大奇异值的乘积（各层最多能把输入拉伸多少倍，连乘起来；对 MLP 来说，"
        "是其输出变化速度的上界）。**谱归一化**（网络结构选项）把每一层除以其最大奇异值，所以它的网络保持在 1 附近。"
        "把它和锐度比较：谱归一化约束的是权重，HSN1R 约束的是损失的弯曲程度（第 6 课）。"
    ),
    "generalization": (
        "仅 MNIST：**D 的泛化差距**，即 D 在它训练用的 2,000 个数字上的平均 logit，减去在 2,000 个 GAN "
        "从未见过的留出数字上的平均 logit。接近 0 表示 D 判断新数字和判断自己见过的数字一样；差距越来越大表示 D "
        "在记忆它的训练集，这就是 GAN 的过拟合。"
    ),
    "weights": (
        "左右并排的两个直方图，左边是 G，右边是 D：每种大小的权重有多少，横轴为 log10|w|（-3 表示 0.001），"
        "也可以在菜单中只选一层。虚线标出 eps：它左边的权重算作稀疏；精确的零单独计数（log10 0 是负无穷）。"
        "L1（近端）把分布往左推并产生精确的零；L2 把整个峰稍微往左移。使用**谱归一化**时，直方图显示网络实际计算用的权重"
        " W / sigma（sigma 是该层的最大奇异值；标题会注明），而 L1 和 L2 作用在 W 本身上。"
    ),
    "compare": (
        "**A** 是你用*保留为 A*保留下来的运行；**B** 在它旁边用相同的随机种子和相同的数据训练，使用现在控制面板上的设置，"
        "所以两者的差别来自你改动的地方。上方：每个运行的样本（颜色与“观察”页相同）。中间：它们的曲线叠在一起，"
        "**A 是虚线**、B 是实线，在同一步上对比着看。下方：每个运行的权重直方图。**有无正则化对比**一键完成这些设置："
        "A 不加正则化，B 加。要看的是：B 是否覆盖了更多的簇、锐度是否更低、精确零是否比 A 多？"
        "一对运行可能只是运气好：下结论之前换一个随机种子再比一次。"
    ),
    "sweep": (
        "扫描会对你列出的每个取值，用当前设置（相同的随机种子）各训练一次，每次同时跑几个，并在每个运行结束时测量它。"
        "**结果表**每个取值一行。**权衡图**有三个面板，横轴都是这个取值：样本质量（捕获的模式数，或数字的分数）、"
        "D 的稀疏度和 D 的锐度，也就是正则化器改变的东西。要找的是：正则化器大幅改变 D 而质量保持不变的取值，"
        "以及质量开始下降的取值：那就是它的代价。看坐标轴上的数字，而不只是曲线的形状：相邻取值之间的小差别可能只是一个随机种子的运气。"
    ),
}

REG_PLAIN_ZH = {
    "none": "什么都不加：两个网络只是在玩这个游戏。用来对比的基准。",
    "l1": "把 D（或 G）的小权重一直推到零，所以网络最后用到的连接更少。",
    "l2": "像弹簧一样把每个权重都往零拉一点，越大的拉得越狠：权重变小，但很少恰好为零。",
    "hsn1r": "不让网络的损失在其权重附近弯曲得太厉害（损失更平坦），这通常会让 D 的判断更平滑、训练更平稳。",
}

# The registry's exact text (gan_lab.regularizers, English there) in Chinese, for the four
# built-in regularizers; a regularizer added later shows its English text.
REG_MORE_ZH = {
    "none": "**无正则化。** 每个网络只最小化自己的对抗损失。用它作为对比的基准。",
    "l1": "**L1**：在目标网络的损失上加 **lambda * sum |w|**。  \n*近端*方式（默认）：每次优化器更新之后，"
          "每个权重做软阈值 w <- sign(w) * max(|w| - lr * lambda, 0)，所以小权重会变成**精确的 0**（LASSO 效应）："
          "看精确零的比例和稀疏度曲线上升。  \n*惩罚*方式：次梯度经过损失；权重变小但很少恰好为零。"
          "lambda 太大会把整层清零，训练停滞。",
    "l2": "**L2**（权重衰减）：加上 **(lambda / 2) * sum w^2**。它按大小成比例地收缩**所有**权重，"
          "所以直方图整体左移，但权重几乎从不恰好为零。更平滑、权重更小的判别器通常训练得更稳定。",
    "hsn1r": "**HSN1R**（Hessian 谱范数正则化）：加上 **lambda * ||H||_2**，其中 H 是目标网络自身对抗损失对其权重的"
             " Hessian，**||H||_2 是它的谱范数 = 最大的 |特征值|**（有些资料称之为特征值之和或写成 1-范数；我们用谱范数）。"
             "它用 Hessian-向量积的幂迭代来估计，向量在各步之间保留。*HSN1R 方法* **fd**（默认）沿这个向量对普通梯度做有限差分"
             "来得到惩罚项的梯度（与精确值相差不到 1%）；**exact** 用二次反向传播。预期会看到**更低的锐度**曲线和更平坦、"
             "更平滑的 D(x) 热力图。在 2 核 CPU 上，使用 fd 时一个正则化的 ring8 步约为普通步的 1.9 倍（exact 为 3.7 倍）；"
             "*HSN1R 每 k 步* = 8 时每 8 步施加一次、强度为 8 倍 lambda，约为 1.15 倍。",
}

HINTS_ZH = {
    "samples": "绿色：真实数据。紫色：生成器的点。背景：D 认为哪里的点是真实的（绿色）或生成的（紫色）。",
    "losses": "每个网络在自己的游戏里表现如何；它们会稳定并波动，不会一起降到零。",
    "weights": "权重有多大（左边 G，右边 D）；最左边的柱子是恰好为零的权重。",
    "quality": "G 覆盖了多少个簇、多少样本落在簇上、样本离数据有多远。",
    "sparsity": "很小或恰好为零的权重所占的比例，随时间变化。",
    "sharpness": "每个网络的损失弯曲得有多厉害：越低越平坦。",
    "spectrum": "每个网络最多能把输入拉伸多少：谱归一化让它保持在 1。",
    "generalization": "D 判断新数字是否和判断训练过的数字一样？差距变大就是在记忆。",
    "compare": "两个随机种子相同、只在你改动的地方不同的运行：这一个改动带来了什么？",
    "sweep": "一个设置的每个取值各跑一次，其余不变：这个设置带来了什么，又付出了什么代价？",
}

# The page's Markdown blocks (ui/layout.py); "{...}" values are filled in by the page.
MD = {
    "md.title": ("## GAN Lab <small style='font-weight:400;opacity:.7'>watch a GAN learn, and "
                 "what regularizers do to it</small>",
                 "## GAN Lab <small style='font-weight:400;opacity:.7'>看一个 GAN 如何学习，"
                 "以及正则化器对它做了什么</small>"),
    "md.ready": ("**Ready** · press **Train**", "**就绪** · 请按 **训练**"),
    "md.presets": ("**Presets** (one click sets every control):",
                   "**预设**（点一下就设置好所有控件）："),
    "md.compare": ("Pin the run on screen as **A**, change one thing, and train **B** beside it "
                   "from the same seed. Curves are overlaid (A dashed).",
                   "把屏幕上的运行固定为 **A**，改动一处，然后用相同的随机种子在它旁边训练 **B**。"
                   "曲线叠在一起显示（A 为虚线）。"),
    "md.sweep": ("Train the current settings once per value of one field (same seed), a few at "
                 "a time, and compare the results in a table and a trade-off plot.",
                 "对一个参数的每个取值，用当前设置（相同的随机种子）各训练一次，每次同时跑几个，"
                 "然后在表格和权衡图中比较结果。"),
    "md.draw": ("Paint on the canvas where the real data should be: drag the mouse (or a "
                "finger) to paint a stroke, or click to add one small cloud; then train on "
                "your drawing. The canvas shows [-2, 2]².",
                "在画布上画出真实数据应该在的地方：拖动鼠标（或手指）画一笔，或者点一下添加一小团点；"
                "然后用你画的数据训练。画布显示的范围是 [-2, 2]²。"),
    "md.download": ("**Download** (of the run on screen; the config of the controls)",
                    "**下载**（屏幕上的运行；配置取自控制面板）"),
    "md.upload": ("**Upload** (limits: config {config_kib} KiB, points CSV {points_mib} MiB, "
                  "checkpoint {ckpt_mib} MiB, safetensors only). See docs/SHARING.md for the "
                  "formats.",
                  "**上传**（上限：配置 {config_kib} KiB，数据点 CSV {points_mib} MiB，检查点 "
                  "{ckpt_mib} MiB，只接受 safetensors）。格式见 docs/SHARING.md。"),
}


def _views() -> dict[str, dict[str, str]]:
    out = {"md.intro": {"en": INTRO_EN, "zh": INTRO_ZH}}
    for prefix, en, zh in (("hint", HINTS_EN, HINTS_ZH), ("explain", EXPLAIN_EN, EXPLAIN_ZH),
                           ("reg.plain", REG_PLAIN_EN, REG_PLAIN_ZH)):
        out.update({f"{prefix}.{k}": {"en": v, "zh": zh[k]} for k, v in en.items()})
    out.update({k: {"en": en, "zh": zh} for k, (en, zh) in MD.items()})
    return out


VIEWS = _views()
