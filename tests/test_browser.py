"""JupyterLab in a real browser (issue 23): what a reader sees when opening each course notebook.

One ``jupyter lab`` server (this project's own environment, 127.0.0.1, a random free port, a token, temporary
runtime/config/data/settings folders, root = the repository) and one headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright: no browser download) serve every notebook in turn. For each
notebook the test checks that

* it renders with its committed figures: as many loaded ``<img>`` outputs as the file stores ``image/png``
  outputs;
* no error dialog opens;
* its kernel starts and goes idle (the toolbar's kernel indicator and the server's session list agree);
* the setup, parameters and device/profile cells run through the UI (select the first cell, Shift+Enter
  through them) and get fresh execution counts, without a traceback (so the kernel finds ``mer_utils``);
* the notebook file on disk is unchanged afterwards (autosave is off).

One more test runs an interactive explorer (``mer_utils.explore``) of notebook 01 in the live kernel and moves a
slider with the keyboard: the widget's picture must be redrawn (other PNG bytes) and its status line name the new
value.

A screenshot of each notebook is kept under ``$MER_TEST_ARTIFACTS/browser/`` (default
``runs/test-artifacts/browser/``); the run's summary names the folder. The whole module skips, with the
reason, where Chromium or Playwright is missing (``.ci/run`` installs Debian's chromium; Playwright is in the
dev extra). Run it alone with ``scripts/test.sh tests/test_browser.py`` (about two minutes on two cores).

All browser tests live in this one file so that ``pytest-xdist --dist loadfile`` gives them to one worker,
which starts the server and the browser once (module-scoped fixtures, torn down before that worker moves on).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mer_utils.course import list_notebooks
from mer_utils.paths import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("MER_CHROMIUM", "/usr/bin/chromium"))
#: Flags for Chromium on a machine without a display or an outside network (no sandbox: CI runs as root).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: JupyterLab settings for the test: never write the notebook back (autosave off), keep every cell in the
#: page (no windowing, so every figure is an element to count), no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
SERVER_START_S = 90
RENDER_S = 90
RUN_S = 180
NOTEBOOKS = list_notebooks()
CELL = ".jp-NotebookPanel .jp-Notebook .jp-Cell"


def artifact_dir() -> Path:
    """Where the screenshots go: ``$MER_TEST_ARTIFACTS/browser`` or ``runs/test-artifacts/browser``."""
    root = os.environ.get("MER_TEST_ARTIFACTS")
    return (Path(root) if root else REPO_ROOT / "runs" / "test-artifacts") / "browser"


def stored_images(notebook: Path) -> int:
    """Number of ``image/png`` outputs stored in the notebook file (its committed figures)."""
    nb = json.loads(notebook.read_text())
    return sum("image/png" in out.get("data", {}) for cell in nb["cells"] for out in cell.get("outputs", []))


def setup_cells(notebook: Path) -> tuple[int, list[int]]:
    """(index of the last cell to run, indices of the code cells up to it): the setup cells, the cell tagged
    ``parameters`` and the code cell after it (``device.setup`` and ``config.resolve_profile``)."""
    cells = json.loads(notebook.read_text())["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    params = [i for i in code if "parameters" in cells[i].get("metadata", {}).get("tags", [])]
    assert params, f"{notebook.name} has no cell tagged 'parameters'"
    upto = code[min(code.index(params[0]) + 1, len(code) - 1)]
    return upto, [i for i in code if i <= upto]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running ``jupyter lab`` server: base URL, token, log file and small REST helpers."""

    def __init__(self, base: str, token: str, log: Path):
        self.base, self.token, self.log = base, token, log

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def session_of(self, rel_path: str) -> dict | None:
        return next((s for s in self.api("/api/sessions") if s.get("path") == rel_path), None)

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    """``jupyter lab`` from this environment (``sys.executable -m jupyter lab``) on 127.0.0.1."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (`apt-get install chromium`; "
                    ".ci/run does) or point MER_CHROMIUM at one")
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pyproject's dev extra)")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    for name, values in LAB_SETTINGS.items():
        path = tmp / "settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           # a temporary data dir: the kernel is this environment's "python3" (sys.prefix), not a user one
           "JUPYTER_DATA_DIR": str(tmp / "data"), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "OMP_NUM_THREADS": "1",
           "MER_RESULTS_ROOT": os.environ.get("MER_RESULTS_ROOT", str(tmp / "results")),
           "MER_CACHE_ROOT": os.environ.get("MER_CACHE_ROOT", str(tmp / "cache"))}
    env.pop("MER_HEADLESS", None)  # a reader's JupyterLab: the explorers are live widgets (mer_utils.explore)
    log = tmp / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={REPO_ROOT}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.time() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.time() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """Headless Debian Chromium with a new empty profile (Playwright, ``executable_path``)."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


# JavaScript run in the page -------------------------------------------------------------------------------
_IMAGES = """() => {
  const imgs = [...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output.jp-RenderedImage img')];
  return {total: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length};
}"""
_WATCH_PROMPTS = """(targets) => {
  // Remember which of the target cells showed the busy prompt "[*]:" after the run began.
  window.__merBusy = new Set();
  const cells = () => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell');
  const look = () => targets.forEach(i => {
    const p = cells()[i] && cells()[i].querySelector('.jp-InputPrompt');
    if (p && p.textContent.includes('*')) window.__merBusy.add(i);
  });
  new MutationObserver(look).observe(document.querySelector('.jp-NotebookPanel .jp-Notebook'),
                                     {subtree: true, childList: true, characterData: true});
}"""
_PROMPTS = """(targets) => {
  const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell');
  return targets.map(i => ({
    index: i,
    prompt: cells[i].querySelector('.jp-InputPrompt').textContent.trim(),
    busy: window.__merBusy.has(i),
    output: [...cells[i].querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
  }));
}"""


def _wait_for(check, timeout_s: float, what: str, page, lab: Lab, shot: Path):
    deadline = time.time() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            page.screenshot(path=str(shot))
            pytest.fail(f"{what} (screenshot: {shot}); server log:\n{lab.log_tail(1500)}")
        page.wait_for_timeout(250)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_in_jupyterlab(notebook: Path, lab: Lab, browser):
    rel = notebook.relative_to(REPO_ROOT).as_posix()
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    expected_images = stored_images(notebook)
    last, targets = setup_cells(notebook)
    shots = artifact_dir()
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"{notebook.stem}.png"
    page = browser.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    t0 = time.time()
    try:
        # A workspace of its own per notebook, so that no earlier notebook is reopened beside it.
        page.goto(f"{lab.base}/lab/workspaces/{notebook.stem[:2]}-test/tree/{rel}?reset&token={lab.token}")
        _wait_for(lambda: page.locator(CELL).count() > 0, RENDER_S, f"{notebook.name}: no cell appeared",
                  page, lab, shot)

        # 1. the committed figures render
        images = _wait_for(lambda: (lambda r: r if r["loaded"] >= expected_images else None)(page.evaluate(_IMAGES)),
                           RENDER_S, f"{notebook.name}: {page.evaluate(_IMAGES)} images loaded, "
                           f"{expected_images} stored", page, lab, shot)
        assert images["total"] == expected_images, (
            f"{notebook.name}: {images['total']} image outputs in JupyterLab, {expected_images} image/png "
            "outputs stored in the file")

        t_render = time.time() - t0
        # 2. the kernel starts and is idle, in the page and on the server
        _wait_for(lambda: page.locator('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]')
                  .count() > 0 and (lab.session_of(rel) or {}).get("kernel", {}).get("execution_state") == "idle",
                  RENDER_S, f"{notebook.name}: the kernel did not start and go idle", page, lab, shot)
        kernel = lab.session_of(rel)["kernel"]
        assert kernel["name"] == "python3", f"{notebook.name} opened with kernel {kernel['name']!r}"
        dialogs = page.locator(".jp-Dialog")
        assert dialogs.count() == 0, f"{notebook.name}: a dialog opened: {dialogs.first.inner_text()[:500]}"

        t_kernel = time.time() - t0
        # 3. run the setup, parameters and device/profile cells through the UI: select the first cell,
        #    then Shift+Enter through cell `last` (markdown cells render, code cells run, in order)
        page.evaluate(_WATCH_PROMPTS, targets)
        page.locator(CELL).first.click()
        page.keyboard.press("Escape")
        for _ in range(last + 1):
            page.keyboard.press("Shift+Enter")
            page.wait_for_timeout(100)

        def ran():
            cells = page.evaluate(_PROMPTS, targets)
            done = all(c["busy"] and re.fullmatch(r"\[\d+\]:", c["prompt"]) for c in cells)
            return cells if done and page.locator(
                '.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]').count() else None

        cells = _wait_for(ran, RUN_S, f"{notebook.name}: cells {targets} did not all run "
                          f"({page.evaluate(_PROMPTS, targets)})", page, lab, shot)
        # the screenshot: file browser folded away, the notebook from the cell before its setup cell
        side = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if side.count():
            side.first.click()
        page.evaluate("(i) => document.querySelectorAll('%s')[i].scrollIntoView({block: 'start'})" % CELL,
                      max(targets[0] - 1, 0))
        page.wait_for_timeout(500)
        page.screenshot(path=str(shot))
        t_run = time.time() - t0
        print(f"{notebook.name}: {images['loaded']}/{expected_images} figures rendered at {t_render:.1f} s, kernel "
              f"idle at {t_kernel:.1f} s, cells {targets} ran at {t_run:.1f} s; screenshot {shot}")
        counts = [c["prompt"] for c in cells]
        assert counts == [f"[{n}]:" for n in range(1, len(targets) + 1)], (
            f"{notebook.name}: execution counts {counts} after running cells {targets} in a new kernel")
        failed = [c for c in cells if "Traceback (most recent call last)" in c["output"]]
        assert not failed, (f"{notebook.name}: cell {failed[0]['index']} failed in JupyterLab "
                            f"(screenshot {shot}):\n{failed[0]['output'][-2000:]}")
        assert dialogs.count() == 0, f"{notebook.name}: a dialog opened: {dialogs.first.inner_text()[:500]}"
        assert not js_errors, f"{notebook.name}: JavaScript errors in JupyterLab: {js_errors[:3]}"
    finally:
        session = lab.session_of(rel)
        if session:  # stop this notebook's kernel before the next one starts (two cores)
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
        page.close()
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before, f"{notebook.name} was modified on disk"


# The interactive explorers (mer_utils.explore) --------------------------------------------------------------
EXPLORER_NOTEBOOK = REPO_ROOT / "notebooks" / "01_preprocessing.ipynb"
EXPLORER_CELL = "explore-tim-code"  # explore.tim(table, row.clip_uid, n_out=64, ...): its third control is n_out
_EXPLORER_IMAGE = """async () => {
  const img = document.querySelector('.jp-NotebookPanel .mer-explorer img');
  if (!img || !img.src) return null;
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const status = document.querySelector('.jp-NotebookPanel .mer-explorer .widget-html');
  return {src: img.src, size: bytes.byteLength, status: status ? status.innerText : '',
          sha: [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')};
}"""


def explorer_cells(notebook: Path) -> list[int]:
    """Indices of the code cells to run for the TIM explorer: setup, parameters, profile, the data cell
    (``table = load_dataset(...)``, which also picks ``row``) and the explorer cell itself."""
    cells = json.loads(notebook.read_text())["cells"]
    _, setup = setup_cells(notebook)
    data = [i for i, c in enumerate(cells) if "".join(c["source"]).startswith("table = load_dataset(")]
    explorer = [i for i, c in enumerate(cells) if c.get("id") == EXPLORER_CELL]
    assert data and explorer, f"{notebook.name}: no data cell or no cell with id {EXPLORER_CELL!r}"
    return setup + [data[0], explorer[0]]


def test_explorer_slider_redraws_in_jupyterlab(lab: Lab, browser):
    rel = EXPLORER_NOTEBOOK.relative_to(REPO_ROOT).as_posix()
    before = hashlib.sha256(EXPLORER_NOTEBOOK.read_bytes()).hexdigest()
    targets = explorer_cells(EXPLORER_NOTEBOOK)
    shots = artifact_dir()
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "explorer_01_tim.png"
    page = browser.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        page.goto(f"{lab.base}/lab/workspaces/explorer-test/tree/{rel}?reset&token={lab.token}")
        _wait_for(lambda: page.locator(CELL).count() > max(targets), RENDER_S, "no cells appeared", page, lab, shot)
        _wait_for(lambda: page.locator('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]')
                  .count() > 0 and (lab.session_of(rel) or {}).get("kernel", {}).get("execution_state") == "idle",
                  RENDER_S, "the kernel did not start and go idle", page, lab, shot)
        # run the cells through the UI: from the first cell in command mode, Shift+Enter runs a target cell and
        # moves on, "j" only moves on (the cells in between are not run); the kernel queues the runs
        page.locator(CELL).first.click()
        page.keyboard.press("Escape")
        for i in range(max(targets) + 1):
            page.keyboard.press("Shift+Enter" if i in targets else "j")
            page.wait_for_timeout(60)
        first = _wait_for(lambda: page.evaluate(_EXPLORER_IMAGE), RUN_S,
                          f"the explorer of {EXPLORER_NOTEBOOK.name} showed no live picture (cells {targets}); "
                          "outputs: " + " | ".join(page.locator(CELL).nth(i).inner_text()[-300:] for i in targets),
                          page, lab, shot)
        assert first["size"] > 1000 and "n_out=64" in first["status"], first
        # move the "frames out" slider one step with the keyboard, as a reader would
        handle = page.locator(".jp-NotebookPanel .mer-explorer .noUi-handle").nth(1)  # sliders: frames in, frames out
        handle.scroll_into_view_if_needed()
        handle.focus()
        page.keyboard.press("ArrowRight")
        t0 = time.time()
        after = _wait_for(lambda: (lambda r: r if r and r["sha"] != first["sha"] else None)(
            page.evaluate(_EXPLORER_IMAGE)), 60, "the explorer's picture did not change after a slider step",
            page, lab, shot)
        redraw_s = time.time() - t0
        page.locator(".jp-NotebookPanel .mer-explorer").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shot))
        print(f"explorer redrawn {redraw_s:.2f} s after the slider step ({first['size']} -> {after['size']} bytes "
              f"of PNG); screenshot {shot}")
        assert "n_out=65" in after["status"], f"status after the step: {after['status']!r}"
        errors = [i for i in targets if "Traceback (most recent call last)" in page.locator(CELL).nth(i).inner_text()]
        assert not errors, f"cells {errors} failed: {page.locator(CELL).nth(errors[0]).inner_text()[-2000:]}"
        assert not js_errors, f"JavaScript errors in JupyterLab: {js_errors[:3]}"
    finally:
        session = lab.session_of(rel)
        if session:
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
        page.close()
    assert hashlib.sha256(EXPLORER_NOTEBOOK.read_bytes()).hexdigest() == before, f"{rel} was modified on disk"
