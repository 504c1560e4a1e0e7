"""A local Prefect server for newsdag: started in the background on first use, then reused.

Why: Prefect's ephemeral mode starts a temporary server for every run (~15 s here) and can exit
before it has recorded all task runs. A long-lived server on 127.0.0.1 makes `newsdag run` fast
after the first time, and every run, task run and log shows in the UI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


def server_url(host: str = DEFAULT_HOST, port: int | None = None) -> str:
    port = port or int(os.environ.get("NEWSDAG_PREFECT_PORT", DEFAULT_PORT))
    return f"http://{host}:{port}"


def is_healthy(api_url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s) as response:  # noqa: S310 - loopback URL
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def server_home(api_url: str, timeout_s: float = 5.0) -> Path | None:
    """The PREFECT_HOME of the Prefect server answering at `api_url` (its own settings say), if it tells."""
    import json

    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/admin/settings", timeout=timeout_s) as response:  # noqa: S310
            home = json.load(response).get("home")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return Path(home).resolve() if home else None


def port_in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


class PortTaken(RuntimeError):
    """The Prefect port is held by another program, or by a Prefect server that is not newsdag's."""


def _prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME", ".prefect")).resolve()


def pid_file() -> Path:
    return _prefect_home() / "newsdag-server.pid"


def start_server(host: str = DEFAULT_HOST, port: int | None = None, wait_s: float = 120.0) -> str:
    """Start the Prefect server detached, as `prefect server start` runs it but answering only requests
    addressed to `host` or loopback (flows/hostguard.py; logs in $PREFECT_HOME/server.log); returns the
    API URL once healthy. Binds to loopback unless the caller passes another host."""
    url = server_url(host, port)
    api_url = f"{url}/api"
    home = _prefect_home()
    port_number = int(url.rsplit(":", 1)[1])
    if is_healthy(api_url):
        # Reuse only our own server: another one (another project's, another PREFECT_HOME) would record
        # newsdag's runs in its database and show them in its UI.
        their_home = server_home(api_url)
        if their_home != home:
            raise PortTaken(
                f"port {port_number} is used by another Prefect server (home {their_home or 'unknown'}, not {home}); "
                "stop it, or set NEWSDAG_PREFECT_PORT to a free port (or PREFECT_API_URL to use that server on purpose)"
            )
        return api_url
    if port_in_use(host, port_number):
        raise PortTaken(
            f"port {port_number} on {host} is taken by another program; set NEWSDAG_PREFECT_PORT to a free port "
            "(or NEWSDAG_PREFECT_MODE=ephemeral to run without a server)"
        )
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    # The UI asks the server for its API's address, derived from these settings (not from --port):
    # without them a UI on another port talks to whatever listens on 4200.
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_API_HOST": host,
           "PREFECT_SERVER_API_PORT": url.rsplit(":", 1)[1]}
    env.pop("PREFECT_API_URL", None)
    # `prefect server start` as it runs in the foreground, behind a guard that answers only requests
    # addressed to this server's own names (flows/hostguard.py: DNS rebinding, cross-origin pages).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.hostguard", "prefect", "--host", host, "--port", url.rsplit(":", 1)[1]],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if is_healthy(api_url):
            return api_url
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited (code {process.returncode}); see {home / 'server.log'}")
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not become healthy within {wait_s:.0f} s; see {home / 'server.log'}")


def stop_server() -> bool:
    """Stop the server started by `start_server`; False when none was running."""
    path = pid_file()
    if not path.exists():
        return False
    pid = int(path.read_text())
    path.unlink()
    try:
        os.killpg(pid, 15)
    except ProcessLookupError:
        return False
    return True


class RunsInProgress(RuntimeError):
    """`newsdag ui --stop` while flow runs use the server: stopping it would fail them."""


def runs_in_progress(api_url: str) -> list[str]:
    """Flow runs the server at `api_url` holds as Pending, Running or Cancelling ("name (state)"), newest
    first; empty when none, or when no server answers there (then nothing can be using it)."""
    if not is_healthy(api_url):
        return []
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    active = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
        any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])))
    with SyncPrefectClient(api_url) as client:
        runs = client.read_flow_runs(flow_run_filter=active, sort=FlowRunSort.START_TIME_DESC, limit=50)
    return [f"{run.name} ({run.state.name if run.state else 'unknown'})" for run in runs]


def stop_server_safely(api_url: str, force: bool = False) -> bool:
    """Stop newsdag's server unless a flow run is using it: a run loses its API mid-batch and fails
    (`Connection refused`) minutes later. `force` stops it anyway. False when none was running."""
    if not force and pid_file().exists():
        runs = runs_in_progress(api_url)
        if runs:
            shown = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
            raise RunsInProgress(
                f"not stopping the Prefect server at {api_url.removesuffix('/api')}: {len(runs)} flow run(s) in progress "
                f"({shown}); wait for them to finish, or use --force to stop it anyway"
            )
    return stop_server()


# How long an `--ephemeral` run waits for Prefect's temporary server at most: it starts in 15-25 s on an
# idle 2-core machine (../shared/notes/prefect.md), took 58 s at load average 10 with a fresh PREFECT_HOME;
# a busier host needs more, which is no reason to fail a scheduled run.
EPHEMERAL_STARTUP_S = 600


def start_ephemeral(wait_s: float | None = None) -> str:
    """Start Prefect's temporary server for this process (the one its client would start on first use,
    the same object, so the flow reuses it) and return its API URL once healthy.

    Why not leave it to Prefect: it waits PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS counting only
    its own sleeps, and waits that long even when the server process has died. Here it waits as long
    as the process is alive, up to `wait_s` (the larger of that setting and EPHEMERAL_STARTUP_S) of wall
    time, and fails at once, saying why, when the process exits."""
    import atexit

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    wait_s = wait_s or max(EPHEMERAL_STARTUP_S, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    server = SubprocessASGIServer()
    if server.running:
        return server.api_url
    server.port = server.port or server.find_available_port()
    server.running = True
    server.server_process = server._run_uvicorn_command()  # noqa: SLF001 - Prefect's own command and settings
    atexit.register(server.stop)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if is_healthy(server.api_url, timeout_s=5.0):
            return server.api_url
        code = server.server_process.poll()
        if code == 3:  # uvicorn could not bind: another process took the port meanwhile
            server.port = server.find_available_port()
            server.server_process = server._run_uvicorn_command()  # noqa: SLF001
        elif code is not None:
            server.stop()
            raise RuntimeError(
                f"Prefect's temporary server exited with code {code} while starting (its output is above); "
                "run without --ephemeral to use the local server, or see `newsdag ui`"
            )
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(
        f"Prefect's temporary server did not start within {wait_s:.0f} s; run without --ephemeral (the local "
        "server starts once and is reused), or raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    )


def use_server(mode: str) -> str | None:
    """Point Prefect at a server according to `mode` (NEWSDAG_PREFECT_MODE):
    - `auto` (default): an explicit PREFECT_API_URL, else the local server (started if needed);
    - `ephemeral`: Prefect's temporary per-run server (nothing left running).
    Returns the API URL in use, or None for ephemeral mode."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if mode == "ephemeral":
        start_ephemeral()  # before the flow asks for it, with the time a loaded machine needs
        return None
    api_url = start_server()
    os.environ["PREFECT_API_URL"] = api_url
    try:
        ensure_zombie_automation()
    except Exception as error:  # noqa: BLE001 - runs work without it; the next run still marks dead ones
        print(f"newsdag: could not set up crash detection on the Prefect server: {error}", file=sys.stderr)
    return api_url


ZOMBIE_AUTOMATION = "newsdag: crash flow runs whose heartbeats stopped"
# Flow runs send a heartbeat event this often (PREFECT_FLOWS_HEARTBEAT_FREQUENCY; Prefect's minimum is 30 s);
# a run silent for three beats is taken for dead.
HEARTBEAT_SECONDS = 30


def ensure_zombie_automation(heartbeat_seconds: int = HEARTBEAT_SECONDS) -> bool:
    """On the server PREFECT_API_URL points at: an automation that marks a flow run Crashed when its
    heartbeats stop without a final state (a SIGKILLed or lost process), as Prefect's guide to zombie
    flows describes. Without it such a run stays Running in the UI until newsdag's next run notices it.
    Returns True if it was created now."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        Automation.read(name=ZOMBIE_AUTOMATION)
        return False
    except ValueError:  # not found
        pass
    Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=3 * heartbeat_seconds),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {3 * heartbeat_seconds} s: the run's process died")],
    ).create()
    return True
