"""Which event calls which handler, with which inputs and outputs, under which API name.

Every handler goes through `Messages.guarded` (session lookup by hashed id, the session's lock,
failures become messages) and runs without gradio's preprocessing, so values reach it as the
client sent them: gradio's own checks (a dropdown value not among the choices, a slider out of
range) would refuse an API client's value with a generic error; RunConfig's validation names
the field and what it allows. Files still arrive checked and moved into gradio's cache, as
FileData dicts (transfer.upload_path).

The public API names (`/train`, `/poll`, `/pause`, `/step`, `/reset`, `/init`, the share,
upload and download ones) are an interface: gradio_client users call them. The outputs of the
control handlers keep their order; components added later go at the end.
"""

from __future__ import annotations

import gradio as gr

from ..lessons import HIDE_WITH
from . import resume
from .compat import expose
from .draw import DRAW_JS
from .lang import Language
from .lang import components as lang_components
from .layout import DOWNLOADS, reg_teaching
from .slowmo import SlowMotion

# Fills the hidden page-URL input with the address in the browser's bar (the only place that
# knows it exactly, proxies and mount paths included).
PAGE_URL_JS = "(u, ...rest) => [window.location.href, ...rest]"
# Every poll of the page says whether its tab is visible: a hidden tab's run gets no training
# slices until it is shown again (gan_lab/jobs/watch.py).
VISIBILITY_JS = "(h, a, m, l, v) => [h, a, m, l, document.visibilityState]"
# gradio's timer does not tick while the tab is hidden: a visibilitychange listener tells the
# server at once, by clicking a button the page never shows.
VISIBILITY_LISTENER_JS = "() => { document.addEventListener('visibilitychange', () => " \
                         "document.querySelector('#gl-vis')?.click()); }"
# Clipboard writes can be refused (plain http on another host, no focus); the link stays in
# its text box to be copied by hand then.
COPY_JS = "(link) => { if (link && navigator.clipboard) navigator.clipboard.writeText(link)" \
          ".catch(() => {}); }"
# On a phone the sidebar would cover the whole page: start with it folded away.
FOLD_SIDEBAR_JS = "() => { if (window.innerWidth < 768) { const s = " \
                  "document.querySelector('#sidebar'); if (s && s.classList.contains('open')) " \
                  "s.querySelector('.toggle-button')?.click(); } }"


def wire(app, demo: gr.Blocks) -> None:
    ctl, p, tr = app.ctl, app.page, app.transfers
    view_in = [p.heat, p.arrows, p.mani, p.layer]
    view_names = ["heatmap", "arrows", "manifold", "layer"]
    # The frame a poll updates: the first eleven in their historical order, then the charts and
    # views added since.
    frame = [p.status, p.loss_plot, p.quality_plot, p.sparsity_plot, p.sharp_plot,
             p.samples_plot, p.weights_plot, p.layer, p.timer, p.view_row, p.pen_plot,
             p.fidelity_plot, p.divergence_plot, p.a_samples, p.b_samples, p.overlay_plot,
             p.a_weights, p.b_weights, p.compare_status, p.sweep_table, p.sweep_plot, p.saved_plot,
             p.spec_plot, p.gap_plot, p.lam_plot, p.gap_box]
    full = [p.msg, *frame[:11], *ctl.components, *ctl.log_sliders.values(), p.reg_help,
            *frame[11:]]
    groups = [b for g in p.groups.values() for b in (g if isinstance(g, list) else [g])]
    lesson_out = app.lesson.outputs()
    draw_out = [p.draw_canvas, p.draw_info, p.msg]
    # The page sends a teacher's hidden groups' loose controls too (lessons.HIDE_WITH).
    loose = [ctl.boxes[f] for fs in HIDE_WITH.values() for f in fs if f in ctl.boxes]
    load_out = [*full, *lesson_out, *groups, p.tabs, p.draw_canvas, p.draw_info, *loose,
                p.resume_box]
    opts = dict(show_progress="hidden", concurrency_limit=None, preprocess=False)

    def on(trigger, fn, inputs, names, outputs, api_name=None, with_request=False,
           select=False, **kw):
        handler = expose(app.msgs.guarded(fn, has_msg=p.msg in outputs,
                                          outline=ctl.components[0] in outputs,
                                          with_request=with_request), names, select=select)
        vis = "public" if api_name else "private"
        return trigger(handler, inputs, outputs, api_name=api_name, api_visibility=vis,
                       **opts, **kw)

    ctrl_names = ctl.names
    controls_in, controls_names = view_in + ctl.components, view_names + ctrl_names
    on(p.train_btn.click, app.on_train, controls_in, controls_names, full, "train")
    on(p.pause_btn.click, app.on_pause, view_in, view_names, full, "pause")
    on(p.step_btn.click, app.on_step, controls_in, controls_names, full, "step")
    on(p.reset_btn.click, app.on_reset, controls_in, controls_names, full, "reset")
    SlowMotion(app).wire(on, controls_in, controls_names, [*full, p.slow_text])
    lang, lang_out = Language(app), [p.status, p.lang_pick, *lang_components(p, ctl)]
    on(demo.load, lang.on_load, [], [], lang_out, with_request=True)
    on(p.lang_pick.input, lang.on_pick, [p.lang_pick], ["lang"], lang_out, "language")
    # The timer's poll is public so gradio_client can stream exactly as the page does. It
    # skips gradio's queue (a plain POST, no SSE): the queue's bookkeeping was a quarter of a
    # poll's server CPU, and a class's 8 polls a second are most of the server's work (issue 19).
    on(p.timer.tick, app.poll, [*view_in, p.visibility], [*view_names, "visibility"], frame,
       "poll", js=VISIBILITY_JS, queue=False)
    on(p.vis_btn.click, app.on_visibility, [*view_in, p.visibility],
       [*view_names, "visibility"], frame, js=VISIBILITY_JS)
    demo.load(None, None, None, js=VISIBILITY_LISTENER_JS, api_visibility="private",
              queue=False)
    for comp in view_in:
        on(comp.input, app.on_view, view_in, view_names, frame)
    # The page's own query (a share link) reaches on_load as request.query_params: gradio's
    # page sends window.location.search along with every event.
    on(demo.load, app.on_load, [*controls_in, p.resume_box], [*controls_names, "resume"],
       load_out, "init", with_request=True, js=resume.LOAD_JS)
    p.resume_box.change(None, p.resume_box, None, js=resume.STORE_JS, show_progress="hidden",
                        api_visibility="private", queue=False)
    on(p.tabs.select, app.on_tab, view_in, view_names, frame, select=True)
    demo.load(None, None, None, js=FOLD_SIDEBAR_JS, api_visibility="private", queue=False)

    for name, comp in ctl.fields.items():
        handler = app.on_edit(name)
        handler.__name__ = f"edit_{name}"
        # Typed fields (numbers, extra_regs' text) apply on Enter or leaving the box, never
        # at each keystroke (a half-typed spec is not an error to show).
        events = [comp.submit, comp.blur] if isinstance(comp, (gr.Number, gr.Textbox)) else \
            [comp.release] if isinstance(comp, gr.Slider) else [comp.input]
        for ev in events:
            on(ev, handler, controls_in, controls_names, full)
    for name, slider in ctl.log_sliders.items():
        handler = app.on_log_slider(name)
        handler.__name__ = f"slide_{name}"
        on(slider.release, handler, [slider, *controls_in],
           [f"{name}_log10", *controls_names], full)
    ctl.fields["reg"].change(reg_teaching, [ctl.fields["reg"], p.lang_pick], p.reg_help,
                             show_progress="hidden", api_visibility="private", queue=False)
    for name, btn in p.preset_btns.items():
        handler = app.on_preset(name)
        handler.__name__ = f"preset_{name}"
        on(btn.click, handler, view_in, view_names, full)
    on(p.export_btn.click, app.on_export, ctl.components, ctrl_names, [*full, p.cfg_json],
       "export")
    on(p.import_btn.click, app.on_import, [p.cfg_json], ["settings"], full, "load_settings")

    # Lessons.
    les = app.lesson
    on(p.lesson_pick.input, les.on_pick, [p.lesson_pick, *view_in], ["lesson", *view_names],
       [*full, *lesson_out], "lesson")
    on(p.lesson_back.click, les.on_step(-1), view_in, view_names, [*full, *lesson_out])
    on(p.lesson_next.click, les.on_step(+1), view_in, view_names, [*full, *lesson_out])
    on(p.lesson_close.click, les.on_close, [], [], [p.msg, *lesson_out])

    # Share, downloads, uploads.
    on(p.share_btn.click, tr.on_share, [p.page_url, *ctl.components],
       ["page_url", *ctrl_names], [p.msg, p.share_box], "share_link",
       with_request=True, js=PAGE_URL_JS).then(
        None, [p.share_box], None, js=COPY_JS, show_progress="hidden",
        api_visibility="private", queue=False)
    for kind, _label in DOWNLOADS:
        handler = tr.on_download(kind)
        handler.__name__ = f"download_{kind}"
        on(p.dl_btns[kind].click, handler, ctl.components, ctrl_names, [p.msg, p.download],
           f"download_{kind}")
    for comp, fn, api in ((p.up_config, tr.on_upload_config, "upload_config"),
                          (p.up_ckpt, tr.on_upload_checkpoint, "upload_checkpoint"),
                          (p.up_points, tr.on_upload_points, "upload_points")):
        # The file is read and deleted at once, whatever the outcome: the box empties too, so
        # a second upload (after a refused one) needs no click on its x first.
        on(comp.upload, tr.consuming(fn), [comp, *controls_in], ["file", *controls_names],
           full, api).then(lambda: None, None, comp, show_progress="hidden",
                           api_visibility="private", queue=False)

    # Compare and sweep.
    cmp, sw = app.compare, app.sweep
    on(p.keep_a_btn.click, cmp.on_keep_a, controls_in, controls_names, full, "keep_a")
    on(p.train_ab_btn.click, cmp.on_train_ab, controls_in, controls_names, full, "train_ab")
    on(p.with_without_btn.click, cmp.on_with_without, controls_in, controls_names, full,
       "with_without")
    on(p.compare_link_btn.click, cmp.on_link, [p.page_url, *ctl.components],
       ["page_url", *ctrl_names], [p.msg, p.share_box, p.compare_link_box], "compare_link",
       with_request=True, js=PAGE_URL_JS)
    on(p.sweep_btn.click, sw.on_start, [p.sweep_field, p.sweep_values, *controls_in],
       ["field", "values", *controls_names], full, "sweep")
    on(p.sweep_stop_btn.click, sw.on_stop, [], [], [p.msg], "sweep_stop")
    sv = app.saved
    on(p.save_run_btn.click, sv.on_save, [], [], [p.msg, p.saved_runs], "save_run")
    on(p.overlay_saved_btn.click, sv.on_overlay, [p.saved_runs, *view_in],
       ["runs", *view_names], [p.msg, *frame], "overlay_saved")

    # Draw your data.
    dr = app.draw
    on(p.draw_canvas.select, dr.on_click, [p.draw_n, p.draw_spread], ["n", "spread"],
       draw_out, "draw_click", select=True)
    on(p.draw_stroke_btn.click, dr.on_stroke, [p.draw_stroke, p.draw_n, p.draw_spread],
       ["stroke", "n", "spread"], draw_out, "draw_stroke")
    demo.load(None, None, None, js=DRAW_JS, api_visibility="private", queue=False)
    on(p.draw_undo.click, dr.on_undo, [], [], draw_out, "draw_undo")
    on(p.draw_clear.click, dr.on_clear, [], [], draw_out, "draw_clear")
    on(p.draw_use.click, dr.on_use, controls_in, controls_names, [*full, p.tabs],
       "draw_use")
    demo.unload(app.on_unload)
