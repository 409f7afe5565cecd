"""Chinese text in the figures: a CJK font for matplotlib, or English figures without one.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs; drawn with it, Chinese text comes
out as empty boxes ("tofu"). `cjk_family()` finds one of the usual CJK fonts (Debian's
fonts-noto-cjk or fonts-wqy-microhei; .ci/run installs the latter) and `use_cjk()` puts it
behind the default family, so each glyph missing from DejaVu Sans comes from it (matplotlib's
per-glyph fallback). `figure_lang(lang)`: the language a figure's text is drawn
in: Chinese only when such a font is present, else English, never boxes.
"""

from __future__ import annotations

import functools

from .. import i18n

# Simplified Chinese families, the most complete first.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "Droid Sans Fallback")


# Words in the file names of those fonts (fonts-noto-cjk, fonts-wqy-*, fonts-droid-fallback).
CJK_FILES = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback")


@functools.cache
def cjk_family() -> str | None:
    """The first installed family of CJK_FAMILIES, or None. matplotlib's font list is cached
    in its config folder when first built: a CJK font installed since then is added here."""
    from matplotlib import font_manager

    fm = font_manager.fontManager

    def found():
        names = {f.name for f in fm.ttflist}
        return next((f for f in CJK_FAMILIES if f in names), None)

    if found() is None:
        for path in font_manager.findSystemFonts():
            if any(w in path.lower().replace("-", "").replace("_", "") for w in CJK_FILES):
                try:
                    fm.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
    return found()


@functools.cache
def use_cjk() -> bool:
    """Add the CJK family behind the default sans-serif font (once); whether there is one."""
    import matplotlib

    fam = cjk_family()
    if fam is None:
        return False
    # matplotlib falls back glyph by glyph along font.family's entries, each resolved to one
    # font ("sans-serif": the first of font.sans-serif), so the CJK family is an entry there.
    # A Text copies font.family when it is made: new_figure calls this before making any.
    family = [f for f in matplotlib.rcParams["font.family"] if f != fam]
    matplotlib.rcParams["font.family"] = family + [fam]
    return True


def figure_lang(lang) -> str:
    """The language a figure's text is drawn in: `lang`, but English where Chinese glyphs
    would have no font."""
    lang = i18n.norm(lang)
    return lang if lang == "en" or use_cjk() else "en"
