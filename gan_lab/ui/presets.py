"""The app's one-click presets are gan_lab.presets: one list serves the app, the quality tables
(`python -m gan_lab eval`) and the tests, so a preset and its table row are the same run."""

from ..presets import PRESETS, preset_config

__all__ = ["PRESETS", "preset_config"]
