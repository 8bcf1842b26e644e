"""Browser end-to-end fixtures: one Jupyter server per frontend (JupyterLab, Notebook 7), one headless
Debian Chromium for the session, one notebook page (and so one kernel) per frontend.

Recipe (see /work/shared/DESIGN.md, "Testing recipes that work here"): Debian ``chromium`` driven by the
Python ``playwright`` package through ``executable_path``; never ``playwright install``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FEATUREVIZ_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
REPO_ROOT = Path(__file__).resolve().parents[2]
KERNEL_DISPLAY_NAME = "Python 3 (ipykernel)"
SERVER_START_TIMEOUT = 90  # s
KERNEL_READY_TIMEOUT = 90_000  # ms
FIRST_CELL_TIMEOUT = 360_000  # ms: imports torch + loads the embedded model on 2 (maybe busy) cores
DEFAULT_TIMEOUT = 30_000  # ms, every other Playwright wait
# Notebook 7.6 logs this harmless page error; every other page error fails the test.
IGNORED_PAGE_ERRORS = re.compile(r"schema", re.I)

# ---- helpers the test modules import (`from conftest import ...`) --------------------------------------------

DARK_THEME = "JupyterLab Dark"
LIGHT_THEME = "JupyterLab Light"
KERNEL_TIMEOUT = 180_000  # ms: model work in the kernel on 2 busy cores
# Mean luminance (0..255) of a whole canvas.
LUMINANCE_JS = """canvas => {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0;
    for (let i = 0; i < d.length; i += 4) s += 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
    return s / (d.length / 4);
}"""


def wait_state(nb, root, state: str = "ready", timeout: float = KERNEL_TIMEOUT) -> None:
    """Wait until the widget root's data-state is `state` (the view sets "ready" once drawn)."""
    nb.page.wait_for_function(
        "([el, s]) => el.dataset.state === s", arg=[root.element_handle(), state], timeout=timeout
    )


def picture(nb, root, name: str, artifacts_dir, screenshot_dir, readme: bool = True) -> int:
    """Screenshot the widget root to artifacts (and, in JupyterLab, to the README folder if asked)."""
    nb.page.mouse.move(1, 1)  # no hover highlight / tooltip in the pictures
    # JupyterLab's "get notified about Jupyter news?" toast would cover the bottom right of the widget.
    nb.page.add_style_tag(content=".Toastify { display: none !important; }")
    root.scroll_into_view_if_needed()
    nb.page.wait_for_timeout(150)
    path = artifacts_dir / f"{name}-{nb.frontend}.png"
    root.screenshot(path=str(path), animations="disabled")
    size = path.stat().st_size
    assert size > 2_000, f"{path.name} is nearly empty ({size} bytes)"
    if readme and screenshot_dir is not None and nb.frontend == "lab":
        shutil.copyfile(path, screenshot_dir / f"{name}.png")
    print(f"\n[{nb.frontend}] {name}: {size / 1000:.0f} kB")
    return size


class Cells:
    """Indices of cells the tests added, per frontend and name (tests of one frontend build on each other)."""

    by_frontend: dict[str, dict[str, int]] = {}

    @classmethod
    def get(cls, nb, name: str) -> int:
        index = cls.by_frontend.get(nb.frontend, {}).get(name)
        if index is None:
            pytest.fail(f"the {name!r} cell was not run in {nb.frontend} (an earlier test failed?)")
        return index

    @classmethod
    def put(cls, nb, name: str, index: int) -> None:
        cls.by_frontend.setdefault(nb.frontend, {})[name] = index


# Canvas colours at canvas-relative CSS pixel points (device pixels handled), as [r, g, b, a].
CANVAS_PIXELS_JS = """([canvas, points]) => {
    const ctx = canvas.getContext('2d');
    const sx = canvas.width / canvas.clientWidth, sy = canvas.height / canvas.clientHeight;
    return points.map(([x, y]) => Array.from(ctx.getImageData(Math.floor(x * sx), Math.floor(y * sy), 1, 1).data));
}"""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Cells of the test notebook. The first shows the heatmap on the embedded default; the others are re-run
# by the tests. Outputs use KEY=value lines so the tests can parse them.
SETUP_PROMPTS = ["I love this!", "I hate waiting."]
SETUP_CELL = f"""\
import json, sys
import featureviz as fv
model, source = fv.load_default()
acts = fv.activations(model, source, {SETUP_PROMPTS!r})
h = fv.Heatmap(acts, top_k=20)
print("KERNEL_PY=" + sys.executable)
print("TOKENS=" + json.dumps(h.tokens))
print("FEATURES=" + json.dumps(h.feature_ids))
h"""
PRINT_SELECTED_CELL = 'print("SELECTED=%d" % h.selected_feature)'
SET_SELECTED_CELL = """\
_other = [f for f in h.feature_ids if f != h.selected_feature][-1]
h.selected_feature = _other
print("SET=%d" % h.selected_feature)"""
CELLS = [SETUP_CELL, PRINT_SELECTED_CELL, SET_SELECTED_CELL]
SETUP, PRINT_SELECTED, SET_SELECTED = range(3)

FRONTENDS = {
    # name: (module to run, URL path of the notebook, app class for config flags)
    "lab": ("jupyterlab", "/lab/tree/{nb}", "LabApp"),
    "notebook": ("notebook", "/notebooks/{nb}", "JupyterNotebookApp"),
}


def pytest_collection_modifyitems(config, items):
    # A missing browser is a broken setup, not a reason to skip: `make test` installs it.
    if not os.path.exists(CHROMIUM) and any("browser" in item.keywords for item in items):
        raise pytest.UsageError(f"{CHROMIUM} not found: run `make chromium` (apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, str(path))


def _pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line mentions marker (our per-run runtime dir): the kernels we started."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmd = Path("/proc", entry, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            pids.append(int(entry))
    return pids


@dataclass
class JupyterServer:
    frontend: str
    base_url: str
    token: str
    root: Path
    notebook: str
    proc: subprocess.Popen
    log_path: Path
    runtime_dir: Path
    data_dir: Path | None = None  # its JUPYTER_DATA_DIR: the signature store that decides notebook trust

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}?token={self.token}"

    def notebook_url(self, name: str | None = None) -> str:
        """URL of a notebook under the server root (default: the test notebook)."""
        return self.url(FRONTENDS[self.frontend][1].format(nb=name or self.notebook))

    def api(self, path: str, method: str = "GET", timeout: float = 5) -> bytes:
        req = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:  # graceful: shuts the kernels down too
                self.api("/api/shutdown", method="POST")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        # Kernels run in their own sessions: end any left over by pid (they name our runtime dir).
        for pid in _pids_mentioning(str(self.runtime_dir)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_server(frontend: str, tmp: Path) -> JupyterServer:
    module, _, app = FRONTENDS[frontend]
    root = tmp / "root"
    root.mkdir()
    nb_name = "heatmap_browser_test.ipynb"
    _write_notebook(root / nb_name)
    dirs = {k: tmp / k for k in ("config", "data", "runtime", "ipython", "workspaces", "settings")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),  # fresh user settings (theme) per run
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        IPYTHONDIR=str(dirs["ipython"]),
        JUPYTER_PLATFORM_DIRS="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        # The kernelspec's argv[0] "python" is replaced by the server's sys.executable (jupyter_client);
        # also put the venv first on PATH so nothing else can be picked up.
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("JUPYTER_PATH", None)
    token = secrets.token_hex(16)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        module,
        f"--port={port}",
        "--ip=127.0.0.1",
        "--allow-root",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",  # not a Notebook 7 trait: naming it on JupyterNotebookApp breaks its config
        f"--{app}.workspaces_dir={dirs['workspaces']}",
        f"--{app}.user_settings_dir={dirs['settings']}",
        f"--{app}.expose_app_in_browser=True",
    ]
    if frontend == "lab":
        cmd.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    log_path = tmp / "server.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = JupyterServer(
        frontend, f"http://127.0.0.1:{port}", token, root, nb_name, proc, log_path, dirs["runtime"], dirs["data"]
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{module} exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            json.loads(server.api("/api/status", timeout=2))
            return server
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{module} did not start in {SERVER_START_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """One headless Debian Chromium (fresh profile) for the whole session."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    pw = sync_playwright().start()
    try:
        ctx = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            timeout=60_000,
        )
    except Exception:
        pw.stop()
        raise
    ctx.set_default_timeout(DEFAULT_TIMEOUT)
    try:
        yield ctx
    finally:
        try:
            ctx.close()
        finally:
            pw.stop()


@dataclass
class NotebookSession:
    """An open test notebook in one frontend, its kernel ready and the setup cell (the heatmap) run."""

    SETUP = SETUP
    PRINT_SELECTED = PRINT_SELECTED
    SET_SELECTED = SET_SELECTED

    frontend: str
    server: JupyterServer
    page: object  # playwright Page
    page_errors: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)  # KEY=value lines printed by the setup cell
    setup_seconds: float = 0.0

    # ---- cells ---------------------------------------------------------------------------------------
    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(index)

    def run_cell(self, index: int, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run cell `index` with Ctrl+Enter and return its text output once it has finished."""
        cell = self.cell(index)
        prompt = cell.locator(".jp-InputArea-prompt")
        before = prompt.inner_text().strip()
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")
        # Finished = the prompt shows a new execution count ("[*]:" while running).
        self.page.wait_for_function(
            """([el, before]) => { const t = el.textContent.trim(); return /\\[\\d+\\]/.test(t) && t !== before; }""",
            arg=[prompt.element_handle(), before],
            timeout=timeout,
        )
        return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())

    def add_cell(self, source: str) -> int:
        """Append a code cell holding `source` to the notebook; return its index."""
        index = self.page.evaluate(
            """src => {
                const shared = window.jupyterapp.shell.currentWidget.content.model.sharedModel;
                const n = shared.cells.length;
                shared.insertCell(n, {cell_type: 'code', source: src});
                return n;
            }""",
            source,
        )
        self.cell(index).wait_for(state="attached")
        return index

    def run_code(self, source: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, str]:
        """Append a code cell holding `source`, run it, return (its index, its text output)."""
        index = self.add_cell(source)
        return index, self.run_cell(index, timeout=timeout)

    def output_value(self, text: str, key: str) -> str:
        m = re.search(rf"^{key}=(.*)$", text, re.M)
        assert m, f"no {key}= line in cell output:\n{text}"
        return m.group(1).strip()

    # ---- widget --------------------------------------------------------------------------------------
    @property
    def heatmap(self):
        return self.cell(SETUP).locator(".fv-heatmap")

    @property
    def canvas(self):
        return self.heatmap.locator("canvas.fv-heatmap-canvas")

    def geometry(self, heatmap=None) -> dict:
        """Grid geometry of a heatmap (a `.fv-heatmap` locator; default: the setup cell's)."""
        return (heatmap or self.heatmap).evaluate(
            """el => ({
                cellW: +el.dataset.cellWidth, cellH: +el.dataset.cellHeight,
                gutterW: +el.dataset.gutterWidth, headerH: +el.dataset.headerHeight,
                firstOffset: +el.dataset.firstVisibleOffset,
                visible: el.dataset.visibleColumns ? el.dataset.visibleColumns.split(',').map(Number) : [],
                selected: +el.dataset.selectedFeature,
                state: el.dataset.state,
            })"""
        )

    def cell_point(self, row: int, visible_col: int, heatmap=None) -> dict:
        """Centre of a grid cell in canvas-relative CSS pixels (the data attributes are canvas coordinates)."""
        g = self.geometry(heatmap)
        return {
            "x": g["firstOffset"] + visible_col * g["cellW"] + g["cellW"] / 2,
            "y": g["headerH"] + row * g["cellH"] + g["cellH"] / 2,
        }

    def grid_colours(self, n_rows: int, heatmap=None) -> list[list[int]]:
        """[r, g, b, a] at the centre of every visible grid cell (n_rows token rows) of a heatmap (a
        `.fv-heatmap` locator, on any page; default: the setup cell's)."""
        heatmap = heatmap or self.heatmap
        g = self.geometry(heatmap)
        points = [
            [g["firstOffset"] + (c + 0.5) * g["cellW"], g["headerH"] + (r + 0.5) * g["cellH"]]
            for r in range(n_rows)
            for c in range(len(g["visible"]))
        ]
        canvas = heatmap.locator("canvas.fv-heatmap-canvas").element_handle()
        return heatmap.page.evaluate(CANVAS_PIXELS_JS, [canvas, points])

    def set_theme(self, name: str) -> None:
        self.page.evaluate("name => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})", name)
        self.page.wait_for_function(
            "name => document.body.dataset.jpThemeName === name", arg=name, timeout=DEFAULT_TIMEOUT
        )

    def check_page_errors(self) -> None:
        errors = [e for e in self.page_errors if not IGNORED_PAGE_ERRORS.search(e)]
        self.page_errors.clear()
        assert not errors, f"page errors in {self.frontend}: {errors}"


def _wait_kernel_ready(page) -> None:
    """Kernel *name* shown (not just "Idle"), any "Select Kernel" dialog dismissed, kernel idle."""
    deadline = time.monotonic() + KERNEL_READY_TIMEOUT / 1000
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in (dialog.first.inner_text(timeout=2000) or ""):
            page.locator(".jp-Dialog .jp-mod-accept").first.click()
        ready = page.evaluate(
            """name => {
                const app = window.jupyterapp;
                const w = app && app.shell && app.shell.currentWidget;
                const sc = w && w.sessionContext;
                const k = sc && sc.session && sc.session.kernel;
                const shown = document.body.innerText.includes(name);
                return !!(k && k.status === 'idle' && sc.kernelDisplayName === name && shown);
            }""",
            KERNEL_DISPLAY_NAME,
        )
        if ready:
            return
        time.sleep(0.25)
    raise AssertionError(f"kernel {KERNEL_DISPLAY_NAME!r} not ready in {KERNEL_READY_TIMEOUT / 1000} s")


def open_notebook_page(
    browser_context,
    server: JupyterServer,
    name: str | None = None,
    page_errors: list | None = None,
    wait_kernel: bool = True,
):
    """A new tab showing notebook `name` (default: the test notebook) of `server`, its first cell attached
    and (wait_kernel) its kernel ready. Page errors are appended to page_errors. The caller closes the page."""
    page = browser_context.new_page()
    try:
        if page_errors is not None:
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        page.goto(server.notebook_url(name), wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
        page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        if wait_kernel:
            _wait_kernel_ready(page)
    except BaseException:
        page.close()
        raise
    return page


@pytest.fixture(scope="session", params=list(FRONTENDS))
def nb(request, browser_context, tmp_path_factory) -> NotebookSession:
    """The test notebook open in JupyterLab / Notebook 7 with the heatmap cell run.

    Session-scoped: every browser test module shares one server, page and kernel per frontend (the model
    loads once per frontend). pytest groups the tests by frontend and keeps file order within a module.
    Modules that add cells (`run_code`) must not rebind the setup cell's names (`h`, `acts`, ...).
    A test can run in one frontend only with `@pytest.mark.parametrize("nb", ["lab"], indirect=True)`."""
    frontend = request.param
    server = start_server(frontend, tmp_path_factory.mktemp(f"jupyter-{frontend}"))
    page = None
    try:
        page_errors: list = []
        page = open_notebook_page(browser_context, server, page_errors=page_errors)
        session = NotebookSession(frontend, server, page, page_errors)

        t0 = time.monotonic()
        out = session.run_cell(SETUP, timeout=FIRST_CELL_TIMEOUT)
        for key in ("KERNEL_PY", "TOKENS", "FEATURES"):
            session.outputs[key] = session.output_value(out, key)
        session.heatmap.wait_for(state="attached", timeout=60_000)
        page.wait_for_function(
            "el => el.dataset.state === 'ready' && !!el.parentElement.dataset.firstPaintMs",
            arg=session.heatmap.element_handle(),
            timeout=60_000,
        )
        session.setup_seconds = time.monotonic() - t0
        yield session
    except BaseException:
        sys.stderr.write(f"\n--- {frontend} server log (tail) ---\n{server.log_tail()}\n")
        raise
    finally:
        try:
            if page is not None:
                page.close()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def open_notebook(browser_context):
    """Opens another notebook under a frontend's server root in a new tab:
    ``open_notebook(server, name, wait_kernel=True)`` -> a NotebookSession on that page (no cell run;
    its `heatmap` is the first cell's). The caller closes ``session.page`` and calls check_page_errors()."""

    def _open(server: JupyterServer, name: str, wait_kernel: bool = True) -> NotebookSession:
        errors: list = []
        page = open_notebook_page(browser_context, server, name, page_errors=errors, wait_kernel=wait_kernel)
        return NotebookSession(server.frontend, server, page, errors)

    return _open


@pytest.fixture(autouse=True)
def _no_page_errors(request):
    """Fail every browser test on page errors (except Notebook 7's harmless 'schema' one)."""
    yield
    if "nb" in request.fixturenames:
        request.getfixturevalue("nb").check_page_errors()


@pytest.fixture(scope="session")
def screenshot_dir(artifacts_dir) -> Path | None:
    """Where the README pictures go: $FEATUREVIZ_SCREENSHOTS (e.g. docs/images, relative to the repository
    root) when set; otherwise None, and tests write their pictures to artifacts_dir only, so ordinary runs
    never rewrite the committed images."""
    target = os.environ.get("FEATUREVIZ_SCREENSHOTS", "").strip()
    if not target:
        return None
    path = Path(target)
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
