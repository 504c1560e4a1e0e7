"""`newsdag explore`: the marimo notebook in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.conftest import free_port
from tests.test_serve import chromium, keep_screenshot


def start_explore(warehouse: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows", "explore", "--warehouse", str(warehouse), "--port", str(port), "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_notebook_runs_an_edited_query_and_shows_its_rows(seed_run, tmp_path: Path) -> None:
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    _, warehouse, _ = seed_run
    before = warehouse.read_bytes()
    port = free_port()
    explore = start_explore(warehouse, port)
    try:
        line = explore.stdout.readline() if explore.stdout else ""
        assert f"http://127.0.0.1:{port}" in line, (line, explore.stderr.read() if explore.poll() is not None else "")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=browser_path,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                      "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("heading", name="Most-mentioned entities").wait_for(timeout=120_000)
            # The first example query ran when the page opened; replace it with ours and run it.
            editor = page.locator(".cm-content").first
            editor.click()
            page.keyboard.press("Control+a")
            page.keyboard.type("select title from articles where title is not null order by title")
            page.get_by_role("button", name="Run").click()
            page.get_by_text("4 rows").first.wait_for(timeout=60_000)
            assert page.get_by_text("Lavrov and Kerry Fail to Reach Agreement on Ukraine").count() >= 1
            for heading in ("Articles per outlet and day", "Largest stories over time", "Paragraph links between outlets"):
                assert page.get_by_role("heading", name=heading).count() == 1
            time.sleep(2)  # let the charts draw before the picture
            page.screenshot(path=str(tmp_path / "explore.png"), full_page=False)
            browser.close()
        assert (tmp_path / "explore.png").stat().st_size > 20_000
        keep_screenshot(tmp_path / "explore.png")
    finally:
        explore.terminate()
        explore.wait(timeout=30)
    assert warehouse.read_bytes() == before  # read-only: not a byte changed
    # Stopping `newsdag explore` stops its notebook server: nothing answers on the port afterwards.
    import socket

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the notebook server outlived `newsdag explore`"


def test_explore_says_when_a_run_holds_the_warehouse(seed_run, tmp_path: Path) -> None:
    _, warehouse, _ = seed_run
    copy = tmp_path / "held.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    writer = duckdb.connect(str(copy))  # as a run holds it
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flows", "explore", "--warehouse", str(copy), "--no-open", "--port", str(free_port())],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        writer.close()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert "open for writing by another process" in result.stderr and "try again" in result.stderr


def test_explore_refuses_a_taken_port(seed_run) -> None:
    import socket

    _, warehouse, _ = seed_run
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "flows", "explore", "--warehouse", str(warehouse), "--no-open", "--port", str(port)],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 1 and f"port {port}" in result.stderr and "--port" in result.stderr
