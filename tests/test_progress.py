"""What `newsdag run` shows: a progress bar on a terminal, plain log lines elsewhere; never the model
packages' own bars."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEDS_DIR


def run_in_terminal(args: list[str], env: dict[str, str], timeout: int = 600) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as in an interactive shell; returns (code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def corpus(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted(SEEDS_DIR.glob("*.txt"))[:3]:
        shutil.copy(path, raw / path.name)
    return raw


def test_terminal_shows_a_progress_bar_and_no_model_noise(live_server, tmp_path: Path) -> None:
    env = {**live_server["env"], "NEWSDAG_BATCH_SIZE": "1", "COLUMNS": "160"}
    code, output = run_in_terminal(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(corpus(tmp_path)), "--warehouse", str(tmp_path / "w.duckdb")],
        env,
    )
    assert code == 0, output[-3000:]
    assert "3/3" in output and "articles" in output and "ETA" in output  # the bar: done/total, rate, ETA
    assert "Task run 'load-warehouse" not in output  # per-task lines are held back while the bar shows
    assert "Loading weights" not in output and "Warning" not in output
    assert "newsdag run " in output and "warehouse articles 3" in output  # the summary still prints


def test_pipe_gets_plain_log_lines(live_server, tmp_path: Path) -> None:
    env = {**live_server["env"], "NEWSDAG_BATCH_SIZE": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(corpus(tmp_path)), "--warehouse", str(tmp_path / "w.duckdb")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "batch 1/2 done: 2/3 articles loaded" in output and "ETA" in output
    assert "\x1b[" not in result.stdout and "━" not in output  # no bar drawn, no cursor control
    assert "Loading weights" not in output
