"""Short explanations shown next to each plot and regularizer.

Written for a student who has just pressed Train: what the picture shows and what "good" looks
like. Kept apart from the layout so a teacher can edit the words without touching the wiring.
What each regularizer does is told by its entry in gan_lab.regularizers.REGISTRY.
"""

from __future__ import annotations

INTRO = (
    "Two small neural networks play a game. The **generator G** turns random noise into points; "
    "the **discriminator D** tries to tell G's points from the real data. Press **Train** and "
    "watch G's purple points move onto the real green ones. Then add a **regularizer** (a penalty "
    "on D's or G's weights) and see what it does to the weights, the samples and the curves."
)

PLOTS = {
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
}

# The first words beside the regularizer menu: what it does, in a student's words, before the
# registry's exact text (formula, options, cost).
REG_PLAIN = {
    "none": "Nothing is added: both networks just play the game. The baseline to compare with.",
    "l1": "Pushes D's (or G's) small weights all the way to zero, so the network ends up using "
          "fewer connections.",
    "l2": "Pulls every weight a little toward zero, big ones hardest, like a spring: smaller "
          "weights, but rarely exactly zero.",
    "hsn1r": "Keeps the network's loss from curving sharply around its weights (a flatter "
             "loss), which tends to make D's judgement smoother and training calmer.",
}

# One line under each view, for a student; the panel below it holds the full explanation.
VIEW_HINTS = {
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
}
