"""GAN Lab in the browser: `python app.py`, then open http://127.0.0.1:7860.

Host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (gradio reads them in launch());
server limits follow the GAN_LAB_* variables described in gan_lab/ui/sessions.py.
"""

from gan_lab.ui import build_demo, launch_kwargs

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
