"""A scaled-out torchquiz on this machine, for the fault tests and bench/scale_out.py: a private
PostgreSQL and Redis (the faults restart them; the machine's own are shared by the rest of the
suite), code runners, two `torchquiz serve` replicas and nginx in front, each a real process on
free ports in a temporary folder of its own.

    with cluster(Path("/tmp/x")) as c:       # c.url: the proxy; c.replicas[0].kill() ...
        ...

The runner is one shared HTTP runner (`torchquiz runner --host --port`) given to both replicas,
or, with `queue=True`, the Redis Streams job queue (TORCHQUIZ_RUNNER_URL=redis://..., runners
started with `torchquiz runner --queue redis://...`).

PostgreSQL's initdb and postmaster refuse root: as root they run as the suite's unprivileged
user (tests/unprivileged.py), in a folder that user owns; so does nginx, which then needs no
`user` directive and writes only under its prefix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.runner.embedded import wait_until_ready
from app.runner.settings import RunnerSettings
from app.runner.syscalls import PR_SET_PDEATHSIG, prctl
from tests.servers import PROJECT, log_of, ready, serve
from tests.unprivileged import User, unprivileged_user

PG_BIN = Path(os.environ.get("TORCHQUIZ_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DATABASE = "torchquiz"
START_SECONDS = 180  # a busy 2-core machine (the suite beside) warms a runner slowly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(
    check: Callable[[], object],
    what: str,
    process: subprocess.Popen[bytes] | None,
    timeout: float = START_SECONDS,
) -> None:
    """Until `check()` is true; at once an error if the process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode})")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not up within {timeout:g} s")


def _die_with_parent() -> None:
    """A test or bench killed outright leaves no database, Redis, runner or proxy behind (the
    replicas, started by tests/servers.py, have no such hook)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    """One process of the cluster, started again on the same port after a fault."""

    name: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _popen(self, command: list[str], **options: Any) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                **options,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, number: int, wait: float = 30) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(number)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9: no clean-up at all."""
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)


@dataclass
class Postgres(Service):
    user: User = field(default_factory=unprivileged_user)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={DATABASE} connect_timeout=2"

    def init(self) -> None:
        data = self.folder / "data"
        command = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        command += ["--no-sync", "-E", "UTF8", "--locale=C"]
        as_user: Any = self.user.popen_options()
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder, **as_user)
        self.start()
        admin = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def start(self) -> None:
        # fsync off: a process that dies loses nothing with it (the kernel keeps the pages);
        # only the machine's crash would, and these data live for one run.
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder),
            "fsync": "off",
            "max_connections": "300",
            "shared_buffers": "64MB",
        }
        command = [str(PG_BIN / "postgres"), "-D", str(self.folder / "data"), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        self._popen(command, cwd=self.folder, **self.user.popen_options())
        admin = self.conninfo.replace(DATABASE, "postgres")
        _until(lambda: _connects(admin), "PostgreSQL", self.process)

    def stop(self) -> None:
        self.signal(signal.SIGINT)  # fast shutdown: SIGTERM would wait for every client

    def restart(self, down_seconds: float = 0.0) -> None:
        """Immediate shutdown (SIGQUIT: every backend dies at once, recovery at the next start,
        as after a crash), down for a moment, started again on the same port."""
        self.signal(signal.SIGQUIT)
        time.sleep(down_seconds)
        self.start()

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(sql, params).fetchall()


def _connects(conninfo: str) -> bool:
    psycopg.connect(conninfo).close()
    return True


@dataclass
class Redis(Service):
    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self._popen(command, cwd=self.folder)
        _until(lambda: _redis_ping(self.port), "Redis", self.process)

    def restart(self, down_seconds: float = 0.0) -> None:
        """SIGTERM (Redis's own shutdown), down for a moment, started again: empty, as it
        keeps nothing on disk here."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


@dataclass
class Runner(Service):
    settings: RunnerSettings = field(default_factory=RunnerSettings)
    queue: str | None = None  # a redis:// URL: the runner takes its jobs from the queue there

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} | self.settings.environ()
        command = [sys.executable, "-m", "app.cli", "runner", "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        if self.queue:
            command += ["--queue", self.queue]
        self._popen(command, cwd=PROJECT, env=env)
        wait_until_ready(self.url, self.process, START_SECONDS)

    def restart(self) -> None:
        self.kill()
        self.start()


@dataclass
class Replica(Service):
    database_url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        self.process = serve(self.folder, self.port, self.database_url, env=self.env)
        if wait:
            self.wait()

    def wait(self) -> None:
        assert self.process is not None
        try:
            ready(self.url, self.process, timeout=START_SECONDS)
        except AssertionError as exc:  # why it did not come up: its log's end
            raise AssertionError(f"{exc}\n{log_of(self.process)[-4000:]}") from None

    def log(self) -> str:
        """Every log of this replica's starts, oldest first (tests/servers.py names them)."""
        files = sorted(self.folder.glob(f"serve-{self.port}-*.log"))
        return "".join(f.read_text(errors="replace") for f in files)

    def restart(self) -> None:
        self.kill()
        self.start()


NGINX_CONF = """\
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format upstreamlog '$status $request_method $uri upstream=$upstream_addr '
                           'upstream_status=$upstream_status time=$request_time';
    access_log {prefix}/nginx-access.log upstreamlog;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 2m;
    client_body_buffer_size 2m;

    upstream torchquiz {{
        least_conn;
{servers}
        keepalive 64;
        # Below uvicorn's keep-alive (5 s): else nginx sends a request down a connection the
        # replica has just closed, and a POST, which it may not send twice, gets a 502.
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://torchquiz;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A replica that refuses or drops the connection: the request goes to the other,
            # for the methods that may be sent twice (GET, HEAD...); a POST is the client's to
            # send again, with its Idempotency-Key.
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            # Server-sent events go out as they come (the lab's epochs).
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass
class Proxy(Service):
    upstreams: list[int] = field(default_factory=list)
    user: User = field(default_factory=unprivileged_user)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;"
            for port in self.upstreams
        )
        conf = self.folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=self.folder, port=self.port, servers=servers))
        command = [NGINX, "-p", str(self.folder), "-c", str(conf), "-e", str(self.folder / "e.log")]
        self._popen([*command, "-g", "daemon off;"], cwd=self.folder, **self.user.popen_options())
        healthy = lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200  # noqa: E731
        _until(healthy, f"nginx ({self.log()[-2000:]})", self.process)

    def error_log(self) -> str:
        path = self.folder / "nginx-error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> str:
        path = self.folder / "nginx-access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Cluster:
    folder: Path
    postgres: Postgres
    redis: Redis
    runners: list[Runner]
    replicas: list[Replica]
    proxy: Proxy
    queue: bool

    @property
    def url(self) -> str:
        return self.proxy.url

    def logs(self) -> str:
        """Every process's log, for a failing test's message."""
        parts = [f"== {s.name} ==\n{s.log()[-4000:]}" for s in self.services()]
        return "\n".join(parts)

    def wait_ready(self) -> None:
        """Until every replica's /readyz is 200 again (after a part came back: a replica
        asks its runner every few seconds)."""
        for replica in self.replicas:
            replica.wait()

    def services(self) -> list[Service]:
        return [self.postgres, self.redis, *self.runners, *self.replicas, self.proxy]


def runner_settings(uid_base: int, **overrides: object) -> RunnerSettings:
    """A runner for many simulated learners: rate limits as shipped (each learner has its own
    address, see bench/scale_out.py), lab queue and workers small as on a 2-core machine."""
    return RunnerSettings(uid_base=uid_base, playground_workers=1, **overrides)  # type: ignore[arg-type]


@contextlib.contextmanager
def cluster(
    *,
    replicas: int = 2,
    runners: int = 1,
    queue: bool = False,
    uid_base: int = 64000,
    runner_overrides: dict[str, object] | None = None,
    replica_env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """Everything started, ready, and torn down afterwards (the folder removed). `uid_base`:
    the first uid of the runners' sandboxed processes, apart from every other runner's on the
    machine (each runner here takes 100 from it)."""
    user = unprivileged_user()
    folder = Path(tempfile.mkdtemp(prefix="torchquiz-cluster-", dir="/tmp"))
    folder.chmod(0o755)
    started: list[Service] = []
    try:

        def place(name: str) -> Path:
            path = folder / name
            path.mkdir()
            if os.geteuid() == 0:
                os.chown(path, user.uid, user.gid)
            return path

        postgres = Postgres("postgres", place("postgres"), free_port(), user=user)
        started.append(postgres)
        postgres.init()
        redis = Redis("redis", place("redis"), free_port())
        started.append(redis)
        redis.start()
        overrides = runner_overrides or {}
        runner_list = [
            Runner(
                f"runner{i}",
                place(f"runner{i}"),
                free_port(),
                settings=runner_settings(uid_base + 100 * i, **overrides),
                queue=redis.url if queue else None,
            )
            for i in range(runners)
        ]
        started.extend(runner_list)
        for runner in runner_list:
            runner.start()
        runner_url = redis.url if queue else runner_list[0].url
        env = {
            "TORCHQUIZ_REDIS_URL": redis.url,
            "TORCHQUIZ_TRUSTED_PROXIES": "127.0.0.1",
            "TORCHQUIZ_RUNNER_URL": runner_url,
            **(replica_env or {}),
        }
        replica_list = [
            Replica(f"app{i}", place(f"app{i}"), free_port(), database_url=postgres.url, env=env)
            for i in range(replicas)
        ]
        started.extend(replica_list)
        for replica in replica_list:
            replica.start(wait=False)  # at once: start-up is safe with any number of them
        for replica in replica_list:
            replica.wait()
        proxy = Proxy(
            "proxy",
            place("proxy"),
            free_port(),
            upstreams=[r.port for r in replica_list],
            user=user,
        )
        started.append(proxy)
        proxy.start()
        yield Cluster(folder, postgres, redis, runner_list, replica_list, proxy, queue)
    finally:
        for service in reversed(started):  # each one, whatever stopping another raised
            try:
                service.stop()
            except Exception:  # the rest must still stop
                if service.process is not None:
                    service.process.kill()
        shutil.rmtree(folder, ignore_errors=True)
