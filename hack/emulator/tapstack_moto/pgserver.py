"""Real PostgreSQL servers behind the emulator's RDS instances.

Gap: a moto RDS instance is a record; nothing listens at its endpoint, so no
SQL step of the operator (preflight, fence, watermark, sequences) and no DMS
replication can run against it. Here each PostgreSQL instance gets its own
PostgreSQL 15 cluster: ``initdb`` into a data directory under one temporary
root of the emulator process, its own loopback address and a free port on it,
the instance's master user (scram-sha-256) as superuser, its DBName, TLS with a
self-signed certificate for its address, and the settings its parameter group maps to (``rds.logical_replication`` ->
``wal_level=logical``, ``rds.force_ssl`` -> hostssl-only pg_hba, any real
PostgreSQL GUC passed through, RDS's PG14 defaults otherwise).

The servers run in the emulator's own process group (started as ``postgres``
directly, not through ``pg_ctl``, which would detach them), so the Go wrapper's
group kill reaches them too; ``stop_all`` (on exit) stops them and removes the
root. Every subprocess has a timeout, and a server that does not come up is a
``ServerError`` naming the instance and what failed.

Addresses: real RDS gives every instance its own host name, and the cutover's
DNS record says which database it points at by naming one. Here every server
gets its own address in 127.0.0.0/8 (Linux routes the whole block to the
loopback interface without configuration), handed out in order from 127.0.0.2
(127.0.0.1 stays the emulator's HTTP address) and never twice by one emulator
process, so an address names one instance for the whole run, even after the
instance is gone. The server listens on that address only; Endpoint.Address,
the attached secret's host, the emulator's own TCP connections and the
subscriptions the emulated DMS creates all use it. A client connecting to
127.0.0.N may come from 127.0.0.1 or from 127.0.0.N depending on the kernel, so
pg_hba admits 127.0.0.0/8. The TLS certificate names the address (CN and
subjectAltName IP), so sslmode=verify-full against it works with the
certificate as root. Ports are unique within the process too, whatever the
address (``by_address`` resolves "localhost" by port alone).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from . import pg

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 5
BIN_DIR = "/usr/lib/postgresql/15/bin"

# RDS's defaults for PostgreSQL 14 where they differ from PostgreSQL's.
RDS_DEFAULTS = {
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "100",
    "wal_level": "replica",
}
# Local speed and what a subscriber needs to report its position quickly
# (validation waits for the target to apply past a source position).
LOCAL_SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    "ssl": "on",
    "ssl_cert_file": "'server.crt'",
    "ssl_key_file": "'server.key'",
    "wal_receiver_status_interval": "1",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %a '",
}
# GUCs the emulator owns: a parameter group cannot move the server away from
# where the emulator and its clients find it.
RESERVED = {
    "port", "listen_addresses", "unix_socket_directories", "data_directory",
    "hba_file", "ident_file", "config_file", "ssl", "ssl_cert_file",
    "ssl_key_file", "ssl_ca_file", "external_pid_file",
}
STATIC_RDS_PARAMETERS = {"rds.logical_replication"}


class ServerError(Exception):
    """A server could not be created, started or stopped."""


def binary(name: str) -> str:
    return shutil.which(name) or os.path.join(BIN_DIR, name)


# --- Who runs the servers, where they live -----------------------------------

_lock = threading.RLock()
_root: str | None = None
_certs: dict[str, tuple[str, str]] = {}
_gucs: dict[str, str] | None = None
_servers: dict[tuple[str, str, str], "Server"] = {}
_ports_taken: set[int] = set()
# The loopback addresses handed out, in order; the next is 127.0.0.<2 + n>.
_FIRST_ADDRESS = int(ipaddress.IPv4Address("127.0.0.2"))
_LAST_ADDRESS = int(ipaddress.IPv4Address("127.255.255.254"))
_next_address = _FIRST_ADDRESS


def _run_as() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root; then it runs as TAPSTACK_PG_USER."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(os.environ.get("TAPSTACK_PG_USER", "postgres"))
    return entry.pw_uid, entry.pw_gid


def _subprocess_user() -> dict[str, Any]:
    ids = _run_as()
    return {} if ids is None else {"user": ids[0], "group": ids[1], "extra_groups": []}


def _own(path: str) -> None:
    ids = _run_as()
    if ids is not None:
        os.chown(path, *ids)


def root() -> str:
    """The emulator's temporary root for all data directories."""
    global _root
    with _lock:
        if _root is None:
            given = os.environ.get("TAPSTACK_PG_ROOT")
            if given:
                os.makedirs(given, exist_ok=True)
                _root = given
            else:
                _root = tempfile.mkdtemp(prefix="tapstack-pg-")
            # The server user must reach its own directory below it.
            os.chmod(_root, 0o711)
        return _root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _check(cmd: list[str], what: str, timeout: float, **kwargs: Any) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=_env(), **kwargs)
    except subprocess.TimeoutExpired as err:
        raise ServerError(f"{what}: no result within {timeout:g}s") from err
    except OSError as err:
        raise ServerError(f"{what}: {err}") from err
    if done.returncode != 0:
        raise ServerError(f"{what}: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def gucs() -> dict[str, str]:
    """Every GUC of this PostgreSQL with its context ("postmaster" = static)."""
    global _gucs
    with _lock:
        if _gucs is None:
            out = _check([binary("postgres"), "--describe-config"], "postgres --describe-config",
                         30, **_subprocess_user())
            _gucs = {}
            for line in out.splitlines():
                parts = line.split("\t")
                if len(parts) > 1:
                    _gucs[parts[0]] = parts[1]
        return _gucs


def is_static(parameter: str) -> bool:
    """Whether changing the parameter needs a reboot (RDS "static")."""
    return parameter in STATIC_RDS_PARAMETERS or gucs().get(parameter) == "postmaster"


def _certificate(address: str) -> tuple[str, str]:
    """A self-signed certificate (and key) for one server address."""
    with _lock:
        if address not in _certs:
            if not shutil.which("openssl"):
                raise ServerError("openssl not found: needed for the servers' TLS certificate")
            base = os.path.join(root(), "server-" + address)
            crt, key = base + ".crt", base + ".key"
            _check(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "3650", "-subj", f"/CN={address}",
                    "-addext", f"subjectAltName=IP:{address}", "-keyout", key, "-out", crt],
                   "openssl req", 30)
            _certs[address] = crt, key
        return _certs[address]


def allocate_address() -> str:
    """The next loopback address nobody in this process had, checked bindable."""
    global _next_address
    with _lock:
        while True:
            if _next_address > _LAST_ADDRESS:
                raise ServerError("no loopback address left in 127.0.0.0/8")
            address = str(ipaddress.IPv4Address(_next_address))
            _next_address += 1
            # .0 and .255 look like network and broadcast addresses to people
            # and some tools; skip them.
            if address.endswith((".0", ".255")):
                continue
            break
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
    except OSError as err:
        raise ServerError(
            f"cannot bind {address}: {err} (every server listens on its own address in "
            "127.0.0.0/8; on systems that only configure 127.0.0.1, add the others to "
            "the loopback interface)") from err
    return address


def free_port(address: str) -> int:
    """A port nobody listens on now at address (probe by binding), not handed
    out before in this process (at any address)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
            port = s.getsockname()[1]
        with _lock:
            if port not in _ports_taken:
                _ports_taken.add(port)
                return port
    raise ServerError(f"no free port on {address}")


def is_loopback(host: str) -> bool:
    """Whether host is an IPv4 address in 127.0.0.0/8."""
    try:
        return ipaddress.IPv4Address(host) in _LOOPBACK
    except ValueError:
        return False


_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


# --- Settings ---------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What a server boots with: GUCs and whether TLS is forced."""

    gucs: dict[str, str]
    force_ssl: bool

    @property
    def wal_level(self) -> str:
        return self.gucs.get("wal_level", "replica")


def settings_for(group_parameters: dict[str, str] | None) -> Settings:
    """A parameter group's values -> server settings (None: RDS defaults only)."""
    params = dict(group_parameters or {})
    values = dict(RDS_DEFAULTS)
    known = gucs()
    for name, value in params.items():
        if name in known and name not in RESERVED:
            values[name] = str(value)
    if params.get("rds.logical_replication") == "1":
        values["wal_level"] = "logical"
    return Settings(values, params.get("rds.force_ssl") == "1")


def _conf_value(value: str) -> str:
    if value.startswith("'") and value.endswith("'") and len(value) > 1:
        return value
    return "'" + value.replace("'", "''") + "'"


# --- One server ---------------------------------------------------------------

@dataclass
class Server:
    key: tuple[str, str, str]  # account, region, DBInstanceIdentifier
    user: str
    password: str
    dbname: str | None
    # The loopback address the server listens on (allocate_address), for its life.
    address: str = ""
    directory: str = ""
    port: int = 0
    booted: Settings | None = None
    proc: subprocess.Popen | None = None
    started_in: float = 0.0
    _log_offset: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def ident(self) -> str:
        return self.key[2]

    @property
    def data_dir(self) -> str:
        return os.path.join(self.directory, "data")

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, "postgres.log")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def conn(self, dbname: str | None = None) -> pg.Conn:
        """The master user's connection, over TLS like every RDS client."""
        return pg.Conn(self.address, self.port, self.user, self.password,
                       dbname or self.dbname or "postgres", "require")

    def local(self, conn: pg.Conn) -> pg.Conn:
        """conn through this server's unix socket (same user and database)."""
        return replace(conn, socket=self.data_dir)

    def info(self) -> dict[str, Any]:
        return {
            "dbInstanceIdentifier": self.ident,
            "host": self.address,
            "port": self.port,
            "masterUsername": self.user,
            "dbname": self.dbname or "postgres",
            "dataDir": self.data_dir,
            "walLevel": self.booted.wal_level if self.booted else "",
            "forceSsl": bool(self.booted and self.booted.force_ssl),
            "running": self.running,
            "logFile": self.log_path,
            "startupSeconds": round(self.started_in, 3),
        }

    # -- creation ----------------------------------------------------------

    def initdb(self) -> None:
        self.directory = tempfile.mkdtemp(prefix=_safe(self.ident) + "-", dir=root())
        _own(self.directory)
        pwfile = os.path.join(self.directory, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chmod(pwfile, 0o600)
        _own(pwfile)
        try:
            _check([binary("initdb"), "-N", "-D", self.data_dir, "-U", self.user,
                    f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"],
                   f"DB instance {self.ident}: initdb", 120, **_subprocess_user())
        finally:
            os.unlink(pwfile)
        crt, key = _certificate(self.address)
        for src, name in ((crt, "server.crt"), (key, "server.key")):
            dest = os.path.join(self.data_dir, name)
            shutil.copyfile(src, dest)
            os.chmod(dest, 0o600)
            _own(dest)
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\ninclude 'tapstack.conf'\n")

    def _write_config(self, settings: Settings) -> None:
        lines = [f"{k} = {v}" for k, v in LOCAL_SETTINGS.items()]
        lines.append(f"listen_addresses = {_conf_value(self.address)}")
        lines.append(f"unix_socket_directories = {_conf_value(self.data_dir)}")
        lines += [f"{k} = {_conf_value(v)}" for k, v in settings.gucs.items()]
        _write_owned(os.path.join(self.data_dir, "tapstack.conf"), "\n".join(lines) + "\n")
        # local: the socket lives in the data directory, which only the
        # server's user (and root) can enter; the emulator's own calls use it.
        # Clients of 127.0.0.N come from 127.0.0.1 or 127.0.0.N: the whole block.
        hba = ["local all all trust",
               "hostssl all all 127.0.0.0/8 scram-sha-256",
               "hostssl replication all 127.0.0.0/8 scram-sha-256"]
        if not settings.force_ssl:
            hba += ["host all all 127.0.0.0/8 scram-sha-256",
                    "host replication all 127.0.0.0/8 scram-sha-256"]
        _write_owned(os.path.join(self.data_dir, "pg_hba.conf"), "\n".join(hba) + "\n")

    # -- start / stop --------------------------------------------------------

    def start(self, settings: Settings) -> None:
        """Start with these settings; on a port clash retry on other ports."""
        with self._lock:
            began = time.monotonic()
            self._write_config(settings)
            last = ""
            for attempt in range(PORT_ATTEMPTS):
                port = self.port if (attempt == 0 and self.port) else free_port(self.address)
                outcome = self._start_once(port)
                if outcome is None:
                    self.port, self.booted = port, settings
                    self.started_in = time.monotonic() - began
                    return
                last = outcome
                if "already in use" not in outcome and "could not create any TCP/IP sockets" not in outcome:
                    raise ServerError(f"DB instance {self.ident}: PostgreSQL did not start: {outcome}")
            raise ServerError(
                f"DB instance {self.ident}: PostgreSQL did not start: port clash on "
                f"{PORT_ATTEMPTS} ports, last: {last}")

    def _start_once(self, port: int) -> str | None:
        """None when the server is ready, else what its log says went wrong."""
        log = open(self.log_path, "ab")
        self._log_offset = log.tell()
        try:
            self.proc = subprocess.Popen(
                [binary("postgres"), "-D", self.data_dir, "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                # HOME: libpq in the server (a subscription's connection) looks
                # for client certificates under ~/.postgresql - not root's.
                env={**_env(), "HOME": self.directory}, **_subprocess_user())
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self._log_errors() or f"postgres exited with {self.proc.returncode}"
            if self._ready():
                return None
            time.sleep(0.02)
        self._kill()
        return f"not ready within {START_TIMEOUT:g}s; {self._log_errors()}"

    def _ready(self) -> bool:
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                lines = f.read().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0] == str(self.proc.pid) and lines[7].strip() == "ready"

    def _log_errors(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        wanted = [l for l in text.splitlines() if "FATAL" in l or "ERROR" in l or "LOG:  invalid" in l]
        return " ".join(_strip_prefix(l) for l in (wanted or text.splitlines()[-3:]))

    def stop(self, immediate: bool = False) -> None:
        """Fast shutdown (immediate: no checkpoint, for a server about to go)."""
        with self._lock:
            if not self.running:
                self.proc = None
                return
            self.proc.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
            self.proc = None

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def restart(self, settings: Settings) -> None:
        with self._lock:
            self.stop()
            self.start(settings)

    def reload(self, settings: Settings) -> None:
        """Dynamic parameters and pg_hba now; static ones wait for a restart."""
        with self._lock:
            self._write_config(settings)
            if self.running:
                self.proc.send_signal(signal.SIGHUP)
                self.booted = Settings({**self.booted.gucs}, settings.force_ssl) if self.booted else settings

    def destroy(self) -> None:
        with self._lock:
            self.stop(immediate=True)
            if self.directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self) -> None:
        if not self.dbname or self.dbname == "postgres":
            return
        try:
            pg.execute(self.conn("postgres"), f"CREATE DATABASE {pg.ident(self.dbname)} OWNER {pg.ident(self.user)};", 30)
        except pg.PgError as err:
            raise ServerError(f"DB instance {self.ident}: CREATE DATABASE {self.dbname}: {err}") from err


def _strip_prefix(line: str) -> str:
    # "2024-01-01 00:00:00.000 UTC [123] FATAL:  ..." -> "FATAL:  ..."
    for marker in ("FATAL:", "ERROR:", "LOG:", "PANIC:"):
        i = line.find(marker)
        if i >= 0:
            return line[i:]
    return line


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "db"


def _write_owned(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
    _own(path)


# --- The registry -------------------------------------------------------------

def create(key: tuple[str, str, str], user: str | None, password: str | None,
           dbname: str | None, settings: Settings) -> Server:
    """initdb, start and create the database; on failure nothing stays behind."""
    ident = key[2]
    if not user:
        raise ServerError(f"DB instance {ident}: no MasterUsername")
    if not password:
        raise ServerError(f"DB instance {ident}: no MasterUserPassword (resolved from its secret)")
    server = Server(key, user, password, dbname, address=allocate_address())
    try:
        began = time.monotonic()
        server.initdb()
        server.start(settings)
        server.create_database()
        server.started_in = time.monotonic() - began
    except Exception:
        server.destroy()
        raise
    with _lock:
        _servers[key] = server
    return server


def by_address(host: str, port: int) -> Server | None:
    """The running server listening at host:port, if the emulator runs it.

    host is a server's own address (any in 127.0.0.0/8: a server at 127.0.0.3
    is not found through 127.0.0.1, which does not reach it) or "localhost",
    which names a server by its port alone (ports are unique within the
    emulator, whatever the address)."""
    host = (host or "").strip().lower().rstrip(".")
    if host == "localhost":
        def match(s: Server) -> bool:
            return True
    elif is_loopback(host):
        wanted = ipaddress.IPv4Address(host)

        def match(s: Server) -> bool:
            return ipaddress.IPv4Address(s.address) == wanted
    else:
        return None
    with _lock:
        return next((s for s in _servers.values() if s.port == port and s.running and match(s)), None)


def get(key: tuple[str, str, str]) -> Server | None:
    with _lock:
        return _servers.get(key)


def remove(key: tuple[str, str, str]) -> None:
    with _lock:
        server = _servers.pop(key, None)
    if server is not None:
        server.destroy()


def servers() -> list[Server]:
    with _lock:
        return list(_servers.values())


def stop_all() -> None:
    """Stop every server and remove the root (emulator exit)."""
    global _root
    with _lock:
        all_servers = list(_servers.values())
        _servers.clear()
    for server in all_servers:
        try:
            server.destroy()
        except Exception:
            pass
    with _lock:
        if _root is not None:
            shutil.rmtree(_root, ignore_errors=True)
            _root = None


atexit.register(stop_all)
