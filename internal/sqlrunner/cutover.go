package sqlrunner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

var _ Runner = (*Direct)(nil)

// pollInterval paces the loops that run inside the write freeze: every
// millisecond spent between a change and its observation is a millisecond the
// payment service cannot write.
const pollInterval = time.Millisecond

// eagerPolling is how long the drain's waits poll back to back before they
// settle to pollInterval: what they wait for (a payment's commit, a
// signalled backend's exit) usually takes well under a millisecond, and a
// timer cannot wait less than about one.
const eagerPolling = 5 * time.Millisecond

// exitWait bounds the wait for terminated sessions to exit. They exit within
// a millisecond or so; one that takes seconds is stuck somewhere the freeze
// should not wait on blindly.
const exitWait = 5 * time.Second

// EnsureAppRole creates or updates the application's role and its grants.
// The secret is read afresh: applying its current password is the point.
func (d *Direct) EnsureAppRole(ctx context.Context, db Database, role AppRole) error {
	app, _, err := d.credentials(ctx, db.Side, role.SecretARN, true)
	if err != nil {
		return err
	}
	if role.Name == "" || app.Username != role.Name {
		return fmt.Errorf("%s database: application role %q: its secret %s names user %q", db.Side, role.Name, role.SecretARN, app.Username)
	}
	if role.Schema == "" {
		return fmt.Errorf("%s database: application role %s: no schema", db.Side, role.Name)
	}
	password, err := rolePassword(app.Password)
	if err != nil {
		return fmt.Errorf("%s database: application role %s: password from secret %s: %w", db.Side, role.Name, role.SecretARN, err)
	}
	return d.withSession(ctx, db, func(conn *pgx.Conn) error {
		if conn.Config().User == role.Name {
			return fmt.Errorf("%s database: application role %s is the master user; the service needs a role of its own, which the fence can stop without stopping the operator and DMS", db.Side, role.Name)
		}
		if role.Existing {
			return checkExistingRole(ctx, conn, role)
		}
		if err := ensureLoginRole(ctx, conn, role.Name, password); err != nil {
			return fmt.Errorf("%s database: application role %s: %w", db.Side, role.Name, err)
		}
		if err := grantApp(ctx, conn, role); err != nil {
			return fmt.Errorf("%s database: grants to application role %s: %w", db.Side, role.Name, err)
		}
		return nil
	})
}

// checkExistingRole is EnsureAppRole for the production role of an existing
// source: it must exist, log in, be no superuser (the fence could not stop
// it) and write every mapped table; nothing about it is changed.
func checkExistingRole(ctx context.Context, conn *pgx.Conn, role AppRole) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("source database: application role %s (spec.source.applicationSecretARN): %s", role.Name, fmt.Sprintf(format, args...))
	}
	var super, login bool
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, role.Name).Scan(&super, &login)
	if errors.Is(err, pgx.ErrNoRows) {
		return fail("no such role on the existing source; the current service must write as it")
	}
	if err != nil {
		return fail("reading it: %v", err)
	}
	if super {
		return fail("a superuser, which the fence (default_transaction_read_only) cannot stop")
	}
	if !login {
		return fail("cannot log in, so it is not the role the current service writes as")
	}
	var cannot []string
	for _, t := range role.Tables {
		var ok bool
		qualified := pgx.Identifier{role.Schema, t}.Sanitize()
		if err := conn.QueryRow(ctx, `SELECT has_table_privilege($1, $2, 'INSERT') AND has_table_privilege($1, $2, 'UPDATE')`, role.Name, qualified).Scan(&ok); err != nil {
			return fail("checking its privileges on %s: %v", qualified, err)
		}
		if !ok {
			cannot = append(cannot, qualified)
		}
	}
	if len(cannot) > 0 {
		return fail("cannot insert into or update %s; the operator does not change grants on an existing source", strings.Join(cannot, ", "))
	}
	return nil
}

func ensureLoginRole(ctx context.Context, conn *pgx.Conn, name, password string) error {
	ident := pgx.Identifier{name}.Sanitize()
	var super, repl, createRole, createDB, login bool
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolreplication, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, name).
		Scan(&super, &repl, &createRole, &createDB, &login)
	if errors.Is(err, pgx.ErrNoRows) {
		// The attributes left out are all off by default.
		_, err = conn.Exec(ctx, "CREATE ROLE "+ident+" LOGIN PASSWORD "+password)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42710" { // duplicate_object: created concurrently
			return err
		}
		super, repl, createRole, createDB, login = false, false, false, false, false
	} else if err != nil {
		return err
	}
	// Only the attributes that are wrong are named: PostgreSQL 15 refuses
	// even NOSUPERUSER and NOREPLICATION from a non-superuser (the RDS master
	// user), while a role that already lacks them needs no change.
	attrs := []string{"LOGIN"}
	for _, a := range []struct {
		on     bool
		clause string
	}{{super, "NOSUPERUSER"}, {repl, "NOREPLICATION"}, {createRole, "NOCREATEROLE"}, {createDB, "NOCREATEDB"}} {
		if a.on {
			attrs = append(attrs, a.clause)
		}
	}
	_, err = conn.Exec(ctx, "ALTER ROLE "+ident+" WITH "+strings.Join(attrs, " ")+" PASSWORD "+password)
	return err
}

// tableSequencesSQL selects (schema, name) of the sequences the tables t of
// the WHERE clause that follows use: those owned by their serial or identity
// columns, and any their column defaults call.
const tableSequencesSQL = `
	SELECT DISTINCT sn.nspname, s.relname
	FROM pg_catalog.pg_class t
	JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
	JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND (
	       (d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid AND d.deptype IN ('a', 'i'))
	    OR (d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid IN (SELECT oid FROM pg_catalog.pg_attrdef WHERE adrelid = t.oid)))
	JOIN pg_catalog.pg_class s ON s.oid = CASE WHEN d.classid = 'pg_catalog.pg_class'::regclass THEN d.objid ELSE d.refobjid END AND s.relkind = 'S'
	JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace`

func grantApp(ctx context.Context, conn *pgx.Conn, role AppRole) error {
	ident := pgx.Identifier{role.Name}.Sanitize()
	var seqs []string
	if len(role.Tables) > 0 {
		// The sequences a table uses: those owned by its serial or identity
		// columns, and any its column defaults call.
		rows, err := conn.Query(ctx, tableSequencesSQL+`
			WHERE tn.nspname = $1 AND t.relname = ANY($2)
			ORDER BY 1, 2`, role.Schema, role.Tables)
		if err != nil {
			return fmt.Errorf("listing the sequences of the tables: %w", err)
		}
		seqs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var schema, name string
			err := row.Scan(&schema, &name)
			return pgx.Identifier{schema, name}.Sanitize(), err
		})
		if err != nil {
			return fmt.Errorf("listing the sequences of the tables: %w", err)
		}
	}
	stmts := []string{"GRANT USAGE ON SCHEMA " + pgx.Identifier{role.Schema}.Sanitize() + " TO " + ident}
	if len(role.Tables) > 0 {
		tables := make([]string, len(role.Tables))
		for i, t := range role.Tables {
			tables[i] = pgx.Identifier{role.Schema, t}.Sanitize()
		}
		stmts = append(stmts, "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "+strings.Join(tables, ", ")+" TO "+ident)
	}
	if len(seqs) > 0 {
		stmts = append(stmts, "GRANT USAGE, SELECT, UPDATE ON SEQUENCE "+strings.Join(seqs, ", ")+" TO "+ident)
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
}

// EnsureWatermarkTable creates the watermark table if it is not there.
func (d *Direct) EnsureWatermarkTable(ctx context.Context, db Database, schema string) error {
	table := pgx.Identifier{schema, naming.WatermarkTable}.Sanitize()
	return d.withSession(ctx, db, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())"); err != nil {
			return fmt.Errorf("%s database: creating %s: %w", db.Side, table, err)
		}
		return nil
	})
}

// FenceState reads the role's own settings (setdatabase = 0): a setting for
// one database only, or on the database, is not the fence.
func (d *Direct) FenceState(ctx context.Context, db Database, role string) (bool, error) {
	var on bool
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		var config []string
		err := conn.QueryRow(ctx, `
			SELECT coalesce(s.setconfig, '{}')
			FROM pg_catalog.pg_roles r LEFT JOIN pg_catalog.pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0
			WHERE r.rolname = $1`, role).Scan(&config)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s database: fence on role %s: the role does not exist", db.Side, role)
		}
		if err != nil {
			return fmt.Errorf("%s database: fence on role %s: %w", db.Side, role, err)
		}
		for _, kv := range config {
			k, v, _ := strings.Cut(kv, "=")
			if strings.EqualFold(k, "default_transaction_read_only") {
				on = pgBool(v)
			}
		}
		return nil
	})
	return on, err
}

// pgBool reads a boolean setting as PostgreSQL does (any unique prefix of
// true/false/yes/no/on/off, or 1/0).
func pgBool(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return false
	}
	for _, word := range []string{"true", "yes"} {
		if strings.HasPrefix(word, v) {
			return true
		}
	}
	return v == "1" || (len(v) >= 2 && strings.HasPrefix("on", v))
}

// SetFence sets or resets the role's fence. Either statement leaves the same
// state when repeated.
func (d *Direct) SetFence(ctx context.Context, db Database, role string, on bool) error {
	stmt := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " RESET default_transaction_read_only"
	if on {
		stmt = "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " SET default_transaction_read_only = on"
	}
	return d.withSession(ctx, db, func(conn *pgx.Conn) error {
		if err := notMaster(conn, db, role); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s database: fence on role %s: %w", db.Side, role, err)
		}
		return nil
	})
}

// notMaster refuses to fence or drain the operator's own user: the watermark
// write and DMS would stop with the service.
func notMaster(conn *pgx.Conn, db Database, role string) error {
	if conn.Config().User == role {
		return fmt.Errorf("%s database: role %s is the master user the operator and DMS work as, not the application's role", db.Side, role)
	}
	return nil
}

// ConfirmFence always opens a new session: the fence applies only to sessions
// that start after it, so only a new one can show it.
func (d *Direct) ConfirmFence(ctx context.Context, db Database, appSecretARN string) (bool, error) {
	conn, err := d.dial(ctx, db, appSecretARN)
	if err != nil {
		return false, fmt.Errorf("confirming the fence: %w", err)
	}
	defer closeConn(conn)
	// Outside a transaction block each statement is a transaction of its
	// own, started with the session's default: what the service's next
	// transaction would get.
	var readOnly string
	if err := conn.QueryRow(ctx, `SELECT current_setting('transaction_read_only')`).Scan(&readOnly); err != nil {
		return false, fmt.Errorf("%s database: confirming the fence as %s: %w", db.Side, conn.Config().User, err)
	}
	return readOnly == "on", nil
}

// DrainSessions waits for the role's open writes, then ends its sessions.
// Only transactions open when the wait begins are waited for: sessions from
// before the fence can keep starting new ones, and those are what the
// termination is for.
func (d *Direct) DrainSessions(ctx context.Context, db Database, role string, grace time.Duration) (DrainResult, error) {
	var res DrainResult
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		res = DrainResult{}
		if err := notMaster(conn, db, role); err != nil {
			return err
		}
		wrap := func(what string, err error) error {
			return fmt.Errorf("%s database: draining role %s: %s: %w", db.Side, role, what, err)
		}
		open := map[int32]string{}
		rows, err := conn.Query(ctx, `
			SELECT pid, backend_xid::text FROM pg_catalog.pg_stat_activity
			WHERE usename = $1 AND backend_type = 'client backend' AND backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid()`, role)
		if err == nil {
			err = collectXIDs(rows, open)
		}
		if err != nil {
			return wrap("listing open writes", err)
		}
		res.OpenWritesWaited = len(open)
		start := time.Now()
		deadline := start.Add(grace)
		for len(open) > 0 && time.Now().Before(deadline) {
			if err := pace(ctx, start, deadline); err != nil {
				return wrap("waiting for open writes", err)
			}
			pids := make([]int32, 0, len(open))
			for pid := range open {
				pids = append(pids, pid)
			}
			still := map[int32]string{}
			rows, err := conn.Query(ctx, `SELECT pid, backend_xid::text FROM pg_catalog.pg_stat_get_activity(NULL) WHERE pid = ANY($1) AND backend_xid IS NOT NULL`,
				pgx.QueryExecModeCacheStatement, pids)
			if err == nil {
				err = collectXIDs(rows, still)
			}
			if err != nil {
				return wrap("waiting for open writes", err)
			}
			// A session whose xid changed has finished the transaction that
			// was waited for and is on another one.
			for pid, xid := range open {
				if still[pid] != xid {
					delete(open, pid)
				}
			}
		}
		if res.OpenWritesWaited > 0 {
			res.Waited = time.Since(start)
		}
		// Materialized, so that pg_terminate_backend is evaluated only for
		// the rows the filter kept, whatever order the planner likes.
		rows, err = conn.Query(ctx, `
			WITH victims AS MATERIALIZED (
			  SELECT pid FROM pg_catalog.pg_stat_activity
			  WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid())
			SELECT pid FROM victims WHERE pg_catalog.pg_terminate_backend(pid)`, role)
		if err != nil {
			return wrap("terminating sessions", err)
		}
		terminated, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return wrap("terminating sessions", err)
		}
		res.SessionsTerminated = len(terminated)
		// A terminated session may still be inside a commit when the signal
		// lands. The watermark written next must follow every commit of the
		// role, so wait until the sessions are gone.
		start = time.Now()
		for left := terminated; len(left) > 0; {
			if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(pid), '{}') FROM pg_catalog.pg_stat_get_activity(NULL) WHERE pid = ANY($1)`,
				pgx.QueryExecModeCacheStatement, left).Scan(&left); err != nil {
				return wrap("waiting for terminated sessions to exit", err)
			}
			if len(left) == 0 {
				break
			}
			if time.Since(start) > exitWait {
				return wrap("waiting for terminated sessions to exit", fmt.Errorf("backends %v still there after %s", left, exitWait))
			}
			if err := pace(ctx, start, start.Add(exitWait)); err != nil {
				return wrap("waiting for terminated sessions to exit", err)
			}
		}
		return nil
	})
	return res, err
}

func collectXIDs(rows pgx.Rows, into map[int32]string) error {
	var pid int32
	var xid string
	_, err := pgx.ForEachRow(rows, []any{&pid, &xid}, func() error {
		into[pid] = xid
		return nil
	})
	return err
}

// pace returns at once during the first eagerPolling of a wait that began
// at start, and after pollInterval (or at deadline) later on.
func pace(ctx context.Context, start, deadline time.Time) error {
	if time.Since(start) < eagerPolling {
		return ctx.Err()
	}
	return sleep(ctx, min(pollInterval, time.Until(deadline)))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WriteWatermark inserts the watermark row; its commit follows every payment
// committed before it, so its arrival on the other side proves theirs.
func (d *Direct) WriteWatermark(ctx context.Context, db Database, schema, id string) error {
	table := pgx.Identifier{schema, naming.WatermarkTable}.Sanitize()
	return d.withSession(ctx, db, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", id); err != nil {
			return fmt.Errorf("%s database: writing watermark %s into %s: %w", db.Side, id, table, err)
		}
		return nil
	})
}

// WaitWatermark polls on one session with a prepared statement: one round
// trip a poll, planned once.
func (d *Direct) WaitWatermark(ctx context.Context, db Database, schema, id string, timeout time.Duration) (bool, error) {
	table := pgx.Identifier{schema, naming.WatermarkTable}.Sanitize()
	query := "SELECT EXISTS (SELECT 1 FROM " + table + " WHERE id = $1)"
	var found bool
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		deadline := time.Now().Add(timeout)
		for {
			if err := conn.QueryRow(ctx, query, pgx.QueryExecModeCacheStatement, id).Scan(&found); err != nil {
				return fmt.Errorf("%s database: waiting for watermark %s in %s: %w", db.Side, id, table, err)
			}
			left := time.Until(deadline)
			if found || left <= 0 {
				return nil
			}
			if err := sleep(ctx, min(pollInterval, left)); err != nil {
				return fmt.Errorf("%s database: waiting for watermark %s in %s: %w", db.Side, id, table, err)
			}
		}
	})
	return found, err
}

// SyncSequences moves each sequence of schema on to past from's value. It
// reads to's sequences and sets them in one statement, so the value compared
// is the value at the moment of setting.
func (d *Direct) SyncSequences(ctx context.Context, from, to Database, schema string, margin int64) (int, error) {
	if margin < 0 {
		return 0, fmt.Errorf("syncing sequences: negative margin %d", margin)
	}
	// The two databases are read at the same time: each round trip here is
	// write-unavailable time. pg_sequences' last_value is the value written
	// to disk, at or past the last one handed out (sessions cache ahead);
	// NULL when none was.
	issued := map[string]int64{}
	read := make(chan error, 1)
	go func() {
		read <- d.withSession(ctx, from, func(conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT sequencename, last_value FROM pg_catalog.pg_sequences WHERE schemaname = $1 AND last_value IS NOT NULL`, schema)
			if err != nil {
				return fmt.Errorf("%s database: reading the sequences of schema %s: %w", from.Side, schema, err)
			}
			var name string
			var value int64
			_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
				issued[name] = value
				return nil
			})
			if err != nil {
				return fmt.Errorf("%s database: reading the sequences of schema %s: %w", from.Side, schema, err)
			}
			return nil
		})
	}()
	// Once: withSession may run the function below a second time.
	sourceRead := sync.OnceValue(func() error { return <-read })
	var readErr error
	moved := 0
	err := d.withSession(ctx, to, func(conn *pgx.Conn) error {
		wrap := func(err error) error {
			return fmt.Errorf("%s database: setting the sequences of schema %s past the %s's: %w", to.Side, schema, from.Side, err)
		}
		type seq struct {
			oid       uint32
			name      string
			increment int64
		}
		rows, err := conn.Query(ctx, `
			SELECT c.oid, c.relname, s.seqincrement FROM pg_catalog.pg_sequence s
			JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 ORDER BY c.relname`, schema)
		var listed []seq
		if err == nil {
			listed, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (seq, error) {
				var s seq
				err := row.Scan(&s.oid, &s.name, &s.increment)
				return s, err
			})
		}
		if readErr = sourceRead(); readErr != nil {
			return nil
		}
		if err != nil {
			return wrap(err)
		}
		var branches []string
		var args []any
		for _, s := range listed {
			v, ok := issued[s.name]
			if !ok {
				continue
			}
			want, err := past(v, margin, s.increment)
			if err != nil {
				return wrap(fmt.Errorf("sequence %s: %w", s.name, err))
			}
			n := len(args)
			args = append(args, int64(s.oid), want, s.increment)
			branches = append(branches, fmt.Sprintf("SELECT $%d::oid AS seq, $%d::int8 AS want, $%d::int8 AS inc, last_value, is_called FROM %s",
				n+1, n+2, n+3, pgx.Identifier{schema, s.name}.Sanitize()))
		}
		if len(branches) == 0 {
			return nil
		}
		// Next value now and after setval(want, true), compared as numeric
		// so that a sequence near its bound cannot overflow the comparison.
		rows, err = conn.Query(ctx, `
			SELECT pg_catalog.setval(seq::regclass, want, true) FROM (`+strings.Join(branches, "\n UNION ALL ")+`) cur
			WHERE sign(inc) * (want::numeric + inc) > sign(inc) * (last_value::numeric + CASE WHEN is_called THEN inc ELSE 0 END)`, args...)
		if err != nil {
			return wrap(err)
		}
		set, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return wrap(err)
		}
		moved = len(set)
		return nil
	})
	if err == nil {
		err = readErr
	}
	return moved, err
}

// past is the value margin beyond v in the sequence's direction.
func past(v, margin, increment int64) (int64, error) {
	if increment < 0 {
		if v < math.MinInt64+margin {
			return 0, fmt.Errorf("%d minus the margin %d is out of range", v, margin)
		}
		return v - margin, nil
	}
	if v > math.MaxInt64-margin {
		return 0, fmt.Errorf("%d plus the margin %d is out of range", v, margin)
	}
	return v + margin, nil
}

// CreateSlot creates the logical slot, or reports the one a previous attempt
// created.
func (d *Direct) CreateSlot(ctx context.Context, db Database, name, plugin string) (string, error) {
	var lsn string
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		wrap := func(err error) error {
			return fmt.Errorf("%s database: replication slot %s: %w", db.Side, name, err)
		}
		existing := func() (bool, error) {
			var kind, have string
			var at *string
			err := conn.QueryRow(ctx, `SELECT slot_type, coalesce(plugin, ''), coalesce(confirmed_flush_lsn, restart_lsn)::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, name).
				Scan(&kind, &have, &at)
			if errors.Is(err, pgx.ErrNoRows) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if kind != "logical" || have != plugin {
				return false, fmt.Errorf("exists as a %s slot with plugin %q, not a logical slot with %q", kind, have, plugin)
			}
			if at == nil {
				return false, errors.New("exists but has no LSN yet")
			}
			lsn = *at
			return true, nil
		}
		if ok, err := existing(); ok || err != nil {
			return wrapIf(err, wrap)
		}
		err := conn.QueryRow(ctx, `SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot($1, $2)`, name, plugin).Scan(&lsn)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: created concurrently
			ok, err := existing()
			if err == nil && !ok {
				err = errors.New("created concurrently and dropped again")
			}
			return wrapIf(err, wrap)
		}
		return wrapIf(err, wrap)
	})
	return lsn, err
}

// MarkFlipPoint returns the WAL insert position of db now, once the slot
// exists (made here if it is missing). Called after the watermark arrived,
// every change the forward path applied is before it and every write db
// takes after the flip is at or after it: the reverse task reads the slot
// from there.
func (d *Direct) MarkFlipPoint(ctx context.Context, db Database, slot, plugin string) (string, error) {
	var lsn string
	read := func() (found bool, err error) {
		err = d.withSession(ctx, db, func(conn *pgx.Conn) error {
			var kind, have string
			err := conn.QueryRow(ctx, `SELECT slot_type, coalesce(plugin, ''), pg_catalog.pg_current_wal_insert_lsn()::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
				pgx.QueryExecModeCacheStatement, slot).Scan(&kind, &have, &lsn)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // the session stays sound
			}
			if err != nil {
				return err
			}
			found = true
			if kind != "logical" || have != plugin {
				return fmt.Errorf("exists as a %s slot with plugin %q, not a logical slot with %q", kind, have, plugin)
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("%s database: marking the flip point on replication slot %s: %w", db.Side, slot, err)
		}
		return found, nil
	}
	if ok, err := read(); ok || err != nil {
		return lsn, err
	}
	if _, err := d.CreateSlot(ctx, db, slot, plugin); err != nil {
		return "", err
	}
	if ok, err := read(); !ok && err == nil {
		return "", fmt.Errorf("%s database: replication slot %s: dropped again as soon as it was created", db.Side, slot)
	} else if err != nil {
		return "", err
	}
	return lsn, nil
}

func wrapIf(err error, wrap func(error) error) error {
	if err == nil {
		return nil
	}
	return wrap(err)
}

// DropSlot drops the slot if it is there. An active slot (one a task reads
// from) is refused by PostgreSQL, and the error says so.
func (d *Direct) DropSlot(ctx context.Context, db Database, name string) error {
	return d.withSession(ctx, db, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, name)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object: dropped concurrently
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s database: dropping replication slot %s: %w", db.Side, name, err)
		}
		return nil
	})
}

// SlotExists looks the slot up by name, whatever its kind.
func (d *Direct) SlotExists(ctx context.Context, db Database, name string) (bool, error) {
	var exists bool
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`, name).Scan(&exists); err != nil {
			return fmt.Errorf("%s database: looking up replication slot %s: %w", db.Side, name, err)
		}
		return nil
	})
	return exists, err
}

// LongestWriteTransaction looks at the whole server, not just db's database:
// a logical slot's consistent point waits for every transaction running on
// the instance.
func (d *Direct) LongestWriteTransaction(ctx context.Context, db Database) (time.Duration, error) {
	var micros int64
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, `
			SELECT coalesce((extract(epoch FROM max(pg_catalog.clock_timestamp() - xact_start)) * 1000000)::int8, 0)
			FROM pg_catalog.pg_stat_activity
			WHERE backend_xid IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()`).Scan(&micros)
		if err != nil {
			return fmt.Errorf("%s database: reading the longest write transaction: %w", db.Side, err)
		}
		return nil
	})
	return time.Duration(max(micros, 0)) * time.Microsecond, err
}

// LogicalSlots reads pg_replication_slots for db's database.
func (d *Direct) LogicalSlots(ctx context.Context, db Database) ([]Slot, error) {
	var slots []Slot
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT slot_name, active, coalesce(wal_status, ''),
			       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::int8
			FROM pg_catalog.pg_replication_slots
			WHERE slot_type = 'logical' AND database = pg_catalog.current_database()
			ORDER BY slot_name`)
		if err != nil {
			return fmt.Errorf("%s database: reading the replication slots: %w", db.Side, err)
		}
		for rows.Next() {
			var s Slot
			if err := rows.Scan(&s.Name, &s.Active, &s.WALStatus, &s.RetainedBytes); err != nil {
				return fmt.Errorf("%s database: reading the replication slots: %w", db.Side, err)
			}
			slots = append(slots, s)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s database: reading the replication slots: %w", db.Side, err)
		}
		return nil
	})
	return slots, err
}

// rolePassword is the PASSWORD clause's literal. A password PostgreSQL would
// hash unchanged (printable ASCII, which SASLprep leaves alone) is sent as
// its SCRAM verifier, so the plain password never reaches the server's
// statement log; any other is sent as is, for the server to normalise the
// way libpq's clients will.
func rolePassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty")
	}
	if !slices.ContainsFunc([]byte(password), func(b byte) bool { return b < 0x20 || b > 0x7e }) {
		v, err := scramVerifier(password)
		if err != nil {
			return "", err
		}
		return quoteLiteral(v)
	}
	return quoteLiteral(password)
}

// quoteLiteral writes an escape-string literal, which means the same whatever
// standard_conforming_strings is.
func quoteLiteral(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", errors.New("contains a NUL character")
	}
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'", nil
}
