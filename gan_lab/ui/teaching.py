"""Short explanations shown next to each plot and regularizer.

Written for a student who has just pressed Train: what the picture shows, what "good" looks like,
and what the regularizer should do to it. Kept apart from the layout so a teacher can edit the
words without touching the wiring.
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
        "thinks they are fake. **Orange arrows** show where the generator's gradient pushes its "
        "samples (towards what D calls real). The **noise grid** (manifold) is a square grid of "
        "noise warped by G: it shows how G stretches and folds its input space. Good training: "
        "purple covers every green cluster. *Mode collapse*: purple piles onto a few clusters "
        "and ignores the rest. "
        "For MNIST you see an 8x8 grid of digits from fixed noise."
    ),
    "losses": (
        "**loss_d** is how badly D separates real from fake; **loss_g** is how badly G fools D. "
        "They do not fall to zero together: in a healthy GAN they settle and wobble around a "
        "balance (for the default loss, loss_d near 1.39 = 2 ln 2 means D is guessing). "
        "When a regularizer is on, a second chart shows the **penalty** added to D's or G's "
        "loss (lambda included): with L1 or L2 it falls as the weights shrink."
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
        "exactly this number for the network it targets, so its curve should sit lower."
    ),
    "weights": (
        "A histogram of log10|w| for every weight of G (top) and D (bottom), or one layer "
        "chosen in the menu. The dashed line marks eps: weights left of it count as sparse; "
        "exact zeros are counted separately (log10 0 is minus infinity). L1 (proximal) moves "
        "mass to the left and creates exact zeros; L2 shifts the whole bump left a little."
    ),
}

REGULARIZERS = {
    "none": (
        "**No regularizer.** Each network minimizes only its adversarial loss. Use this as the "
        "baseline to compare against."
    ),
    "l1": (
        "**L1**: adds **lambda * sum |w|** to the target network's loss.  \n"
        "*proximal* mode (default): after each optimizer step every weight is soft-thresholded, "
        "w <- sign(w) * max(|w| - lr * lambda, 0), so small weights become **exactly 0** "
        "(the LASSO effect): watch the exact-zero % and the sparsity curve climb.  \n"
        "*penalty* mode: the subgradient goes through the loss; weights get small but rarely "
        "exactly zero. Too large a lambda zeroes whole layers and training stalls."
    ),
    "l2": (
        "**L2** (weight decay): adds **(lambda / 2) * sum w^2**. It shrinks **all** weights in "
        "proportion to their size, so the histogram shifts left as a whole, but weights almost "
        "never reach exactly zero. A smoother, smaller-weight discriminator often trains more "
        "stably."
    ),
    "hsn1r": (
        "**HSN1R** (Hessian spectral-norm regularization): adds **lambda * ||H||_2**, where H is "
        "the Hessian of the target network's own adversarial loss with respect to its weights "
        "and **||H||_2 is its spectral norm = the largest |eigenvalue|** (some source texts call "
        "it a sum of eigenvalues or write a 1-norm; we use the spectral norm). It is estimated by "
        "power iteration with Hessian-vector products, keeping the vector between steps. "
        "*HSN1R method* **fd** (default) gets the penalty's gradient from finite differences "
        "of the ordinary gradient along that vector (within 1% of the exact value); **exact** "
        "uses double backpropagation. Expect a **lower sharpness** curve and a flatter, "
        "smoother D(x) heatmap. On a 2-core CPU a regularized ring8 step costs about 1.9x a "
        "plain one with fd (3.7x exact); *HSN1R every k* = 8 applies it every 8th step with "
        "8x lambda for ~1.15x."
    ),
}

NON_LIVE_NOTE = (
    "**{label}** takes effect when you press **Train** or **Reset**: the networks are rebuilt "
    "from step 0 (the current run is kept until then)."
)
