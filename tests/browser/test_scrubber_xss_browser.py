"""Checkpoint scrubber end to end (issue 8.4) and untrusted text in every widget (issue 10.1), in JupyterLab
and Notebook 7 (headless Debian Chromium).

Scrubber: built on the first checkpoints of the shipped default SAE series. Play steps through checkpoints
while the kernel is busy in a `time.sleep` cell, so no kernel round trip can be what changes the frame; the
slider (keyboard and a same-task input event) changes the frame and, once sent, the kernel's `index`;
setting `index` from Python moves the browser view. A frame is compared by a hash of the canvas pixels.

Untrusted text: every widget is built on prompts, a corpus, group names, titles or checkpoint labels holding
markup payloads, control characters, emoji, right-to-left text with U+202E and a 10,000-character word
(`NASTY` of tests/factories.py). The 10,000-character word is a prompt once (heatmap and contrast share its
activations: ~2,500 tokens) and otherwise travels as a group name / checkpoint label / dashboard search,
which costs no model time. The test asserts that no dialog opens, that no element was injected, that every
widget reaches its ready state, and that the payloads are on the page as text.

Kernel names are prefixed (`sc`, `xs_`) so the setup cell's `h`, `acts`, ... stay as conftest.py made them.
"""

from __future__ import annotations

import json

import pytest

from conftest import wait_state
from factories import NASTY

pytestmark = pytest.mark.browser

KERNEL_TIMEOUT = 600_000  # ms: the 10,000-character prompt (~2,500 tokens) and steering on 2 busy cores
PLAY_STEP_MS = 600  # js/src/lib/scrubber-view.ts
SLEEP_S = 12  # the busy kernel cell while the scrubber plays

SCRUB_PROMPTS = ["The cat sat on the warm mat.", "I love sunny days at the beach!"]
SCRUB_CELL = f"""\
sc_series = [(x, model, sae) for x, sae in fv.sae_checkpoints("default")[:6]]
sc = fv.CheckpointScrubber(sc_series, {SCRUB_PROMPTS!r}, top_k=12, title="scrubber test")
print("SC_LABELS=" + json.dumps(sc.labels))
print("SC_INDEX=%d" % sc.index)
sc"""
PRINT_SCRUB_CELL = 'print("SC_INDEX=%d" % sc.index)'
SLEEP_CELL = f'import time; time.sleep({SLEEP_S}); print("SLEPT=1")'

# A hash of the canvas pixels (FNV-1a over RGBA) and its size: equal hashes, equal frames.
FRAME_HASH_JS = """canvas => {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) { h ^= d[i]; h = Math.imul(h, 16777619); }
    return (h >>> 0).toString(16) + '@' + canvas.width + 'x' + canvas.height;
}"""

# Record every checkpoint switch of a scrubber root: its index, label and canvas hash. A MutationObserver
# callback runs after the task that set data-index, and the view draws the frame in that same task.
RECORD_FRAMES_JS = f"""root => {{
    const hash = {FRAME_HASH_JS};
    const canvas = root.querySelector('canvas.fv-heatmap-canvas');
    const frames = [];
    const obs = new MutationObserver(() => frames.push({{
        index: root.dataset.index, label: root.querySelector('.fv-scrub-label').textContent, hash: hash(canvas),
    }}));
    obs.observe(root, {{attributes: true, attributeFilter: ['data-index']}});
    window.__fvScrubFrames = frames;
    window.__fvScrubStop = () => obs.disconnect();
}}"""

# Pause (a click on the play button) once `n` frames were recorded, in the same task as the check, so the
# player cannot have reached the end (and a click restart it) in between. Returns true once paused.
PAUSE_AFTER_JS = """([root, n]) => {
    if (window.__fvScrubFrames.length < n) return false;
    if (root.dataset.playing !== 'true') return 'stopped before pause';
    root.querySelector('button.fv-play').click();
    return true;
}"""

# Move the slider in one task and read the label and canvas right after: no kernel message can arrive.
MOVE_SLIDER_JS = f"""([root, i]) => {{
    const hash = {FRAME_HASH_JS};
    const canvas = root.querySelector('canvas.fv-heatmap-canvas');
    const label = () => root.querySelector('.fv-scrub-label').textContent;
    const slider = root.querySelector('input.fv-slider');
    const before = {{label: label(), hash: hash(canvas), index: root.dataset.index}};
    slider.value = String(i);
    slider.dispatchEvent(new Event('input', {{bubbles: true}}));
    const after = {{label: label(), hash: hash(canvas), index: root.dataset.index}};
    slider.dispatchEvent(new Event('change', {{bubbles: true}}));
    return {{before, after}};
}}"""


class _State:
    """What one test leaves for the next, per frontend (the tests of one frontend build on each other)."""

    by_frontend: dict[str, dict] = {}

    @classmethod
    def get(cls, nb, name: str):
        value = cls.by_frontend.get(nb.frontend, {}).get(name)
        if value is None:
            pytest.fail(f"{name!r} was not set in {nb.frontend} (an earlier test failed?)")
        return value

    @classmethod
    def put(cls, nb, name: str, value) -> None:
        cls.by_frontend.setdefault(nb.frontend, {})[name] = value


def _hash(nb, root) -> str:
    return nb.page.evaluate(FRAME_HASH_JS, root.locator("canvas.fv-heatmap-canvas").element_handle())


def _prompt_done(nb, index: int, timeout: float = KERNEL_TIMEOUT) -> None:
    nb.page.wait_for_function(
        "el => /\\[\\d+\\]/.test(el.textContent)",
        arg=nb.cell(index).locator(".jp-InputArea-prompt").element_handle(),
        timeout=timeout,
    )


def _kernel_busy_with(nb, index: int) -> bool:
    return "*" in nb.cell(index).locator(".jp-InputArea-prompt").inner_text()


# ---- issue 8.4: checkpoint scrubber ----------------------------------------------------------------------


def _scrubber(nb):
    return nb.cell(_State.get(nb, "scrub_cell")).locator(".fv-scrubber")


def _wait_index(nb, root, index: int, labels: list[str]) -> None:
    nb.page.wait_for_function(
        "([el, i, label]) => el.dataset.index === String(i) && el.querySelector('input.fv-slider').value === String(i)"
        " && el.querySelector('.fv-scrub-label').textContent.startsWith(label)",
        arg=[root.element_handle(), index, labels[index]],
    )


def test_scrubber_plays_in_the_browser_while_the_kernel_is_busy(nb):
    index, out = nb.run_code(SCRUB_CELL, timeout=KERNEL_TIMEOUT)
    _State.put(nb, "scrub_cell", index)
    labels = json.loads(nb.output_value(out, "SC_LABELS"))
    start = int(nb.output_value(out, "SC_INDEX"))
    _State.put(nb, "labels", labels)
    n = len(labels)
    assert n >= 5, f"the shipped series has too few checkpoints for this test: {labels}"
    root = _scrubber(nb)
    root.wait_for(state="attached")
    wait_state(nb, root, timeout=30_000)
    assert root.get_attribute("data-checkpoints") == str(n)
    assert start == n - 1
    _wait_index(nb, root, start, labels)
    assert root.get_attribute("data-playing") == "false"

    # Keep the kernel busy: every frame below is drawn with no kernel reply possible.
    sleep_cell = nb.add_cell(SLEEP_CELL)
    nb.cell(sleep_cell).locator(".jp-InputArea-editor").click()
    nb.page.keyboard.press("Control+Enter")
    nb.page.wait_for_function(
        "el => el.textContent.includes('*')", arg=nb.cell(sleep_cell).locator(".jp-InputArea-prompt").element_handle()
    )

    nb.page.evaluate(RECORD_FRAMES_JS, root.element_handle())
    try:
        root.locator("button.fv-play").click()  # at the last checkpoint: play restarts from the first
        nb.page.wait_for_function("el => el.dataset.playing === 'true'", arg=root.element_handle())
        paused = nb.page.wait_for_function(PAUSE_AFTER_JS, arg=[root.element_handle(), 3], timeout=20_000)
        assert paused.json_value() is True, paused.json_value()
        frames = nb.page.evaluate("() => window.__fvScrubFrames.slice()")
    finally:
        nb.page.evaluate("() => window.__fvScrubStop && window.__fvScrubStop()")
    assert _kernel_busy_with(nb, sleep_cell), "the sleep cell ended during playback: the test proves nothing"

    assert root.get_attribute("data-playing") == "false"
    assert root.locator("button.fv-play").get_attribute("aria-pressed") == "false"
    indices = [int(f["index"]) for f in frames]
    assert indices == list(range(len(indices))), f"play did not step 0, 1, 2, ...: {indices}"
    for f in frames:
        assert f["label"].startswith(labels[int(f["index"])]), f
    hashes = [f["hash"] for f in frames]
    assert all(a != b for a, b in zip(hashes, hashes[1:])), f"a checkpoint switch left the canvas as it was: {frames}"
    stopped_at = indices[-1]
    nb.page.wait_for_timeout(2 * PLAY_STEP_MS)
    assert root.get_attribute("data-index") == str(stopped_at), "still playing after pause"
    assert root.get_attribute("data-playing") == "false"
    _State.put(nb, "hashes", {int(f["index"]): f["hash"] for f in frames})

    # The kernel catches up once free: it holds the checkpoint the browser stopped at.
    _prompt_done(nb, sleep_cell, timeout=(SLEEP_S + 60) * 1000)
    _, out = nb.run_code(PRINT_SCRUB_CELL)
    assert int(nb.output_value(out, "SC_INDEX")) == stopped_at


def test_scrubber_slider_changes_frame_and_kernel(nb):
    root = _scrubber(nb)
    labels = _State.get(nb, "labels")
    hashes = _State.get(nb, "hashes")
    nb.page.mouse.move(1, 1)  # no hover highlight on the canvas
    start = int(root.get_attribute("data-index"))
    before = _hash(nb, root)
    assert before == hashes.get(start, before), "the paused frame is not the frame play drew"

    # Keyboard: one checkpoint back.
    target = start - 1 if start > 0 else start + 1
    slider = root.locator("input.fv-slider")
    slider.focus()
    nb.page.keyboard.press("ArrowLeft" if target < start else "ArrowRight")
    _wait_index(nb, root, target, labels)
    after = _hash(nb, root)
    assert after != before, "the slider moved but the canvas did not change"
    if target in hashes:
        assert after == hashes[target], "the same checkpoint drew a different frame"
    _, out = nb.run_code(PRINT_SCRUB_CELL)
    assert int(nb.output_value(out, "SC_INDEX")) == target

    # An input event redraws in the same task (no kernel involved), then the kernel follows.
    last = len(labels) - 1
    moved = nb.page.evaluate(MOVE_SLIDER_JS, [root.element_handle(), last])
    assert moved["after"]["index"] == str(last), moved
    assert moved["after"]["label"].startswith(labels[last]) and moved["after"]["label"] != moved["before"]["label"]
    assert moved["after"]["hash"] != moved["before"]["hash"], moved
    _, out = nb.run_code(PRINT_SCRUB_CELL)
    assert int(nb.output_value(out, "SC_INDEX")) == last
    hashes[last] = moved["after"]["hash"]


def test_scrubber_index_from_python_moves_the_view(nb):
    root = _scrubber(nb)
    labels = _State.get(nb, "labels")
    hashes = _State.get(nb, "hashes")
    nb.page.mouse.move(1, 1)
    current = int(root.get_attribute("data-index"))
    before = _hash(nb, root)
    target = 1 if current != 1 else 2
    _, out = nb.run_code(f'sc.index = {target}; print("SC_INDEX=%d" % sc.index)')
    assert int(nb.output_value(out, "SC_INDEX")) == target
    _wait_index(nb, root, target, labels)
    after = _hash(nb, root)
    assert after != before
    if target in hashes:
        assert after == hashes[target], "the same checkpoint drew a different frame"
    assert root.get_attribute("data-state") == "ready"


# ---- issue 10.1: untrusted text in every widget ------------------------------------------------------------


def _literal(s: str) -> str:
    """Python source for s; a long run of one character is written as a repetition (short cell source)."""
    return f"{s[0]!r} * {len(s)}" if len(s) > 200 and len(set(s)) == 1 else repr(s)


LONG = max(NASTY, key=len)
SHORT = [s for s in NASTY if s != LONG]
MARKUP = [s for s in SHORT if "<" in s]  # the three payloads
assert len(LONG) >= 10_000 and len(MARKUP) == 3

XSS_CELL = f"""\
xs_nasty = [{", ".join(map(_literal, NASTY))}]
xs_long = max(xs_nasty, key=len)
xs_short = [s for s in xs_nasty if s != xs_long]
xs_markup = [s for s in xs_short if "<" in s]
xs_other = [s for s in xs_short if "<" not in s]
# Group names are payloads too; the 10,000-character word is one prompt (and one group's name).
xs_groups = {{xs_markup[0]: [xs_markup[0], xs_other[0]], xs_markup[1]: [xs_markup[1], xs_other[1]],
             xs_long: [xs_markup[2], xs_other[2], xs_long]}}
import time
xs_t = [("start", time.perf_counter())]
xs_acts = fv.activations(model, source, xs_groups)
xs_t.append(("activations", time.perf_counter()))
xs_heat = fv.Heatmap(xs_acts, top_k=10, title=xs_markup[2])
xs_contrast = fv.ContrastView(fv.contrast(xs_acts), top_n=3, title=xs_markup[1])
xs_t.append(("heatmap+contrast", time.perf_counter()))
# the dashboard's corpus is xs_short; its features peak higher on the markup payloads than on the other texts,
# so the page it draws first shows a payload among its top contexts, whichever SAE is shipped
xs_kinds = fv.activations(model, source, {{"markup": xs_markup, "other": xs_other}})
xs_margin = xs_kinds.group("markup").values.max(0).values - xs_kinds.group("other").values.max(0).values
xs_dash_features = xs_margin.topk(6).indices.tolist()
xs_dash = fv.Dashboard(model, source, xs_short, features=xs_dash_features, k=4, progress=False,
                       title=xs_markup[0])
xs_t.append(("dashboard", time.perf_counter()))
xs_interp = fv.Interpolation(model, source, " ".join(xs_short), feature=xs_heat.feature_ids[0], values=(-6, 6),
                             steps=2, max_new_tokens=1)
xs_t.append(("interpolation", time.perf_counter()))
xs_scrub = fv.CheckpointScrubber(
    fv.checkpoint_frames([(x, model, s) for x, s in fv.sae_checkpoints("default")[:2]], xs_short, top_k=6,
                         x_label=xs_long, progress=False), title=xs_markup[2])
xs_t.append(("scrubber", time.perf_counter()))
print("XS_SECONDS=" + json.dumps({{k: round(t - t0, 1) for (_, t0), (k, t) in zip(xs_t, xs_t[1:])}}))
print("XS_TOKENS=%d" % len(xs_heat.tokens))
print("XS_HEAT_TOKEN0=" + json.dumps(xs_heat.tokens[0]))
print("XS_SCRUB_TOKENS0=" + json.dumps(xs_scrub.tokens[:xs_scrub.prompt_lengths[0]]))
for _w in (xs_heat, xs_contrast, xs_dash, xs_interp, xs_scrub):
    display(_w)"""

ROOTS = [".fv-heatmap", ".fv-contrast", ".fv-dashboard", ".fv-interpolation", ".fv-scrubber"]

# Elements the payloads would create, anywhere on the page or inside the cell's outputs.
INJECTED_JS = """output => {
    const found = [];
    const note = (where, e) => found.push(where + ': <' + e.tagName.toLowerCase() + '> ' + e.outerHTML.slice(0, 120));
    for (const e of document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]')) note('page', e);
    for (const e of output.querySelectorAll('script, iframe, object, embed, img, foreignObject')) note('output', e);
    for (const e of output.querySelectorAll('*')) {
        for (const a of e.getAttributeNames()) if (/^on/i.test(a)) note('output[' + a + ']', e);
    }
    return found;
}"""


def _visible(s: str) -> str:
    """Text as the views show a token: '·' for a space (js/src/lib/tokens.ts)."""
    return s.replace(" ", "·")


def _hover_tooltip(nb, root, canvas_point: dict) -> dict[str, str]:
    """Hover a canvas point of a widget root; its tooltip's rows as {label: value}."""
    root.locator("canvas.fv-heatmap-canvas").hover(position=canvas_point)
    tooltip = root.locator(".fv-tooltip")
    tooltip.wait_for(state="visible")
    rows = tooltip.evaluate("""t => Array.from(t.querySelectorAll('.fv-tooltip-row')).map(r =>
        [r.querySelector('.fv-tooltip-label').textContent, r.querySelector('.fv-tooltip-value').textContent])""")
    nb.page.mouse.move(1, 1)
    tooltip.wait_for(state="hidden")
    return dict(rows)


def _search(nb, dash, query: str, shown: str) -> str:
    """Search the dashboard for query; the results head once it names `shown` and the search is not pending."""
    box = dash.locator("input.fv-search")
    head = dash.locator(".fv-dash-results-head")
    box.fill(query)
    box.press("Enter")
    nb.page.wait_for_function(
        "([el, q]) => el.textContent.includes(q) && !/searching/.test(el.textContent)",
        arg=[head.element_handle(), f"“{shown}”"],
        timeout=60_000,
    )
    return head.text_content()


def test_untrusted_text_stays_text_in_every_widget(nb):
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    nb.page.on("dialog", on_dialog)
    try:
        index, out = nb.run_code(XSS_CELL, timeout=KERNEL_TIMEOUT)
        print(f"\n[{nb.frontend}] kernel seconds: {nb.output_value(out, 'XS_SECONDS')}")
        n_tokens = int(nb.output_value(out, "XS_TOKENS"))
        assert n_tokens > 2_500, f"the 10,000-character word did not reach the heatmap: {n_tokens} tokens"
        heat_token0 = json.loads(nb.output_value(out, "XS_HEAT_TOKEN0"))
        scrub_tokens0 = json.loads(nb.output_value(out, "XS_SCRUB_TOKENS0"))
        cell = nb.cell(index)
        roots = {sel: cell.locator(sel) for sel in ROOTS}
        for root in roots.values():
            root.wait_for(state="attached", timeout=60_000)
            wait_state(nb, root, timeout=60_000)
        nb.page.wait_for_function(
            "el => !!el.parentElement.dataset.firstPaintMs", arg=roots[".fv-heatmap"].element_handle()
        )
        nb.page.wait_for_timeout(500)  # an <img src=x> would have failed to load (and run onerror) by now

        heat, contrast, dash, interp, scrub = roots.values()
        titles = {
            sel: root.locator(".fv-title").first.text_content()
            for sel, root in roots.items()
            if sel != ".fv-interpolation"
        }
        assert titles == {
            ".fv-heatmap": MARKUP[2],
            ".fv-contrast": MARKUP[1],
            ".fv-dashboard": MARKUP[0],
            ".fv-scrubber": MARKUP[2],
        }, titles

        # Heatmap: the first token row of the first prompt; its group is the first payload.
        g = nb.geometry(heat)
        tip = _hover_tooltip(nb, heat, {"x": g["gutterW"] / 2, "y": g["headerH"] + g["cellH"] / 2})
        assert tip.get("token") == _visible(heat_token0) and MARKUP[0] in tip.get("prompt", ""), tip

        # Contrast: group names in the column headers; the 10,000-character one cut short.
        names = contrast.locator(".fv-contrast-group-name").all_text_contents()
        assert MARKUP[0] in names and MARKUP[1] in names, names
        long_names = [s for s in names if s.startswith("xxxx")]
        assert len(long_names) == 1 and len(long_names[0]) <= 41, names

        # Dashboard: the corpus's payload tokens in its contexts; searches echo the query as text.
        # (a context is a window around its max token, so a payload may be cut: look for its first characters)
        contexts = "".join(dash.locator(".fv-context-tokens").all_text_contents()).replace("·", " ")
        assert any(p[:10] in contexts for p in MARKUP), f"no payload in the dashboard's contexts: {contexts[:400]!r}"
        assert "no feature" in _search(nb, dash, MARKUP[0], MARKUP[0])
        assert len(_search(nb, dash, LONG, "x" * 39 + "…")) < 120  # the query is cut short where it is shown
        _search(nb, dash, "<", "<")
        dash.locator(".fv-search-result-token").first.wait_for(timeout=60_000)
        found = dash.locator(".fv-search-result-token").all_text_contents()
        assert found and all("<" in t for t in found), found

        # Interpolation: the whole prompt as text; U+202E shown as an escape, never applied.
        prompt = interp.locator(".fv-generated .fv-prompt").text_content()
        for s in MARKUP + ["😀🎉", "مرحبا بالعالم", "tab→here␀null␛escape"]:
            assert s in prompt, f"{s!r} not in the interpolation prompt: {prompt!r}"
        assert "\u202e" not in prompt and "\\u202E" in prompt, prompt

        # Scrubber: token tooltip (row 3 of the first prompt), the 10,000-character checkpoint label cut short.
        assert len(scrub_tokens0) > 4
        tip = _hover_tooltip(nb, scrub, {"x": 20, "y": 64 + 3 * 14 + 7})  # gutter; header 56 + 8; rows of 14
        assert tip.get("token") in [_visible(t) for t in scrub_tokens0], (tip, scrub_tokens0)
        label = scrub.locator(".fv-scrub-label").text_content()
        assert label.startswith("xxxx") and len(label) < 100, label[:200]
        ticks = scrub.locator(".fv-tick-label").evaluate_all("ts => ts.map(t => [t.textContent, t.title])")
        assert ticks and all(len(t) <= 17 and len(title) <= 201 for t, title in ticks), ticks

        nb.page.wait_for_timeout(300)
        injected = nb.page.evaluate(INJECTED_JS, cell.locator(".jp-Cell-outputArea").element_handle())
        assert not injected, f"elements injected by untrusted text: {injected}"
        assert not dialogs, f"dialogs opened by untrusted text: {dialogs}"
        for sel, root in roots.items():
            assert root.get_attribute("data-state") == "ready", sel
    finally:
        nb.page.remove_listener("dialog", on_dialog)
