"""The Gradio web app: layout and event wiring only (no training or plotting math).

Imports are lazy so that `python -m gan_lab.ui.render_worker` (the drawing child process) does
not pull in gradio.
"""

__all__ = ["build_demo", "launch_kwargs", "serve"]


def __getattr__(name):
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
