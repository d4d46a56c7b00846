"""A real browser opens report.html and an exported notebook: no console errors, every image loads,
one table row per check, a click opens a check's evidence. Screenshots are saved as test artifacts.

The browser is Debian's ``chromium`` (``.ci/run`` installs it with apt-get when missing), driven by
Playwright through ``executable_path``; nothing is downloaded at run time. The exported notebook
loads marimo's front end from a CDN; the machine is offline, so the test serves the same files
from the installed marimo wheel on a local HTTP server and points the page there.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from theory_lab import checking
from theory_lab.checking import Check, Hypothesis, Result, Verdict
from theory_lab.cli import app

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("THEORY_LAB_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]

if CHROMIUM is None:
    pytest.skip("BROWSER TEST NOT RUN: Debian's chromium is not installed (apt-get install -y chromium; .ci/run "
                "does this). report.html and the notebook pages were NOT checked in a browser.",
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="BROWSER TEST NOT RUN: the python `playwright` package is missing (pip install -r "
    "requirements-browser.lock; .ci/run does this). report.html was NOT checked in a browser.")

RANK = {"shape": [3, 5], "rank": 3, "sigma_max": 2.0, "sigma_min": 0.5, "tol": 1e-14, "margin": 1e13,
        "smallest_singular_values": [0.5, 1.0, 2.0]}
VERDICTS = [Verdict.HOLDS, Verdict.FAILS, Verdict.NOT_APPLICABLE, Verdict.INCONCLUSIVE, Verdict.MEASURED]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    page.goto(url, wait_until="load")
    return page, errors


def _images(page):
    return page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A real `theory-lab verify` output, with one check of each verdict, one with rank evidence, one crash."""
    out = tmp_path_factory.mktemp("report")
    saved = list(checking._LOCAL)
    checking._LOCAL[:] = []
    try:
        for v in VERDICTS:
            evidence = {"F_1": RANK} if v is Verdict.HOLDS else {"observed": 1.0}
            checking.register(Check(f"browser-{v.name.lower()}", "Test item", f"a {v.value} check",
                                    lambda ctx, v=v, e=evidence: Result(v, [Hypothesis("h", True, "met")], 2.0, e,
                                                                         f"deliberately {v.value}")))
        checking.register(Check("browser-crash", "Test item", "crashes", lambda ctx: 1 / 0))
        res = CliRunner().invoke(app, ["verify", "--check", "browser-*", "-o", str(out)])
    finally:
        checking._LOCAL[:] = saved
    assert res.exit_code == 1, res.output  # the failing and the crashing check
    return out


def test_report_html_in_chromium(browser, report_dir):
    page, errors = _open(browser, (report_dir / "report.html").as_uri())
    rows = page.locator("table#checks tbody tr.check")
    assert rows.count() == len(VERDICTS) + 1  # one row per check
    colours = {page.locator("td.verdict").nth(i).evaluate("e => getComputedStyle(e).backgroundColor")
               for i in range(rows.count())}
    assert len(colours) == len(VERDICTS) + 1  # every verdict its own colour ("error" too)
    images = _images(page)
    assert images and all(done and width > 0 for done, width, _ in images), images
    details = page.locator("details#check-browser-holds")
    assert details.evaluate("d => d.open") is False
    assert not page.locator("details#check-browser-holds pre.json").is_visible()
    page.click("details#check-browser-holds > summary")
    assert details.evaluate("d => d.open") is True
    assert page.locator("details#check-browser-holds pre.json").is_visible()
    assert "smallest_singular_values" in page.locator("details#check-browser-holds pre.json").inner_text()
    page.click("table#checks a[href='#check-browser-fails']")  # a table link opens its section too
    assert page.locator("details#check-browser-fails").evaluate("d => d.open") is True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-html.png"), full_page=True)
    assert errors == []
    page.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_exported_notebook_in_chromium(browser, tmp_path):
    marimo = pytest.importorskip("marimo", reason="marimo is not installed (the `notebooks` extra): the exported "
                                 "notebook page was NOT checked in a browser; .ci/run installs it")
    exported = tmp_path / "rank_jump.html"
    notebook = tmp_path / "rank_jump.py"  # a copy: the export leaves a session cache beside the notebook
    shutil.copy(ROOT / "notebooks" / "rank_jump.py", notebook)
    res = subprocess.run([sys.executable, "-m", "marimo", "export", "html", str(notebook),
                          "-o", str(exported), "--", "--N", "20", "--draws", "1"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and exported.exists(), res.stderr[-3000:]
    site = tmp_path / "site"
    site.mkdir()
    (site / "marimo").symlink_to(Path(marimo.__file__).parent / "_static")
    html, n = re.subn(r"https://cdn\.jsdelivr\.net/npm/@marimo-team/frontend@[^/\"']+/dist", "/marimo",
                      exported.read_text())
    assert n > 0  # the page's front end, served from the wheel
    (site / "index.html").write_text(html)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page, errors = _open(browser, f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.wait_for_selector("img[alt='rank of F1 vs n1']", timeout=60_000)
        page.wait_for_load_state("networkidle")
        images = [i for i in _images(page) if i[2] == "rank of F1 vs n1"]
        assert images and all(done and width > 0 for done, width, _ in images), _images(page)
        assert "Theorem 3.5" in page.inner_text("body")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook-rank-jump.png"), full_page=False)
        assert errors == [], errors
        page.close()
    finally:
        server.shutdown()
        server.server_close()
