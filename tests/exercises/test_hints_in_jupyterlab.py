"""Where students see it: JupyterLab on 127.0.0.1 in headless Chromium. A known-wrong answer typed into an
answer cell and run through the interface gets the named hint of the analyses in the visible test's output."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

NAME = "ch04_three_stages"
WRONG = "def dot_scores(Q, K): return np.asarray(K) @ np.asarray(Q).T"   # keys times queries: transposed
HINT = "Your result is transposed"
SETTINGS = {  # every cell rendered (no windowing), and no question about news feeds
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def jupyterlab(tmp_path):
    """Serve a copy of the student notebook with JupyterLab on 127.0.0.1; yield its URL."""
    shutil.copy(ROOT / "notebooks" / NAME / f"{NAME}.ipynb", tmp_path)
    settings = tmp_path / ".settings"
    for plugin, values in SETTINGS.items():
        path = settings / f"{plugin.split(':')[0]}" / f"{plugin.split(':')[1]}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), "attnbook-test"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--LabApp.user_settings_dir={settings}", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start")
        yield f"{base}/lab/tree/{NAME}.ipynb?token={token}", tmp_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_wrong_answer_typed_in_jupyterlab_gets_the_named_hint_in_its_test_output(jupyterlab):
    playwright = pytest.importorskip("playwright.sync_api")
    url, folder = jupyterlab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
                   else route.abort())
        page.goto(url)
        answer = page.locator(".jp-CodeCell", has_text="def dot_scores(Q, K):").first
        answer.wait_for(timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                               ".jp-Toolbar-kernelStatus", timeout=120_000)
        editor = answer.locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type(WRONG)
        page.keyboard.press("Escape")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        test_cell = page.locator(".jp-CodeCell", has_text="Visible test for dot_scores").first
        hint = test_cell.locator(".jp-OutputArea-output", has_text=HINT).first
        hint.wait_for(timeout=180_000)
        text = hint.inner_text()
        hint.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "jupyterlab.png"))
        browser.close()
    assert "AssertionError" in text and HINT in text, text[-2000:]
    assert "NotImplementedError" not in text
    saved = json.loads((folder / f"{NAME}.ipynb").read_text())  # nothing was saved over the student's file
    assert saved["cells"]
