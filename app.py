"""GAN Lab in the browser: `python app.py`, then open http://127.0.0.1:7860.

Host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (gradio reads them in launch());
server limits follow the GAN_LAB_* variables declared in gan_lab/settings.py (README's table);
a bad value stops the start with one line naming the variable and what it allows (exit 2).

Nothing is built at import time: training runs in worker processes, and a spawned process
re-imports the main script, so building the app here would build it again in every worker.
"""

import sys

from gan_lab import settings


def main() -> int:
    try:
        settings.check()
    except settings.SettingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from gan_lab import zerogpu

    # On a ZeroGPU Space, `spaces` must patch torch before CUDA is touched, and functions
    # decorated with spaces.GPU must exist before launch; on_zerogpu() imports it first thing.
    zerogpu.on_zerogpu()
    from gan_lab.ui import build_demo, launch_kwargs, serve

    # Serves until SIGTERM or Ctrl-C, then stops every job and removes the app's temp files.
    return serve(build_demo(), **launch_kwargs())


if __name__ == "__main__":
    import os

    code = main()
    # os._exit: the shutdown has already joined what it owns; interpreter teardown would only
    # race torch's and gradio's own threads (and print C++ "terminate called" noise).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
