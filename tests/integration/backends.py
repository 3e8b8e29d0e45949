"""Real PostgreSQL and Redis servers for the distributed runs of the suite.

With CONCERTD_TEST_ENGINE=postgres, redis or distributed, the first server a test starts brings up one PostgreSQL
15 and one Redis on free loopback ports with temporary data directories (as the `postgres`
user when running as root: initdb refuses root). Every concertd test server then gets a fresh
database and a fresh Redis database number, so tests stay as isolated as on SQLite.
"""
import atexit
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ENGINE = os.environ.get("CONCERTD_TEST_ENGINE", "embedded")
PG_BIN = "/usr/lib/postgresql/15/bin"
REDIS_DATABASES = 4096


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, deadline_s: float, what: str, proc=None):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {deadline_s}s")


class Backends:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="concertd-backends-", dir="/tmp")
        self.as_root = os.geteuid() == 0
        self.pg_port = _free_port()
        self.redis_port = _free_port()
        self.redis = None
        self._db_numbers = itertools.count(1)
        self._redis_numbers = itertools.count(1)

    def _pg(self, *cmd, **kw):
        full = list(cmd)
        if self.as_root:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, check=True, capture_output=True, text=True, **kw)

    def start(self):
        data = os.path.join(self.dir, "pg")
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._pg(f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg(f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "pg.log"), "-w", "-t", "60", "-o",
                 f"-p {self.pg_port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=500 "
                 f"-c shared_buffers=128MB", "start")
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--databases", str(REDIS_DATABASES), "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _wait_port(self.redis_port, 20, "redis-server", self.redis)
        return self

    def stop(self):
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        data = os.path.join(self.dir, "pg")
        if os.path.isdir(data):
            try:
                self._pg(f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- Redis outages, for the Redis coordinator's tests (the same port, an empty Redis) ----
    def stop_redis(self):
        """Kills redis-server (no persistence: its data is gone)."""
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()

    def start_redis(self):
        """Starts an empty redis-server again on the same port."""
        assert self.redis is None or self.redis.poll() is not None, "redis-server already running"
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--databases", str(REDIS_DATABASES), "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _wait_port(self.redis_port, 20, "redis-server", self.redis)

    def pause_redis(self):
        """SIGSTOP: connections stay open but nothing is answered (commands time out)."""
        os.kill(self.redis.pid, signal.SIGSTOP)

    def resume_redis(self):
        os.kill(self.redis.pid, signal.SIGCONT)

    def redis_cli(self, url: str, *args) -> str:
        """Runs one command on the database number of `url` (redis://host:port/N)."""
        number = url.rsplit("/", 1)[1] if url.count("/") >= 3 else "0"
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "-n", number,
                              *[str(a) for a in args]], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    # -- outages (additions for tests/integration/test_postgres_store.py) --------------------------
    def stop_postgres(self, mode="fast"):
        """Stops this PostgreSQL (its data stays): every connection to it is closed."""
        self._pg(f"{PG_BIN}/pg_ctl", "-D", os.path.join(self.dir, "pg"), "-m", mode, "-w", "-t", "60", "stop")

    def start_postgres(self):
        """Starts this PostgreSQL again on the same port and data directory."""
        data = os.path.join(self.dir, "pg")
        self._pg(f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "pg.log"), "-w", "-t", "60", "-o",
                 f"-p {self.pg_port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=500 "
                 f"-c shared_buffers=128MB", "start")

    def psql(self, database: str, query: str) -> list[list[str]]:
        """Rows of `query` on `database` (unaligned, tab-separated), for checks behind the API."""
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-h", "127.0.0.1", "-p", str(self.pg_port),
                              "-U", "postgres", "-d", database, "-c", query],
                             check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def base_uri(self, database="postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(self._db_numbers)}"
        subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres",
                        "-d", "postgres", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
        return self.base_uri(name)

    def new_redis(self) -> str:
        number = next(self._redis_numbers)
        if number >= REDIS_DATABASES:
            raise RuntimeError("out of Redis database numbers")
        return f"redis://127.0.0.1:{self.redis_port}/{number}"


_shared = None


def shared() -> Backends:
    """The session's PostgreSQL and Redis, started on first use and stopped at exit."""
    global _shared
    if _shared is None:
        _shared = Backends().start()
        atexit.register(_shared.stop)
    return _shared


def uses_postgres() -> bool:
    return ENGINE in ("postgres", "distributed")


def uses_redis() -> bool:
    return ENGINE in ("redis", "distributed")


def engine_args() -> list:
    """Flags that put a new test server on fresh backends: CONCERTD_TEST_ENGINE is embedded
    (none), postgres (store only), redis (coordinator only) or distributed (both)."""
    if ENGINE not in ("embedded", "postgres", "redis", "distributed"):
        raise RuntimeError(f"unknown CONCERTD_TEST_ENGINE {ENGINE!r}")
    args = []
    if uses_postgres():
        args += ["--postgres", shared().new_database()]
    if uses_redis():
        args += ["--redis", shared().new_redis()]
    return args
