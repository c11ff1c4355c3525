"""A DMS replication task as PostgreSQL logical replication between two servers.

Gap: moto's DMS task moves no data; its statistics are made up. Here a task
that runs is a publication on the source and a subscription on the target
(pgserver.py's servers, reached through the endpoints' secrets):

- the table mappings' selection rules resolve against the source's real
  tables (``%`` is the only wildcard); an include rule that matches nothing
  fails the task with a message naming it;
- target tables are prepared per ``FullLoadSettings.TargetTablePrepMode``
  (DO_NOTHING keeps existing tables and creates missing ones, DROP_AND_CREATE
  re-creates all; a created table has the columns, their types and the primary
  key only, as DMS creates it; TRUNCATE_BEFORE_LOAD truncates);
- limited LOB mode truncates LOB values over ``LobMaxSize`` KB on the target
  (an ``ENABLE ALWAYS`` trigger that acts only for replication writes),
  ``SupportLobs: false`` nulls them, full LOB mode keeps them;
- copy_data is the full load (not for ``cdc``), streaming the CDC; stop
  disables the subscription, resume enables it, reload re-creates it;
- ``sample`` reads the copy state (``pg_subscription_rel``), the applied
  changes (``pg_stat_user_tables`` of the target against a baseline) and the
  lag (``pg_stat_replication`` on the source);
- ``validate`` compares the rows of both sides per table (bucketed md5 by
  primary key, drilling into differing buckets); a difference is pending until
  the target has applied past the source position it was first seen at with
  the source row unchanged, then it is a failure.

CDC from an existing slot (the cutover's reverse path): a ``cdc`` task whose
source endpoint names ``PostgreSqlSettings.SlotName`` reads from that slot, as
DMS does with a native CDC start point. The operator creates the slot
(``test_decoding``) on the database the writes move to, just before the flip,
and starts the task with ``CdcStartPosition`` = the slot's LSN:

- the slot must exist, be logical and belong to the endpoint's database; else
  the task fails with a message naming it (DMS checks this too; there is no
  fallback to a slot of its own);
- pgoutput cannot read a ``test_decoding`` slot, so the task reads a copy made
  at the same position (``pg_copy_logical_replication_slot(slot, <task>,
  false, 'pgoutput')``), advanced to ``CdcStartPosition`` when that is further
  on (a slot cannot go back: an earlier position starts where the slot is),
  through a subscription with ``create_slot = false, copy_data = false``:
  nothing written after the slot is lost, nothing before it is replayed.
  The operator's slot stays; while the task runs it is advanced to what the
  subscription applied, as DMS's reading moves it (but, unlike the slot DMS
  streams from, it is not held active: dropping it does not stop the task);
  the copy goes with the task;
- pgoutput looks up its publications, and their tables, in the catalog as of
  each change it decodes: a publication (or a table added to one) after the
  slot was created makes decoding fail ("publication ... does not exist") or
  skip those changes. So the publications such a task reads,
  ``tapstack_dms_cdc`` (tables with a primary key, every change) and
  ``tapstack_dms_cdc_nopk`` (inserts and truncates, as for the forward path),
  are made long before any slot: every task's set-up adds its tables, once its
  target tables are prepared, to those publications on its TARGET database
  (created there when missing; never dropped or re-created, so a slot made
  after it can always read them). The forward task starts before the cutover
  creates the slot, and the reverse task has the same mappings, so its tables
  are published in time. Not chosen: a ``FOR ALL TABLES`` publication on every
  server, which makes UPDATE and DELETE fail on any table without a replica
  identity on every emulated database (what the ``_nopk`` split avoids) and
  publishes tables outside the mappings; nor creating it with the reverse
  task, which the stack creates before the operator made any target table (and,
  through CloudFormation, maybe before its secret names the host). A start
  checks that each of the task's tables was published before the slot (the
  membership row's xid is older than the slot's ``catalog_xmin``) and fails
  naming the others, rather than losing their changes. The publications hold
  every table any task replicated into that database: one outside this task's
  mappings would be replicated too, and stops the apply if the target lacks it;
- ``CdcStartPosition`` without a ``SlotName``: the task's own slot, created at
  the start; the position is not honoured (changes before the start are not
  read); ``CdcStartTime`` is not honoured either. A full-load task ignores
  ``SlotName`` (its own slot, consistent with its copy);
- loops: PostgreSQL 15 subscriptions have no ``origin = none`` (PG16), so the
  reverse task's writes into the source are decoded by the forward task's slot
  there like any other change: re-enabling (resume-processing) the forward task
  after the reverse task applied changes sends them back to the target. The
  forward task must stay stopped while the reverse task runs, as the cutover
  does. Stop and resume of a task reading a slot disable and enable its
  subscription like any other; its statistics and CDC latency are measured the
  same way (the lag between the slot's server and its subscriber).

All SQL goes through pg.py (psql with timeouts).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import pg, pgserver

BUCKETS = 64
_LOB_TYPES = {"text", "bytea", "json", "jsonb", "xml", "character varying"}
# What a task reading an existing slot subscribes to (see the module docstring).
CDC_PUBLICATION = "tapstack_dms_cdc"
CDC_PUBLICATION_NOPK = "tapstack_dms_cdc_nopk"
_LSN_TEXT = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")


def is_lsn(text: str) -> bool:
    """Whether text is a PostgreSQL LSN ("16/B374D848"), a CdcStartPosition."""
    return _LSN_TEXT.fullmatch(text or "") is not None


class ReplicationError(Exception):
    """What makes the task fail; the message is its LastFailureMessage."""


# --- Table mappings --------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    name: str
    schema: str
    table: str
    include: bool

    def matches(self, schema: str, table: str) -> bool:
        return _pattern(self.schema).fullmatch(schema) is not None and \
            _pattern(self.table).fullmatch(table) is not None

    def describe(self) -> str:
        return f"selection rule '{self.name}' (schema '{self.schema}', table '{self.table}')"


def _pattern(text: str) -> re.Pattern[str]:
    # DMS: % is the only wildcard; _ and everything else is literal.
    return re.compile(".*".join(re.escape(part) for part in text.split("%")), re.DOTALL)


def selection_rules(table_mappings: str | None) -> list[Rule]:
    try:
        rules = json.loads(table_mappings or "{}").get("rules", [])
    except (TypeError, ValueError) as err:
        raise ReplicationError(f"Invalid table mappings: {err}") from err
    out = []
    for rule in rules:
        if rule.get("rule-type") != "selection":
            continue
        loc = rule.get("object-locator") or {}
        out.append(Rule(str(rule.get("rule-name") or rule.get("rule-id") or "?"),
                        loc.get("schema-name", "%"), loc.get("table-name", "%"),
                        rule.get("rule-action", "include") != "exclude"))
    return out


def resolve_tables(source: pg.Conn, table_mappings: str | None) -> list[tuple[str, str]]:
    """The source tables the selection rules select, in rule then name order."""
    rules = selection_rules(table_mappings)
    if not any(r.include for r in rules):
        raise ReplicationError("No tables were found at task initialization: the table mappings include no table")
    existing = [(r[0], r[1]) for r in pg.query(source, """
        select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and not c.relispartition
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
        order by 1, 2""")]
    chosen: list[tuple[str, str]] = []
    for rule in rules:
        if not rule.include:
            continue
        matched = [t for t in existing if rule.matches(*t)]
        if not matched:
            raise ReplicationError(
                f"No tables were found at task initialization for {rule.describe()}: "
                "no source table matches the pattern")
        chosen += [t for t in matched if t not in chosen]
    excluded = [r for r in rules if not r.include]
    return [t for t in chosen if not any(r.matches(*t) for r in excluded)]


# --- Task settings ---------------------------------------------------------------

@dataclass(frozen=True)
class LobSettings:
    support: bool = True
    full: bool = False
    max_kb: int = 32


def task_settings(raw: str | None) -> dict[str, Any]:
    try:
        return json.loads(raw or "{}") or {}
    except (TypeError, ValueError):
        return {}


def lob_settings(settings: dict[str, Any]) -> LobSettings:
    meta = settings.get("TargetMetadata") or {}
    return LobSettings(bool(meta.get("SupportLobs", True)), bool(meta.get("FullLobMode", False)),
                       int(meta.get("LobMaxSize", 32) or 32))


def prep_mode(settings: dict[str, Any]) -> str:
    return (settings.get("FullLoadSettings") or {}).get("TargetTablePrepMode", "DROP_AND_CREATE")


def validation_enabled(settings: dict[str, Any]) -> bool:
    return bool((settings.get("ValidationSettings") or {}).get("EnableValidation"))


# --- Table shapes -------------------------------------------------------------------

@dataclass
class Column:
    name: str
    type: str
    not_null: bool

    @property
    def is_lob(self) -> bool:
        return self.type in _LOB_TYPES


@dataclass
class Shape:
    columns: list[Column]
    primary_key: list[str]


def table_shape(conn: pg.Conn, schema: str, table: str) -> Shape:
    rel = pg.literal(pg.qualified(schema, table))
    cols = [Column(r[0], r[1], r[2] == "t") for r in pg.query(conn, f"""
        select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute
        where attrelid = {rel}::regclass and attnum > 0 and not attisdropped order by attnum""")]
    pk = [r[0] for r in pg.query(conn, f"""
        select a.attname from pg_index i join pg_attribute a
          on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = {rel}::regclass and i.indisprimary
        order by array_position(i.indkey::int2[], a.attnum)""")]
    return Shape(cols, pk)


def create_table_sql(schema: str, table: str, shape: Shape) -> str:
    """The table as DMS creates it: columns, types and the primary key only."""
    cols = [f"{pg.ident(c.name)} {c.type}{' NOT NULL' if c.not_null else ''}" for c in shape.columns]
    if shape.primary_key:
        cols.append("PRIMARY KEY (" + ", ".join(pg.ident(c) for c in shape.primary_key) + ")")
    return (f"CREATE SCHEMA IF NOT EXISTS {pg.ident(schema)};\n"
            f"CREATE TABLE {pg.qualified(schema, table)} ({', '.join(cols)});\n")


def lob_trigger_sql(schema: str, table: str, shape: Shape, lobs: LobSettings) -> str:
    """A target trigger doing to LOB columns what DMS's LOB mode does; "" if none."""
    lob_cols = [c for c in shape.columns if c.is_lob]
    if not lob_cols or (lobs.support and lobs.full):
        return ""
    limit = lobs.max_kb * 1024
    steps = []
    for c in lob_cols:
        col = "NEW." + pg.ident(c.name)
        if not lobs.support:
            steps.append(f"{col} := NULL;")
            continue
        cut = {
            "bytea": f"substring({col} from 1 for {limit})",
            "json": f"to_json(left({col}::text, {limit}))",
            "jsonb": f"to_jsonb(left({col}::text, {limit}))",
            "xml": "NULL",
        }.get(c.type, f"left({col}, {limit})")
        size = f"octet_length({col})" if c.type in ("bytea", "text", "character varying") else f"octet_length({col}::text)"
        steps.append(f"IF {col} IS NOT NULL AND {size} > {limit} THEN {col} := {cut}; END IF;")
    fn = pg.qualified(schema, f"tapstack_dms_lob_{table}"[:63])
    trig = pg.ident("tapstack_dms_lob")
    body = "\n    ".join(steps)
    # Only replication writes (session_replication_role = replica): the
    # application's own writes to the target after a cutover stay whole.
    return f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $tapstack$
BEGIN
  IF current_setting('session_replication_role') = 'replica' THEN
    {body}
  END IF;
  RETURN NEW;
END $tapstack$;
DROP TRIGGER IF EXISTS {trig} ON {pg.qualified(schema, table)};
CREATE TRIGGER {trig} BEFORE INSERT OR UPDATE ON {pg.qualified(schema, table)}
  FOR EACH ROW EXECUTE FUNCTION {fn}();
ALTER TABLE {pg.qualified(schema, table)} ENABLE ALWAYS TRIGGER {trig};
"""


def drop_lob_trigger_sql(schema: str, table: str) -> str:
    fn = pg.qualified(schema, f"tapstack_dms_lob_{table}"[:63])
    return (f"DROP TRIGGER IF EXISTS {pg.ident('tapstack_dms_lob')} ON {pg.qualified(schema, table)};\n"
            f"DROP FUNCTION IF EXISTS {fn}();\n")


# --- Samples --------------------------------------------------------------------------

@dataclass
class TableSample:
    state: str = "Before load"  # DMS TableState
    full_load_rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    load_started: float | None = None
    load_finished: float | None = None


@dataclass
class Sample:
    at: float = 0.0
    tables: dict[tuple[str, str], TableSample] = field(default_factory=dict)
    lag_source: float = 0.0
    lag_target: float = 0.0
    error: str = ""


@dataclass
class Validation:
    state: str = "Pending validation"
    pending: int = 0
    failed: int = 0
    # key -> (first seen source LSN, source row hash then)
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    failed_keys: set[str] = field(default_factory=set)


def _lsn(text: str | None) -> int:
    if not text:
        return 0
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


# --- The replication of one task ------------------------------------------------------

class Replication:
    """Publication + subscription for one task; thread-safe."""

    def __init__(self, resource_id: str, source: pg.Conn, target: pg.Conn,
                 tables: list[tuple[str, str]], migration_type: str, settings: dict[str, Any],
                 slot: str = "", start_position: str = "") -> None:
        self.name = "dms_" + re.sub(r"[^a-z0-9_]", "_", resource_id.lower())
        self.source, self.target = source, target
        self.tables = tables
        self.migration_type = migration_type
        self.settings = settings
        # The source endpoint's SlotName: a CDC-only task reads from it.
        self.slot = slot if migration_type == "cdc" else ""
        self.start_position = start_position if is_lsn(start_position) else ""
        self.cdc_publications: list[str] = []
        self.shapes: dict[tuple[str, str], Shape] = {}
        self.baseline: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.sample_ = Sample()
        self.validations: dict[tuple[str, str], Validation] = {}
        self.started_at = time.time()
        self._lock = threading.RLock()

    # -- set-up ------------------------------------------------------------

    def setup(self, reload: bool = False) -> None:
        """Prepare the target tables, publish (or check the endpoint's slot),
        subscribe (copy unless cdc)."""
        with self._lock:
            self.teardown_subscription()
            for t in self.tables:
                self.shapes[t] = table_shape(self.source, *t)
            if self.slot:  # before anything changes, as DMS checks it first
                self.cdc_publications = self._check_slot()
            self._prepare_targets(reload)
            self._publish_for_cdc()
            if not self.slot:
                self._publish()
            self.baseline = self._target_counters()
            self.started_at = time.time()
            self.sample_ = Sample(at=time.time(), tables={t: TableSample() for t in self.tables})
            self.validations = {}
            self._subscribe()

    def _prepare_targets(self, reload: bool) -> None:
        mode = prep_mode(self.settings)
        lobs = lob_settings(self.settings)
        script = []
        existing = {(r[0], r[1]) for r in pg.query(self.target, """
            select schemaname, tablename from pg_tables""")}
        for (schema, table), shape in self.shapes.items():
            exists = (schema, table) in existing
            if mode == "DROP_AND_CREATE":
                script.append(f"DROP TABLE IF EXISTS {pg.qualified(schema, table)} CASCADE;\n")
                script.append(create_table_sql(schema, table, shape))
            elif not exists:
                script.append(create_table_sql(schema, table, shape))
            elif mode == "TRUNCATE_BEFORE_LOAD" or (reload and self.migration_type != "cdc"):
                script.append(f"TRUNCATE {pg.qualified(schema, table)};\n")
            script.append(lob_trigger_sql(schema, table, shape, lobs) or drop_lob_trigger_sql(schema, table))
        try:
            pg.execute(self.target, "".join(script), 60)
        except pg.PgError as err:
            raise ReplicationError(f"Preparing the target tables ({mode}) failed: {err}") from err

    def _publish(self) -> None:
        with_pk = [t for t in self.tables if self.shapes[t].primary_key]
        without = [t for t in self.tables if not self.shapes[t].primary_key]
        script = [f"DROP PUBLICATION IF EXISTS {pg.ident(self.name)};",
                  f"DROP PUBLICATION IF EXISTS {pg.ident(self.name + '_nopk')};"]
        if with_pk:
            script.append(f"CREATE PUBLICATION {pg.ident(self.name)} FOR TABLE "
                          + ", ".join(pg.qualified(*t) for t in with_pk) + ";")
        if without:
            # Without a key a table has no replica identity; publishing its
            # updates would make them fail on the source. DMS only captures inserts.
            script.append(f"CREATE PUBLICATION {pg.ident(self.name + '_nopk')} FOR TABLE "
                          + ", ".join(pg.qualified(*t) for t in without) + " WITH (publish = 'insert, truncate');")
        pg.execute(self.source, "\n".join(script) + "\n", 30)

    def _publish_for_cdc(self) -> None:
        """Add the task's tables to the CDC publications of its target database
        (see the module docstring); a failure here leaves the task unharmed."""
        if not self.tables:
            return
        wanted = ", ".join(f"({pg.literal(s)}, {pg.literal(t)})" for s, t in self.tables)
        pubs = f"{pg.literal(CDC_PUBLICATION)}, {pg.literal(CDC_PUBLICATION_NOPK)}"
        try:
            rows = pg.query(self.target, f"""
                select n.nspname, c.relname,
                  exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)::text,
                  coalesce((select string_agg(p.pubname, ',') from pg_publication_rel r
                            join pg_publication p on p.oid = r.prpubid
                            where r.prrelid = c.oid and p.pubname in ({pubs})), '')
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p') and (n.nspname, c.relname) in (values {wanted})""")
            script = ["BEGIN;", f"""DO $tapstack$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {pg.literal(CDC_PUBLICATION)}) THEN
    CREATE PUBLICATION {pg.ident(CDC_PUBLICATION)};
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {pg.literal(CDC_PUBLICATION_NOPK)}) THEN
    CREATE PUBLICATION {pg.ident(CDC_PUBLICATION_NOPK)} WITH (publish = 'insert, truncate');
  END IF;
END $tapstack$;"""]
            for schema, table, keyed, member in rows:
                want, other = (CDC_PUBLICATION, CDC_PUBLICATION_NOPK) if keyed == "true" else \
                    (CDC_PUBLICATION_NOPK, CDC_PUBLICATION)
                member_of = member.split(",")
                if other in member_of:
                    script.append(f"ALTER PUBLICATION {pg.ident(other)} DROP TABLE {pg.qualified(schema, table)};")
                if want not in member_of:
                    script.append(f"ALTER PUBLICATION {pg.ident(want)} ADD TABLE {pg.qualified(schema, table)};")
            script.append("COMMIT;")
            pg.execute(self.target, "\n".join(script) + "\n", 30)
        except pg.PgError as err:
            print(f"DMS {self.name}: publishing the target tables for CDC: {err}", file=sys.stderr, flush=True)

    def _check_slot(self) -> list[str]:
        """The CDC publications to read the source endpoint's slot through;
        fails unless the slot exists and every table was published before it."""
        db = self.source.dbname
        slot = pg.literal(self.slot)
        rows = pg.query(self.source, f"""
            select slot_type, coalesce(database, '') from pg_replication_slots where slot_name = {slot}""")
        if not rows:
            raise ReplicationError(
                f"Replication slot '{self.slot}' does not exist in the source database '{db}': the source "
                "endpoint's SlotName must name a logical replication slot that exists when the task starts")
        kind, database = rows[0]
        if kind != "logical" or database != db:
            raise ReplicationError(
                f"Replication slot '{self.slot}' is not a logical replication slot of the source database "
                f"'{db}' (it is a {kind} slot{' of database ' + repr(database) if database else ''})")
        # A membership row older than the slot's catalog_xmin was committed
        # before the slot's consistent point: decoding sees it.
        published: dict[tuple[str, str], str] = {}
        for schema, table, pub, before in pg.query(self.source, f"""
                select n.nspname, c.relname, p.pubname, (age(r.xmin) > age(s.catalog_xmin))::text
                from pg_publication p join pg_publication_rel r on r.prpubid = p.oid
                  join pg_class c on c.oid = r.prrelid join pg_namespace n on n.oid = c.relnamespace
                  join pg_replication_slots s on s.slot_name = {slot}
                where p.pubname in ({pg.literal(CDC_PUBLICATION)}, {pg.literal(CDC_PUBLICATION_NOPK)})"""):
            if before == "true":
                published[(schema, table)] = pub
        missing = [f"{s}.{t}" for s, t in self.tables if (s, t) not in published]
        if missing:
            raise ReplicationError(
                f"Table(s) {', '.join(missing)} were not published in the source database '{db}' when "
                f"replication slot '{self.slot}' was created, so their changes since cannot be read from it "
                f"(the emulated CDC reads the slot through the publication {CDC_PUBLICATION}, which a task "
                "replicating into this database fills when it starts: start it before creating the slot)")
        return sorted({published[t] for t in self.tables})

    def _copy_slot(self) -> None:
        """The task's own pgoutput slot at the position of the endpoint's slot,
        advanced to CdcStartPosition when that is further on."""
        name = pg.literal(self.name)
        try:
            pg.query(self.source, f"""
                select pg_copy_logical_replication_slot({pg.literal(self.slot)}, {name}, false, 'pgoutput')""", 30)
            if self.start_position:
                pos = pg.literal(self.start_position) + "::pg_lsn"
                pg.query(self.source, f"""
                    select pg_replication_slot_advance(slot_name, {pos}) from pg_replication_slots
                    where slot_name = {name} and confirmed_flush_lsn < {pos}""", 60)
        except pg.PgError as err:
            raise ReplicationError(f"Reading replication slot '{self.slot}' failed: {err}") from err

    def _advance_source_slot(self) -> None:
        """Move the endpoint's slot to what the subscription applied (its
        origin's position), as DMS's reading confirms it; best effort."""
        try:
            applied = pg.value(self.target, f"""
                select o.remote_lsn::text from pg_subscription s
                  join pg_replication_origin_status o on o.external_id = 'pg_' || s.oid
                where s.subname = {pg.literal(self.name)}""", 5)
            if not applied or applied == "0/0":
                return
            pos = pg.literal(applied) + "::pg_lsn"
            pg.query(self.source, f"""
                select pg_replication_slot_advance(slot_name, {pos}) from pg_replication_slots
                where slot_name = {pg.literal(self.slot)} and not active and confirmed_flush_lsn < {pos}""", 10)
        except pg.PgError:
            pass  # the slot is in use, gone, or a server is unreachable: next time

    def _publications(self) -> list[str]:
        if self.slot:
            return self.cdc_publications
        pubs = []
        if any(self.shapes[t].primary_key for t in self.tables):
            pubs.append(self.name)
        if any(not self.shapes[t].primary_key for t in self.tables):
            pubs.append(self.name + "_nopk")
        return pubs

    def _subscribe(self) -> None:
        copy = "false" if self.migration_type == "cdc" else "true"
        # The publisher server's own address: the endpoint may name it
        # "localhost", which does not reach a server listening on 127.0.0.N.
        publisher = pgserver.by_address(self.source.host, self.source.port)
        host = publisher.address if publisher is not None else self.source.host
        source = pg.Conn(host, self.source.port, self.source.user,
                         self.source.password, self.source.dbname, "require")
        slot = ""
        if self.slot:
            self._copy_slot()
            slot = "create_slot = false, "
        # synchronous_commit=on: with off (the default) an applied row becomes
        # visible only after the next WAL flush (~600 ms later).
        pg.execute(self.target, f"""
            CREATE SUBSCRIPTION {pg.ident(self.name)} CONNECTION {pg.literal(source.dsn())}
            PUBLICATION {", ".join(pg.ident(p) for p in self._publications())}
            WITH ({slot}copy_data = {copy}, synchronous_commit = 'on', slot_name = {pg.literal(self.name)});
        """, 60)

    # -- stop / resume / teardown --------------------------------------------

    def disable(self) -> None:
        pg.execute(self.target, f"ALTER SUBSCRIPTION {pg.ident(self.name)} DISABLE;\n")

    def enable(self) -> None:
        pg.execute(self.target, f"ALTER SUBSCRIPTION {pg.ident(self.name)} ENABLE;\n")

    def teardown_subscription(self) -> None:
        """Drop the subscription and its slot; never waits on a source that is gone."""
        sub = pg.ident(self.name)
        if self.slot:
            self._advance_source_slot()  # a later start goes on from there
        try:
            exists = pg.value(self.target, f"select count(*) from pg_subscription where subname = {pg.literal(self.name)}")
            if exists and exists != "0":
                pg.execute(self.target, f"ALTER SUBSCRIPTION {sub} DISABLE;\n"
                                        f"ALTER SUBSCRIPTION {sub} SET (slot_name = NONE);\n"
                                        f"DROP SUBSCRIPTION {sub};\n", 20)
        except pg.PgError:
            pass  # the target is gone: nothing left to drop there
        self._drop_slot()

    def _drop_slot(self) -> None:
        slot = pg.literal(self.name)
        for _ in range(20):
            try:
                pg.query(self.source, f"""
                    select pg_terminate_backend(active_pid) from pg_replication_slots
                    where slot_name = {slot} and active_pid is not null""", 5)
                pg.query(self.source, f"""
                    select pg_drop_replication_slot(slot_name) from pg_replication_slots
                    where slot_name = {slot}""", 5)
                return
            except pg.PgError as err:
                if "is active" not in str(err):
                    return  # the source is gone or unreachable
                time.sleep(0.1)

    def teardown(self) -> None:
        with self._lock:
            self.teardown_subscription()
            try:
                pg.execute(self.source, f"DROP PUBLICATION IF EXISTS {pg.ident(self.name)};\n"
                                        f"DROP PUBLICATION IF EXISTS {pg.ident(self.name + '_nopk')};\n", 10)
            except pg.PgError:
                pass
            try:
                pg.execute(self.target, "".join(drop_lob_trigger_sql(*t) for t in self.tables), 10)
            except pg.PgError:
                pass

    # -- sampling ------------------------------------------------------------

    def _target_counters(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        rows = pg.query(self.target, "select schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del from pg_stat_user_tables")
        return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4])) for r in rows}

    def sample(self) -> Sample:
        """Read copy states, applied changes and lag; keep it as the last sample."""
        with self._lock:
            prev = self.sample_
            states, counters, copy_errors = self._target_state()
            now = time.time()
            out = Sample(at=now)
            for t in self.tables:
                before = prev.tables.get(t) or TableSample()
                out.tables[t] = self._table_sample(t, states.get(t), counters.get(t), before, now)
                if copy_errors and out.tables[t].state == "Full load":
                    # The copy of this table failed (e.g. DO_NOTHING into a
                    # table that already holds the rows); the worker retries.
                    out.tables[t].state = "Table error"
            out.lag_source, out.lag_target = self._lag()
            if self.slot:
                self._advance_source_slot()
            self.sample_ = out
            return out

    def _target_state(self) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], tuple[int, int, int]], int]:
        """One call: copy state per table, change counters per table, failed copies."""
        sub = pg.literal(self.name)
        rows = pg.query(self.target, f"""
            select 'state', n.nspname, c.relname, r.srsubstate::text, '', '' from pg_subscription_rel r
              join pg_subscription s on s.oid = r.srsubid join pg_class c on c.oid = r.srrelid
              join pg_namespace n on n.oid = c.relnamespace where s.subname = {sub}
            union all
            select 'count', schemaname, relname, n_tup_ins::text, n_tup_upd::text, n_tup_del::text
              from pg_stat_user_tables
            union all
            select 'errors', '', '', coalesce(sum(sync_error_count), 0)::text, '', ''
              from pg_stat_subscription_stats where subname = {sub}""")
        states: dict[tuple[str, str], str] = {}
        counters: dict[tuple[str, str], tuple[int, int, int]] = {}
        errors = 0
        for kind, schema, table, a, b, c in rows:
            if kind == "state":
                states[(schema, table)] = a
            elif kind == "count":
                counters[(schema, table)] = (int(a), int(b), int(c))
            else:
                errors = int(a or 0)
        return states, counters, errors

    def _table_sample(self, t: tuple[str, str], substate: str | None,
                      counters: tuple[int, int, int] | None, before: TableSample, now: float) -> TableSample:
        ins, upd, dele = counters or (0, 0, 0)
        b_ins, b_upd, b_del = self.baseline.get(t, (0, 0, 0))
        s = TableSample(load_started=before.load_started, load_finished=before.load_finished)
        if substate in ("s", "r"):
            s.state = "Table completed"
            s.load_started = s.load_started or self.started_at
            if before.state != "Table completed":
                # The copy's rows: what the table holds when it is first seen done.
                s.full_load_rows = 0 if self.migration_type == "cdc" else int(
                    pg.value(self.target, f"select count(*) from {pg.qualified(*t)}") or 0)
                s.load_finished = now
            else:
                s.full_load_rows = before.full_load_rows
            s.inserts = max(0, ins - b_ins - s.full_load_rows)
            s.updates, s.deletes = max(0, upd - b_upd), max(0, dele - b_del)
        elif substate in ("d", "f"):
            s.state = "Full load"
            s.load_started = s.load_started or now
            s.full_load_rows = max(0, ins - b_ins)
        elif substate is None and before.state == "Table completed":
            s = before  # e.g. the subscription is gone; keep what was seen
        return s

    def _lag(self) -> tuple[float, float]:
        rows = pg.query(self.source, f"""
            select coalesce(extract(epoch from write_lag), 0), coalesce(extract(epoch from replay_lag), 0)
            from pg_stat_replication where application_name = {pg.literal(self.name)}""", 5)
        if not rows:
            return 0.0, 0.0
        return float(rows[0][0] or 0), float(rows[0][1] or 0)

    # -- validation ----------------------------------------------------------

    def validate(self) -> None:
        """One validation round over every table that finished its copy."""
        with self._lock:
            tables = [t for t, s in self.sample_.tables.items() if s.state == "Table completed"]
        keyed = []
        for t in tables:
            v = self.validations.setdefault(t, Validation())
            shape = self.shapes.get(t)
            if shape is None or not shape.primary_key:
                v.state = "No primary key"
            else:
                keyed.append(t)
        if not keyed:
            return
        # One call per side for all tables; the target first (see _validate_table).
        _, target = self._buckets(self.target, keyed, False)
        _, source = self._buckets(self.source, keyed, True)
        for i, t in enumerate(keyed):
            self._validate_table(t, self.shapes[t], self.validations[t], target.get(i, {}), source.get(i, {}))

    def _applied_lsn(self) -> int:
        rows = pg.query(self.source, f"""
            select coalesce(flush_lsn, '0/0') from pg_stat_replication
            where application_name = {pg.literal(self.name)}""", 5)
        return _lsn(rows[0][0]) if rows else 0

    def _row_sql(self, shape: Shape) -> tuple[str, str]:
        """(key text, row hash) expressions; the source's column order on both sides."""
        key = "row(" + ", ".join(pg.ident(c) for c in shape.primary_key) + ")::text"
        if len(shape.primary_key) == 1:
            key = pg.ident(shape.primary_key[0]) + "::text"
        row = "md5(row(" + ", ".join(pg.ident(c.name) for c in shape.columns) + ")::text)"
        return key, row

    def _buckets(self, conn: pg.Conn, tables: list[tuple[str, str]],
                 with_lsn: bool) -> tuple[int, dict[int, dict[str, str]]]:
        """Per table index: bucket -> "count:md5 of the row hashes in key order"."""
        parts = [f"select -1, {'pg_current_wal_lsn()::text' if with_lsn else chr(39) * 2}, 0::bigint, ''"]
        for i, t in enumerate(tables):
            key, row = self._row_sql(self.shapes[t])
            parts.append(f"""
                select {i}, (hashtext(k) & {BUCKETS - 1})::text, count(*), md5(string_agg(h, '' order by k))
                from (select {key} as k, {row} as h from {pg.qualified(*t)}) x group by 2""")
        rows = pg.query(conn, "\nunion all\n".join(parts), 30)
        at = 0
        out: dict[int, dict[str, str]] = {}
        for idx, bucket, n, digest in rows:
            if idx == "-1":
                at = _lsn(bucket) if with_lsn else 0
            else:
                out.setdefault(int(idx), {})[bucket] = f"{n}:{digest}"
        return at, out

    def _rows(self, conn: pg.Conn, t: tuple[str, str], shape: Shape, buckets: list[str],
              with_lsn: bool) -> tuple[int, dict[str, str]]:
        """key -> row hash of the rows in these buckets (and the WAL position)."""
        key, row = self._row_sql(shape)
        lsn = "pg_current_wal_lsn()::text" if with_lsn else "''"
        rows = pg.query(conn, f"""
            select {lsn}, x.k, x.h from (select 1) one left join (
              select {key} as k, {row} as h from {pg.qualified(*t)}
              where (hashtext({key}) & {BUCKETS - 1}) in ({", ".join(buckets)})) x on true""", 30)
        at = _lsn(rows[0][0]) if rows and with_lsn else 0
        return at, {r[1]: r[2] for r in rows if r[1] != "" or r[2] != ""}

    def _validate_table(self, t: tuple[str, str], shape: Shape, v: Validation,
                        target: dict[str, str], source: dict[str, str]) -> None:
        differing = sorted(b for b in set(target) | set(source) if target.get(b) != source.get(b))
        if not differing:
            v.seen.clear()
            v.failed_keys.clear()
            v.state, v.pending, v.failed = "Validated", 0, 0
            return
        # The applied position first, then the target's rows: they hold at
        # least what was applied up to it; then the source's rows and position.
        applied = self._applied_lsn()
        _, target_rows = self._rows(self.target, t, shape, differing, False)
        at, source_rows = self._rows(self.source, t, shape, differing, True)
        diff = {k for k in set(target_rows) | set(source_rows) if target_rows.get(k) != source_rows.get(k)}
        seen: dict[str, tuple[int, str]] = {}
        failed: set[str] = set()
        for k in diff:
            src = source_rows.get(k, "")
            first = v.seen.get(k)
            if first is None or first[1] != src:
                seen[k] = (at, src)  # new, or the source row changed: pending again
                continue
            seen[k] = first
            # Still different although the target applied past where it was
            # first seen and the source row stayed the same: a real mismatch.
            if applied >= first[0]:
                failed.add(k)
        v.seen, v.failed_keys = seen, failed
        v.failed, v.pending = len(failed), len(seen) - len(failed)
        v.state = "Mismatched records" if failed else "Pending records"
