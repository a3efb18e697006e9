"""What the server benchmarks share: a throwaway PostgreSQL database, free ports, and the subprocesses they run."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def admin_params(url) -> dict:
    """psycopg connection settings for the server of `url`, on its maintenance database."""
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
            "password": url.password, "dbname": "postgres", "autocommit": True}


def postgres_unreachable(database_url: str) -> str | None:
    """Why PostgreSQL at this URL cannot be used here, or None."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    try:
        psycopg.connect(**admin_params(url), connect_timeout=3).close()
    except Exception as exc:  # any failure to connect means: not here
        return f"PostgreSQL at {url.host}:{url.port or 5432} is unreachable ({type(exc).__name__})"
    return None


def recreate_database(database_url: str, drop_only: bool = False) -> None:
    """Drop the URL's database (sessions still on it are ended) and, unless drop_only, create it empty."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    with psycopg.connect(**admin_params(url)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{url.database}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """The subprocesses a run started, each in its own process group, stopped on exit or error."""

    def __init__(self, cwd: Path = ROOT):
        self.running: list[subprocess.Popen] = []
        #: the checkout the processes run (gunicorn imports `wsgi` from its working directory)
        self.cwd = cwd

    def start(self, argv: list[str], env: dict, log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(proc)
        return proc

    def stop(self, only: subprocess.Popen | None = None) -> None:
        """Stop every process started (or just `only`): SIGTERM, then SIGKILL after 15 s."""
        targets = [only] if only is not None else list(self.running)
        for proc in targets:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in targets:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.running.remove(proc)
