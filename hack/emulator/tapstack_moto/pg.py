"""SQL against the emulator's PostgreSQL servers through ``psql``.

Gap: moto's RDS instances and DMS tasks have no database behind them, and the
emulator may not bring Python packages of its own (no psycopg2 here). Every SQL
statement the emulator runs (creating databases, preparing target tables,
publications and subscriptions, statistics, validation) goes through this one
wrapper of a ``psql`` subprocess: password in the environment, no psqlrc, stop
at the first error, unaligned tuples-only output split on separators that
cannot occur in a value (NUL between records, 0x1f between fields), and a
timeout on both the subprocess and each statement, so no call can hang.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from typing import Sequence

# NUL cannot occur in PostgreSQL text, so records split cleanly; 0x1f (unit
# separator) only occurs in values nobody writes into payment tables.
_RECORD_SEP = "\0"
_FIELD_SEP = "\x1f"
DEFAULT_TIMEOUT = 15.0


class PgError(Exception):
    """A psql call failed; the message is psql's own (its stderr)."""


@dataclass(frozen=True)
class Conn:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    sslmode: str = "prefer"
    # The server's unix socket directory, for the emulator's own frequent
    # calls on a server it runs: no TLS handshake and no scram per call.
    socket: str = ""

    def dsn(self) -> str:
        """A libpq connection string (for CREATE SUBSCRIPTION ... CONNECTION)."""
        parts = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
            "sslmode": self.sslmode,
        }
        return " ".join(f"{k}={_dsn_value(v)}" for k, v in parts.items())

    def to(self, dbname: str) -> "Conn":
        return replace(self, dbname=dbname)


def _dsn_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings is on)."""
    return "'" + value.replace("'", "''") + "'"


def qualified(schema: str, table: str) -> str:
    return f"{ident(schema)}.{ident(table)}"


def psql_binary() -> str:
    return shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def _env(conn: Conn, timeout: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        {
            "PGPASSWORD": conn.password,
            "PGSSLMODE": conn.sslmode,
            "PGCONNECT_TIMEOUT": str(max(2, int(min(timeout, 10)))),
            # The server ends a statement before the subprocess timeout fires,
            # so a slow statement is an error message, not a killed psql.
            "PGOPTIONS": f"-c statement_timeout={int(timeout * 1000 * 0.9)} -c lock_timeout={int(timeout * 1000 * 0.5)}",
            "PGAPPNAME": "tapstack-emulator",
        }
    )
    return env


def _run(conn: Conn, args: Sequence[str], stdin: str | None, timeout: float) -> str:
    cmd = [
        psql_binary(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
        "-F", _FIELD_SEP, "-0",
        "-h", conn.socket or conn.host, "-p", str(conn.port), "-U", conn.user, "-d", conn.dbname,
        *args,
    ]
    try:
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True,
            env=_env(conn, timeout), timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        raise PgError(f"{conn.host}:{conn.port}/{conn.dbname}: no answer within {timeout:g}s") from err
    if done.returncode != 0:
        message = done.stderr.strip() or f"psql exited with {done.returncode}"
        raise PgError(message.removeprefix("psql: ").replace("\n", " "))
    return done.stdout


def query(conn: Conn, sql: str, timeout: float = DEFAULT_TIMEOUT) -> list[list[str]]:
    """Rows of one statement, every value as text (NULL as "")."""
    out = _run(conn, ["-c", sql], None, timeout)
    records = out.split(_RECORD_SEP)
    if records and records[-1].strip() == "":
        records.pop()
    return [r.lstrip("\n").split(_FIELD_SEP) for r in records]


def value(conn: Conn, sql: str, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The first value of the first row, or None without rows."""
    rows = query(conn, sql, timeout)
    return rows[0][0] if rows and rows[0] else None


def execute(conn: Conn, script: str, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Run a script of statements (from stdin, so several may be given)."""
    _run(conn, ["-f", "-"], script, timeout)
