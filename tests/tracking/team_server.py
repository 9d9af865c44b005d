"""A throw-away team tracking server for the slow tests: a PostgreSQL cluster from the
Debian packages and ``mlflow server --app-name basic-auth`` on it, both on 127.0.0.1.

Nothing is mocked. PostgreSQL runs from ``initdb`` and ``pg_ctl`` in a temporary folder
on a free port, as the current user, or, when that is root (which PostgreSQL refuses),
as the ``postgres`` user of the Debian package (else ``nobody``). MLflow reaches it
through psycopg (``postgresql+psycopg://``); the run store and the auth store are two
databases of the cluster; artifacts are proxied by the server into a local folder, as a
team would run it (docs/team-server.md). Every secret is generated here and reaches the
processes through their environment or a 0600 file, never an argument.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

INSTALL_HINT = (
    "install the Debian package `postgresql` (apt-get install -y --no-install-recommends "
    "postgresql); .ci/run does this before `make test-slow`"
)
ADMIN = "admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` are: beside an ``initdb`` on PATH,
    else the newest ``/usr/lib/postgresql/<major>/bin`` (Debian keeps them off PATH)."""
    candidates = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions,
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "pg_dump")):
            return folder
    return None


def require_postgres() -> Path:
    """The PostgreSQL binaries and the psycopg driver, or a failed test saying what to
    install (as the browser test does for Chromium: fail, never skip)."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in "
            f"/usr/lib/postgresql/*/bin: {INSTALL_HINT}",
            pytrace=False,
        )
    if importlib.util.find_spec("psycopg") is None:
        pytest.fail(
            "the PostgreSQL driver psycopg is missing: install lnet's `server` extra "
            "(pip install -e '.[server]'; the dev extra, which make test installs, includes it)",
            pytrace=False,
        )
    return bindir


def _cluster_owner() -> pwd.struct_passwd | None:
    """The user that runs the cluster when we are root (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail("running as root, and neither a `postgres` nor a `nobody` user to run PostgreSQL")


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` on 127.0.0.1:<free port>; password (scram) logins over TCP."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.user = "lnet"
        self.password = secrets.token_urlsafe(18)
        self.owner = _cluster_owner()
        # under /tmp, not pytest's 0700 folder: the cluster's own user must reach it
        self.root = Path(tempfile.mkdtemp(prefix="lnet-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self.running = False

    def _tool(self, tool: str, *args: str, timeout: float = 180) -> str:
        kwargs = {}
        if self.owner is not None:
            kwargs = {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}
        res = subprocess.run(
            [str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            **kwargs,
        )
        assert res.returncode == 0, (
            f"{tool} {' '.join(args)} failed ({res.returncode}):\n{res.stdout}{res.stderr}\n"
            f"{self.log_tail()}"
        )
        return res.stdout

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self.owner is not None:
            os.chown(pwfile, self.owner.pw_uid, self.owner.pw_gid)
        try:
            self._tool(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
            )

    def start(self) -> None:
        self._tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back open transactions and close every connection, as a
        database restart for maintenance does; ``immediate``: a crash."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")
        self.running = False

    def url(self, database: str) -> str:
        """SQLAlchemy URL without the password (the server gets it from PGPASSWORD)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def dump(self, database: str) -> str:
        """``pg_dump`` of one database, as text (as a backup would be taken)."""
        res = subprocess.run(
            [
                str(self.bindir / "pg_dump"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                database,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PGPASSWORD": self.password},
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)


class MlflowServer:
    """``mlflow server --app-name basic-auth`` on the cluster, in its own process group
    (so that a SIGKILL takes its workers with it, as a crashed host would)."""

    def __init__(self, root: Path, cluster: PostgresCluster) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.admin = (ADMIN, secrets.token_urlsafe(24))
        self.artifacts = root / "server-artifacts"
        self.log_path = root / "mlflow-server.log"
        ini = root / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = {cluster.url('mlflow_auth')}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            "auth_cache_ttl_seconds = 60\n"
        )
        ini.chmod(0o600)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MLFLOW_TRACKING_", "MLFLOW_AUTH_", "MLFLOW_HTTP_", "PG"))
        }
        self.env = env | {
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin[1],  # seeds the admin on first start
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
            "PGPASSWORD": cluster.password,  # libpq reads it: no password in the URI or argv
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no huey workers to start
        }
        self.cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            cluster.url("mlflow"),
            "--artifacts-destination",
            str(self.artifacts),
            "--workers",
            "1",
        ]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> float:
        """Start it and wait for /health; returns the seconds it took."""
        t0 = time.monotonic()
        with open(self.log_path, "a") as log:
            log.write(f"\n--- start at {time.strftime('%H:%M:%S')}\n")
            log.flush()
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while True:
            assert self.proc.poll() is None, "mlflow server exited:\n" + self.log_tail()
            try:
                if requests.get(f"{self.uri}/health", timeout=5).status_code == 200:
                    return time.monotonic() - t0
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() - t0 < timeout, "mlflow server never answered:\n" + (
                self.log_tail()
            )
            time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL to the server and its workers: nothing gets to finish a request."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def create_user(self, username: str) -> tuple[str, str]:
        password = secrets.token_urlsafe(24)
        res = requests.post(
            f"{self.uri}/api/2.0/mlflow/users/create",
            json={"username": username, "password": password},
            auth=self.admin,
            timeout=60,
        )
        assert res.status_code == 200, res.text
        return username, password

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""
