"""A throw-away PostgreSQL server on a free loopback port, for the DuckLake catalog (tests and bench).

Debian's `postgresql` package puts its binaries in /usr/lib/postgresql/<version>/bin (not on PATH), and
`initdb` refuses to run as root: as root, the server is created and run as the `postgres` user, in a
folder that user owns. Trust authentication, loopback only, the socket in the server's own folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl (newest version first), or None when PostgreSQL is missing."""
    on_path = shutil.which("initdb")
    if on_path:  # resolved: a link on PATH may stand alone, without createdb beside it
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                      if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    port: int
    user: str = "postgres"
    dbname: str = "postgres"

    def libpq(self, dbname: str | None = None) -> str:
        """A libpq connection string, as DuckDB's postgres extension takes it."""
        return f"dbname={dbname or self.dbname} host=127.0.0.1 port={self.port} user={self.user}"


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{part}'" for part in command)]


@contextmanager
def postgres_server(base: Path | None = None) -> Iterator[PostgresServer]:
    """initdb into a temp folder, start on a free port, yield, stop and remove."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="newsdag-pg-", dir=base))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        folder.chmod(0o700)
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    subprocess.run(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                      "--no-sync"]), check=True, capture_output=True, timeout=120)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
    started = subprocess.run(_as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                                                "-w", "-t", "60", "start"]), capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log.read_text() if log.exists() else ''}")
    try:
        yield PostgresServer(port)
    finally:
        subprocess.run(_as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server: PostgresServer, name: str) -> str:
    """A new, empty database on the server; returns its libpq connection string."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user, name],
                   check=True, capture_output=True, timeout=60)
    return server.libpq(name)
