"""The Prefect UI in a real browser (Debian's chromium, headless) shows a newsdag run and its artifact."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.test_serve import flow_run_record


def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (`.ci/run` installs it up front)."""
    found = shutil.which("chromium")
    if not found and shutil.which("apt-get"):
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(command, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and `apt-get install -y chromium` did not install it")
    return found


def render(browser: str, url: str, profile: Path, screenshot: Path) -> str:
    """The page's DOM after its scripts ran, and a screenshot of it."""
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1400,1000"]
    subprocess.run([*flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=180, check=False)
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    return dom.stdout


def test_ui_shows_the_flow_run_and_its_artifact(live_server, tmp_path: Path) -> None:
    browser = chromium()
    with urllib.request.urlopen(f"{live_server['url']}/ui-settings", timeout=10) as response:
        # The UI's scripts call this API: the server's own, not a default port's.
        assert json.load(response)["api_url"] == live_server["api"]
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Council votes on budget\n\nThe city council voted on Friday to pass the budget.\n")
    result = subprocess.run(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(tmp_path / "w.duckdb")],
        env=live_server["env"], capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    flow_run_id = re.search(r"newsdag run ([0-9a-f-]{36})", result.stdout).group(1)
    record = flow_run_record(live_server["api"], flow_run_id)
    run_name = record["run"].name
    summary = record["artifacts"]["ingest-summary"]

    run_page = render(browser, f"{live_server['url']}/runs/flow-run/{flow_run_id}", tmp_path / "profile-run",
                      tmp_path / "flow-run.png")
    assert run_name in run_page, "the flow run's page does not show its name"
    assert "Completed" in run_page and "newsdag-ingest" in run_page
    assert "discover-files" in run_page and "Artifacts" in run_page  # its task runs, and a tab for its artifacts

    artifact_page = render(browser, f"{live_server['url']}/artifacts/artifact/{summary.id}", tmp_path / "profile-artifact",
                           tmp_path / "artifact.png")
    assert "ingest-summary" in artifact_page and run_name in artifact_page  # the artifact, of this run
    assert "removed as boilerplate" in artifact_page  # its own text, rendered
    assert (tmp_path / "flow-run.png").stat().st_size > 10_000 and (tmp_path / "artifact.png").stat().st_size > 10_000
