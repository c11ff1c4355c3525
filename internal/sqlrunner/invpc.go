package sqlrunner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// InVPC runs the SQL steps as shell scripts of psql calls in a one-off task
// inside the stack's VPC (SPEC 4.3), for a manager that cannot reach the
// databases. The task's container holds the connection fields of the two
// master secrets and the application secret as environment variables
// (SOURCE_HOST ... TARGET_PASSWORD, APP_USER, APP_PASSWORD: the task
// definition's secrets, resolved by the ECS agent); no credential passes
// through the manager. Each call is one task; a step's results come back as
// "TAPSTACK step=<name> key=value ..." lines of its log, and its failure as
// the exit code. Freeze runs a whole freeze in one task, since a Fargate
// task takes tens of seconds to start.
//
// The preflight's calls (Inspect, EnsureAppRole, ReplicationSettings) are
// scripted too (invpc_catalog.go, invpc_approle.go), so a whole migration
// runs through it.
type InVPC struct {
	Tasks TaskRunner
	// The stack's secrets: a Database is the source or the target by its
	// SecretARN, which must be one of the first two.
	SourceSecretARN, TargetSecretARN, AppSecretARN string
	// Timeout bounds one task, start to logs read (default 10 minutes),
	// beyond what a freeze may wait for its watermark.
	Timeout time.Duration
}

// TaskRunner runs a script (sh -c) in the runner task and returns its exit
// code and log lines. ECSTasks is the real one.
type TaskRunner interface {
	RunScript(ctx context.Context, script string) (TaskResult, error)
}

// TaskResult is a finished task.
type TaskResult struct {
	ID       string // the task's ARN, for messages
	ExitCode int
	Lines    []string
}

var (
	_ Runner       = (*InVPC)(nil)
	_ FreezeRunner = (*InVPC)(nil)
)

const (
	resultPrefix    = "TAPSTACK "
	heredocEnd      = "TAPSTACK_SQL_END"
	dollarTag       = "$tapstack$"
	defaultTaskTime = 10 * time.Minute
	// logTail is how many log lines an error quotes.
	logTail = 20
)

// TaskEnvironment names the variables the runner task's container must hold
// (the stack's task definition sets them from the secrets): the connection
// fields of the source's and the target's master secrets, and the
// application role's credentials.
var TaskEnvironment = []string{
	"SOURCE_HOST", "SOURCE_PORT", "SOURCE_DBNAME", "SOURCE_USER", "SOURCE_PASSWORD",
	"TARGET_HOST", "TARGET_PORT", "TARGET_DBNAME", "TARGET_USER", "TARGET_PASSWORD",
	"APP_USER", "APP_PASSWORD",
}

// prelude is the top of every script: q SIDE [app] runs psql on SIDE's
// database (SOURCE or TARGET) as the master user or the application role,
// reading SQL from standard input; extra arguments go to psql.
const prelude = `set -u
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}" PGAPPNAME=payment-migration-operator PGSSLMODE="${PGSSLMODE:-require}"
q() {
  case "$1" in
  SOURCE) PGHOST=$SOURCE_HOST PGPORT=$SOURCE_PORT PGDATABASE=$SOURCE_DBNAME PGUSER=$SOURCE_USER PGPASSWORD=$SOURCE_PASSWORD ;;
  TARGET) PGHOST=$TARGET_HOST PGPORT=$TARGET_PORT PGDATABASE=$TARGET_DBNAME PGUSER=$TARGET_USER PGPASSWORD=$TARGET_PASSWORD ;;
  *) echo "unknown side $1" >&2; return 2 ;;
  esac
  if [ "$2" = app ]; then PGUSER=$APP_USER PGPASSWORD=$APP_PASSWORD; fi
  export PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD
  shift 2
  psql -X -q -A -t -v ON_ERROR_STOP=1 "$@" -f -
}
`

// script is a shell script of steps, each one psql session.
type script struct {
	b     strings.Builder
	steps int
	err   error
}

func newScript() *script {
	s := &script{}
	s.b.WriteString(prelude)
	return s
}

// stepOpts: capture names a shell variable that gets the step's output
// rather than the log; with echo the output is printed to the log after
// all (its result lines count), without it the output is data and the step
// counts as done when psql succeeds. args are passed to psql as they are
// (already quoted for the shell).
type stepOpts struct {
	capture string
	echo    bool
	args    []string
}

// step runs sql on side's database (as the application role when app) and
// prints how long it took; the script stops with exit code 10+n at the
// first step n that fails.
func (s *script) step(name, side string, app bool, sql string, o stepOpts) {
	if s.err != nil {
		return
	}
	if strings.Contains(sql, heredocEnd) {
		s.err = fmt.Errorf("step %s: the SQL contains %s", name, heredocEnd)
		return
	}
	s.steps++
	who := "master"
	if app {
		who = "app"
	}
	args := ""
	if len(o.args) > 0 {
		args = " " + strings.Join(o.args, " ")
	}
	body := "SELECT extract(epoch FROM clock_timestamp()) AS tapstack_t0 \\gset\n" + sql + "\n" +
		"SELECT 'TAPSTACK step=" + name + " ms=' || round(((extract(epoch FROM clock_timestamp()) - :tapstack_t0) * 1000)::numeric, 1);\n"
	if o.capture != "" && !o.echo {
		body = sql + "\n"
	}
	fmt.Fprintf(&s.b, "echo 'TAPSTACK step=%s begin'\n", name)
	onFail := fmt.Sprintf("|| { echo 'TAPSTACK step=%s failed'; exit %d; }", name, 9+s.steps)
	if o.capture != "" {
		fmt.Fprintf(&s.b, "%s=$(q %s %s%s <<'%s'\n%s%s\n) %s\n", o.capture, side, who, args, heredocEnd, body, heredocEnd, onFail)
	} else {
		fmt.Fprintf(&s.b, "q %s %s%s <<'%s' %s\n%s%s\n", side, who, args, heredocEnd, onFail, body, heredocEnd)
	}
	switch {
	case o.capture != "" && o.echo:
		fmt.Fprintf(&s.b, "echo \"$%s\"\n", o.capture)
	case o.capture != "":
		fmt.Fprintf(&s.b, "echo 'TAPSTACK step=%s ms=0'\n", name)
	}
}

// raw appends shell text as it is.
func (s *script) raw(text string) { s.b.WriteString(text) }

func (s *script) String() (string, error) {
	if s.err != nil {
		return "", s.err
	}
	return s.b.String() + "echo 'TAPSTACK end'\n", nil
}

// result is what the log's TAPSTACK lines said, by step, in order.
type result struct {
	steps map[string]map[string]string
	lines map[string][]map[string]string // every line of a step
	order []string                       // steps in the order they began
	ended bool
}

func parseResult(lines []string) result {
	r := result{steps: map[string]map[string]string{}, lines: map[string][]map[string]string{}}
	for _, line := range lines {
		line = strings.TrimRight(line, "\r")
		rest, ok := strings.CutPrefix(line, resultPrefix)
		if !ok {
			continue
		}
		if rest == "end" {
			r.ended = true
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Fields(rest) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				fields[f] = "1" // a flag: begin, failed
				continue
			}
			fields[k] = v
		}
		name := fields["step"]
		if name == "" {
			continue
		}
		if _, seen := r.steps[name]; !seen {
			r.steps[name] = map[string]string{}
			r.order = append(r.order, name)
		}
		for k, v := range fields {
			r.steps[name][k] = v
		}
		r.lines[name] = append(r.lines[name], fields)
	}
	return r
}

// done reports whether the step ran to its end (printed its duration).
func (r result) done(step string) bool { _, ok := r.steps[step]["ms"]; return ok }

func (r result) took(step string) time.Duration {
	ms, err := strconv.ParseFloat(r.steps[step]["ms"], 64)
	if err != nil {
		return 0
	}
	return time.Duration(math.Round(ms*1000)) * time.Microsecond
}

// failedStep is the step that said it failed, else the last one that
// began and did not end.
func (r result) failedStep() string {
	last := ""
	for _, name := range r.order {
		if r.steps[name]["failed"] != "" {
			return name
		}
		if !r.done(name) {
			last = name
		}
	}
	return last
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run runs the script and checks that it ended; what is an error's subject.
func (v *InVPC) run(ctx context.Context, what string, s *script) (result, TaskResult, error) {
	text, err := s.String()
	if err != nil {
		return result{}, TaskResult{}, fmt.Errorf("%s: %w", what, err)
	}
	if v.Tasks == nil {
		return result{}, TaskResult{}, fmt.Errorf("%s: no task runner", what)
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = defaultTaskTime
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr, err := v.Tasks.RunScript(ctx, text)
	if err != nil {
		return result{}, tr, fmt.Errorf("%s: in-VPC task %s: %w", what, tr.ID, err)
	}
	r := parseResult(tr.Lines)
	if tr.ExitCode != 0 || !r.ended {
		step := r.failedStep()
		if step == "" {
			step = "(before the first step)"
		}
		return r, tr, fmt.Errorf("%s: in-VPC task %s: step %s failed (exit code %d); its log ends:\n%s", what, tr.ID, step, tr.ExitCode, tail(tr.Lines, logTail))
	}
	return r, tr, nil
}

// side names db's environment variables in the task.
func (v *InVPC) side(db Database) (string, error) {
	switch {
	case db.SecretARN != "" && db.SecretARN == v.SourceSecretARN:
		return "SOURCE", nil
	case db.SecretARN != "" && db.SecretARN == v.TargetSecretARN:
		return "TARGET", nil
	}
	return "", fmt.Errorf("%s database: secret %q is neither of the stack's database secrets the runner task holds", db.Side, db.SecretARN)
}

func (v *InVPC) app(arn string) error {
	if arn != v.AppSecretARN {
		return fmt.Errorf("application secret %q is not the one the runner task holds", arn)
	}
	return nil
}

// lit is a SQL string literal; ident a quoted identifier. Neither can leave
// its quotes, whatever the name holds, and neither can end a heredoc or a
// DO block's body.
func lit(s string) (string, error) {
	if strings.Contains(s, "\n") || strings.Contains(s, "\r") || strings.Contains(s, "$") {
		return "", fmt.Errorf("%q: a name with a line break or a dollar sign", s)
	}
	return quoteLiteral(s)
}

func ident(parts ...string) (string, error) {
	for _, p := range parts {
		if strings.ContainsAny(p, "\n\r$\x00") || p == "" {
			return "", fmt.Errorf("%q: an empty name, or one with a line break, a NUL or a dollar sign", p)
		}
	}
	return pgx.Identifier(parts).Sanitize(), nil
}

// names quotes what a call names, stopping at the first bad one.
type names struct{ err error }

func (n *names) lit(s string) string {
	q, err := lit(s)
	if err != nil && n.err == nil {
		n.err = err
	}
	return q
}

func (n *names) ident(parts ...string) string {
	q, err := ident(parts...)
	if err != nil && n.err == nil {
		n.err = err
	}
	return q
}

// notMasterSQL refuses to act on the master user the operator and DMS use.
func notMasterSQL(n *names, role string) string {
	return "DO " + dollarTag + " BEGIN IF current_user = " + n.lit(role) +
		" THEN RAISE EXCEPTION 'role % is the master user the operator and DMS work as, not the application''s role', current_user; END IF; END " + dollarTag + ";"
}

func fenceSQL(n *names, role string, on bool) string {
	stmt := "ALTER ROLE " + n.ident(role) + " RESET default_transaction_read_only;"
	if on {
		stmt = "ALTER ROLE " + n.ident(role) + " SET default_transaction_read_only = on;"
	}
	return notMasterSQL(n, role) + "\n" + stmt
}

func fenceStateSQL(n *names, step, role string) string {
	return `SELECT 'TAPSTACK step=` + step + ` role=' || (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = ` + n.lit(role) + `) || ' value=' || coalesce((
  SELECT split_part(c, '=', 2) FROM pg_catalog.pg_roles r
  JOIN pg_catalog.pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0, unnest(s.setconfig) c
  WHERE r.rolname = ` + n.lit(role) + ` AND lower(split_part(c, '=', 1)) = 'default_transaction_read_only' LIMIT 1), 'none');`
}

func confirmSQL(step string) string {
	return `SELECT 'TAPSTACK step=` + step + ` read_only=' || current_setting('transaction_read_only') || ' user=' || current_user;`
}

// drainSQL is DrainSessions in one DO block: the role's writes open at the
// start are waited for (a changed xid is a finished one), up to grace; then
// its sessions are terminated and waited for until they are gone. The
// statistics snapshot is cleared before each look, or the block would see
// the first one throughout its transaction.
func drainSQL(n *names, step, role string, grace time.Duration) string {
	return notMasterSQL(n, role) + `
DO ` + dollarTag + `
DECLARE
  r_name text := ` + n.lit(role) + `;
  t0 timestamptz := clock_timestamp();
  t1 timestamptz;
  open_pids int[]; open_xids text[]; n_open int; waited interval := interval '0';
  victims int[]; left_pids int[];
BEGIN
  SELECT coalesce(array_agg(pid), '{}'), coalesce(array_agg(backend_xid::text), '{}') INTO open_pids, open_xids
    FROM pg_catalog.pg_stat_activity
    WHERE usename = r_name AND backend_type = 'client backend' AND backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid();
  n_open := cardinality(open_pids);
  WHILE cardinality(open_pids) > 0 AND clock_timestamp() < t0 + make_interval(secs => ` + strconv.FormatFloat(grace.Seconds(), 'f', 3, 64) + `) LOOP
    PERFORM pg_catalog.pg_sleep(0.001);
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    SELECT coalesce(array_agg(o.pid), '{}'), coalesce(array_agg(o.xid), '{}') INTO open_pids, open_xids
      FROM unnest(open_pids, open_xids) AS o(pid, xid)
      JOIN pg_catalog.pg_stat_get_activity(NULL) a ON a.pid = o.pid AND a.backend_xid::text = o.xid;
  END LOOP;
  IF n_open > 0 THEN waited := clock_timestamp() - t0; END IF;
  PERFORM pg_catalog.pg_stat_clear_snapshot();
  WITH v AS MATERIALIZED (
    SELECT pid FROM pg_catalog.pg_stat_activity
    WHERE usename = r_name AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid())
  SELECT coalesce(array_agg(pid), '{}') INTO victims FROM v WHERE pg_catalog.pg_terminate_backend(pid);
  left_pids := victims;
  t1 := clock_timestamp();
  WHILE cardinality(left_pids) > 0 LOOP
    IF clock_timestamp() > t1 + interval '5 seconds' THEN
      RAISE EXCEPTION 'backends % still there 5s after they were terminated', left_pids;
    END IF;
    PERFORM pg_catalog.pg_sleep(0.001);
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    SELECT coalesce(array_agg(pid), '{}') INTO left_pids FROM pg_catalog.pg_stat_get_activity(NULL) WHERE pid = ANY(left_pids);
  END LOOP;
  PERFORM pg_catalog.set_config('tapstack.drain',
    n_open || ' ' || cardinality(victims) || ' ' || round((extract(epoch FROM waited) * 1000)::numeric, 1), false);
END
` + dollarTag + `;
SELECT 'TAPSTACK step=` + step + ` open=' || split_part(current_setting('tapstack.drain'), ' ', 1)
  || ' terminated=' || split_part(current_setting('tapstack.drain'), ' ', 2)
  || ' waited_ms=' || split_part(current_setting('tapstack.drain'), ' ', 3);`
}

func watermarkTable(n *names, schema string) string { return n.ident(schema, naming.WatermarkTable) }

func writeWatermarkSQL(n *names, schema, id string) string {
	return "INSERT INTO " + watermarkTable(n, schema) + " (id) VALUES (" + n.lit(id) + ") ON CONFLICT (id) DO NOTHING;"
}

// awaitWatermarkSQL polls every millisecond up to timeout; each statement of
// the block reads a fresh snapshot.
func awaitWatermarkSQL(n *names, step, schema, id string, timeout time.Duration) string {
	return `DO ` + dollarTag + `
DECLARE t0 timestamptz := clock_timestamp(); found_it bool;
BEGIN
  LOOP
    SELECT EXISTS (SELECT 1 FROM ` + watermarkTable(n, schema) + ` WHERE id = ` + n.lit(id) + `) INTO found_it;
    EXIT WHEN found_it OR clock_timestamp() >= t0 + make_interval(secs => ` + strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64) + `);
    PERFORM pg_catalog.pg_sleep(0.001);
  END LOOP;
  PERFORM pg_catalog.set_config('tapstack.found', found_it::text || ' ' || round((extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric, 1), false);
END
` + dollarTag + `;
SELECT 'TAPSTACK step=` + step + ` found=' || split_part(current_setting('tapstack.found'), ' ', 1) || ' waited_ms=' || split_part(current_setting('tapstack.found'), ' ', 2);`
}

// readSequencesSQL prints the schema's issued sequence values as one JSON
// object (captured by the script, not logged as a result).
func readSequencesSQL(n *names, schema string) string {
	return `SELECT coalesce(json_object_agg(sequencename, last_value), '{}') FROM pg_catalog.pg_sequences WHERE schemaname = ` + n.lit(schema) + ` AND last_value IS NOT NULL;`
}

// setSequencesSQL moves each sequence of schema past the value read on the
// other side (psql variable tapstack_src, JSON), never backwards; in numeric,
// so a sequence near its bound cannot overflow the comparison.
func setSequencesSQL(n *names, step, schema string, margin int64) string {
	m := strconv.FormatInt(margin, 10)
	return `SELECT pg_catalog.set_config('tapstack.src', :'tapstack_src', false) \gset tapstack_ignored_
DO ` + dollarTag + `
DECLARE r record; lv int8; called bool; want numeric; moved int := 0;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS seq, c.relname, s.seqincrement AS inc, (j.value #>> '{}')::numeric AS v
    FROM pg_catalog.pg_sequence s
    JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
    JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
    JOIN json_each(current_setting('tapstack.src')::json) j ON j.key = c.relname
    WHERE ns.nspname = ` + n.lit(schema) + ` ORDER BY c.relname
  LOOP
    want := r.v + sign(r.inc) * ` + m + `;
    IF want > 9223372036854775807 OR want < -9223372036854775808 THEN
      RAISE EXCEPTION 'sequence %: % and the margin ` + m + ` are out of range', r.relname, r.v;
    END IF;
    EXECUTE format('SELECT last_value, is_called FROM %s', r.seq) INTO lv, called;
    IF sign(r.inc) * (want + r.inc) > sign(r.inc) * (lv::numeric + CASE WHEN called THEN r.inc ELSE 0 END) THEN
      PERFORM pg_catalog.setval(r.seq, want::int8, true);
      moved := moved + 1;
    END IF;
  END LOOP;
  PERFORM pg_catalog.set_config('tapstack.moved', moved::text, false);
END
` + dollarTag + `;
SELECT 'TAPSTACK step=` + step + ` moved=' || current_setting('tapstack.moved');`
}

// slotSQL reports the slot if it exists, else creates it (the one-time
// filter keeps the function from running when it does).
func slotSQL(n *names, step, name, plugin string) string {
	return `SELECT 'TAPSTACK step=` + step + ` existing=' || slot_type || ' plugin=' || coalesce(nullif(plugin, ''), '-') || ' lsn=' || coalesce(coalesce(confirmed_flush_lsn, restart_lsn)::text, '-')
  FROM pg_catalog.pg_replication_slots WHERE slot_name = ` + n.lit(name) + `;
SELECT 'TAPSTACK step=` + step + ` created=1 plugin=' || ` + n.lit(plugin) + ` || ' lsn=' || lsn::text
  FROM pg_catalog.pg_create_logical_replication_slot(` + n.lit(name) + `, ` + n.lit(plugin) + `)
  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = ` + n.lit(name) + `);`
}

func flipPointSQL(n *names, step, slot, plugin string) string {
	return slotSQL(n, step+"-slot", slot, plugin) + `
SELECT 'TAPSTACK step=` + step + ` kind=' || slot_type || ' plugin=' || coalesce(nullif(plugin, ''), '-') || ' at=' || pg_catalog.pg_current_wal_insert_lsn()::text
  FROM pg_catalog.pg_replication_slots WHERE slot_name = ` + n.lit(slot) + `;`
}

// slotLSN reads slotSQL's result.
func slotLSN(r result, step, plugin string) (string, error) {
	f := r.steps[step]
	if kind, ok := f["existing"]; ok && f["created"] == "" {
		if kind != "logical" || f["plugin"] != plugin {
			return "", fmt.Errorf("exists as a %s slot with plugin %q, not a logical slot with %q", kind, f["plugin"], plugin)
		}
	}
	if lsn := f["lsn"]; lsn != "" && lsn != "-" {
		return lsn, nil
	}
	return "", errors.New("exists but has no LSN yet")
}

func (v *InVPC) single(ctx context.Context, what string, db Database, app bool, sql func(n *names, step string) string) (result, error) {
	side, err := v.side(db)
	if err != nil {
		return result{}, err
	}
	n := &names{}
	text := sql(n, "s")
	if n.err != nil {
		return result{}, fmt.Errorf("%s database: %s: %w", db.Side, what, n.err)
	}
	s := newScript()
	s.step("s", side, app, text, stepOpts{})
	r, _, err := v.run(ctx, db.Side+" database: "+what, s)
	if err != nil {
		return r, err
	}
	if !r.done("s") {
		return r, fmt.Errorf("%s database: %s: the task printed no result", db.Side, what)
	}
	return r, nil
}

// ApplyDDL runs the statements in one transaction.
func (v *InVPC) ApplyDDL(ctx context.Context, db Database, statements []string) error {
	_, err := v.single(ctx, "applying the schema", db, false, func(n *names, step string) string {
		return "BEGIN;\n" + strings.Join(statements, ";\n") + ";\nCOMMIT;"
	})
	return err
}

func (v *InVPC) EnsureWatermarkTable(ctx context.Context, db Database, schema string) error {
	_, err := v.single(ctx, "creating the watermark table", db, false, func(n *names, step string) string {
		return "CREATE TABLE IF NOT EXISTS " + watermarkTable(n, schema) + " (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now());"
	})
	return err
}

func (v *InVPC) FenceState(ctx context.Context, db Database, role string) (bool, error) {
	r, err := v.single(ctx, "fence on role "+role, db, false, func(n *names, step string) string { return fenceStateSQL(n, step, role) })
	if err != nil {
		return false, err
	}
	return fenceValue(r.steps["s"], db, role)
}

func fenceValue(f map[string]string, db Database, role string) (bool, error) {
	if f["role"] != "1" {
		return false, fmt.Errorf("%s database: fence on role %s: the role does not exist", db.Side, role)
	}
	return f["value"] != "none" && pgBool(f["value"]), nil
}

func (v *InVPC) SetFence(ctx context.Context, db Database, role string, on bool) error {
	_, err := v.single(ctx, "fence on role "+role, db, false, func(n *names, step string) string { return fenceSQL(n, role, on) })
	return err
}

func (v *InVPC) ConfirmFence(ctx context.Context, db Database, appSecretARN string) (bool, error) {
	if err := v.app(appSecretARN); err != nil {
		return false, err
	}
	r, err := v.single(ctx, "confirming the fence", db, true, func(n *names, step string) string { return confirmSQL(step) })
	if err != nil {
		return false, err
	}
	return r.steps["s"]["read_only"] == "on", nil
}

func (v *InVPC) DrainSessions(ctx context.Context, db Database, role string, grace time.Duration) (DrainResult, error) {
	r, err := v.single(ctx, "draining role "+role, db, false, func(n *names, step string) string { return drainSQL(n, step, role, grace) })
	if err != nil {
		return DrainResult{}, err
	}
	return drainResult(r.steps["s"]), nil
}

func drainResult(f map[string]string) DrainResult {
	open, _ := strconv.Atoi(f["open"])
	term, _ := strconv.Atoi(f["terminated"])
	ms, _ := strconv.ParseFloat(f["waited_ms"], 64)
	return DrainResult{OpenWritesWaited: open, SessionsTerminated: term, Waited: time.Duration(ms * float64(time.Millisecond))}
}

func (v *InVPC) WriteWatermark(ctx context.Context, db Database, schema, id string) error {
	_, err := v.single(ctx, "writing watermark "+id, db, false, func(n *names, step string) string { return writeWatermarkSQL(n, schema, id) })
	return err
}

func (v *InVPC) WaitWatermark(ctx context.Context, db Database, schema, id string, timeout time.Duration) (bool, error) {
	r, err := v.single(ctx, "waiting for watermark "+id, db, false, func(n *names, step string) string {
		return awaitWatermarkSQL(n, step, schema, id, timeout)
	})
	if err != nil {
		return false, err
	}
	return r.steps["s"]["found"] == "true", nil
}

// seqSteps appends the two steps of a sequence sync: read on from into a
// shell variable, set on to.
func seqSteps(s *script, n *names, step, from, to, schema string, margin int64) {
	s.step(step+"-read", from, false, readSequencesSQL(n, schema), stepOpts{capture: "tapstack_src"})
	s.step(step, to, false, setSequencesSQL(n, step, schema, margin), stepOpts{args: []string{`-v tapstack_src="$tapstack_src"`}})
}

func (v *InVPC) SyncSequences(ctx context.Context, from, to Database, schema string, margin int64) (int, error) {
	if margin < 0 {
		return 0, fmt.Errorf("syncing sequences: negative margin %d", margin)
	}
	fs, err := v.side(from)
	if err != nil {
		return 0, err
	}
	ts, err := v.side(to)
	if err != nil {
		return 0, err
	}
	n := &names{}
	s := newScript()
	seqSteps(s, n, "seq", fs, ts, schema, margin)
	if n.err != nil {
		return 0, fmt.Errorf("syncing sequences: %w", n.err)
	}
	r, _, err := v.run(ctx, fmt.Sprintf("%s database: setting the sequences of schema %s past the %s's", to.Side, schema, from.Side), s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(r.steps["seq"]["moved"])
}

func (v *InVPC) CreateSlot(ctx context.Context, db Database, name, plugin string) (string, error) {
	r, err := v.single(ctx, "replication slot "+name, db, false, func(n *names, step string) string { return slotSQL(n, step, name, plugin) })
	if err != nil {
		return "", err
	}
	lsn, err := slotLSN(r, "s", plugin)
	if err != nil {
		return "", fmt.Errorf("%s database: replication slot %s: %w", db.Side, name, err)
	}
	return lsn, nil
}

func (v *InVPC) MarkFlipPoint(ctx context.Context, db Database, slot, plugin string) (string, error) {
	r, err := v.single(ctx, "marking the flip point on replication slot "+slot, db, false, func(n *names, step string) string {
		return flipPointSQL(n, step, slot, plugin)
	})
	if err != nil {
		return "", err
	}
	return flipPoint(r, "s", db, slot, plugin)
}

func flipPoint(r result, step string, db Database, slot, plugin string) (string, error) {
	if _, err := slotLSN(r, step+"-slot", plugin); err != nil {
		return "", fmt.Errorf("%s database: marking the flip point on replication slot %s: %w", db.Side, slot, err)
	}
	f := r.steps[step]
	if f["at"] == "" {
		return "", fmt.Errorf("%s database: replication slot %s: dropped again as soon as it was created", db.Side, slot)
	}
	return f["at"], nil
}

func (v *InVPC) DropSlot(ctx context.Context, db Database, name string) error {
	_, err := v.single(ctx, "dropping replication slot "+name, db, false, func(n *names, step string) string {
		return `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = ` + n.lit(name) + `;`
	})
	return err
}

func (v *InVPC) SlotExists(ctx context.Context, db Database, name string) (bool, error) {
	r, err := v.single(ctx, "looking up replication slot "+name, db, false, func(n *names, step string) string {
		return `SELECT 'TAPSTACK step=` + step + ` exists=' || EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = ` + n.lit(name) + `)::text;`
	})
	if err != nil {
		return false, err
	}
	return r.steps["s"]["exists"] == "true", nil
}

func (v *InVPC) LongestWriteTransaction(ctx context.Context, db Database) (time.Duration, error) {
	r, err := v.single(ctx, "reading the longest write transaction", db, false, func(n *names, step string) string {
		return `SELECT 'TAPSTACK step=` + step + ` micros=' || coalesce((extract(epoch FROM max(pg_catalog.clock_timestamp() - xact_start)) * 1000000)::int8, 0)
  FROM pg_catalog.pg_stat_activity
  WHERE backend_xid IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid();`
	})
	if err != nil {
		return 0, err
	}
	micros, err := strconv.ParseInt(r.steps["s"]["micros"], 10, 64)
	return time.Duration(max(micros, 0)) * time.Microsecond, err
}

func (v *InVPC) LogicalSlots(ctx context.Context, db Database) ([]Slot, error) {
	r, err := v.single(ctx, "reading the replication slots", db, false, func(n *names, step string) string {
		return `SELECT 'TAPSTACK step=` + step + ` slot=' || slot_name || ' active=' || active::text || ' wal=' || coalesce(nullif(wal_status, ''), '-')
    || ' retained=' || coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::int8
  FROM pg_catalog.pg_replication_slots
  WHERE slot_type = 'logical' AND database = pg_catalog.current_database() ORDER BY slot_name;`
	})
	if err != nil {
		return nil, err
	}
	var slots []Slot
	for _, f := range r.lines["s"] {
		if f["slot"] == "" {
			continue
		}
		retained, _ := strconv.ParseInt(f["retained"], 10, 64)
		wal := f["wal"]
		if wal == "-" {
			wal = ""
		}
		slots = append(slots, Slot{Name: f["slot"], Active: f["active"] == "true", WALStatus: wal, RetainedBytes: retained})
	}
	return slots, nil
}

// freezeScript is the whole freeze as one script, the steps in the order of
// FreezeReport.
func (v *InVPC) freezeScript(p FreezePlan) (string, error) {
	from, err := v.side(p.From)
	if err != nil {
		return "", err
	}
	to, err := v.side(p.To)
	if err != nil {
		return "", err
	}
	if from == to {
		return "", errors.New("a freeze from a database to itself")
	}
	if err := v.app(p.AppSecretARN); err != nil {
		return "", err
	}
	n := &names{}
	s := newScript()
	s.step("fence", from, false, fenceSQL(n, p.Role, true), stepOpts{})
	// A session of the role that starts after the fence's commit is
	// read-only; the loop only covers a slow server, up to confirmWithin.
	s.raw("tapstack_try=0\nwhile :; do\n")
	s.step("confirm", from, true, confirmSQL("confirm"), stepOpts{capture: "tapstack_confirm", echo: true})
	s.raw(fmt.Sprintf(`case "$tapstack_confirm" in *read_only=on*) break ;; esac
tapstack_try=$((tapstack_try + 1))
if [ "$tapstack_try" -ge %d ]; then echo 'TAPSTACK step=confirm failed'; exit 2; fi
sleep 0.05
done
`, int(confirmWithin/(50*time.Millisecond))))
	s.step("drain", from, false, drainSQL(n, "drain", p.Role, p.Grace), stepOpts{})
	s.step("write-watermark", from, false, writeWatermarkSQL(n, p.Schema, p.Watermark), stepOpts{})
	s.step("await-watermark", to, false, awaitWatermarkSQL(n, "await-watermark", p.Schema, p.Watermark, p.Timeout), stepOpts{capture: "tapstack_await", echo: true})
	// Not found: the freeze timed out; nothing after it may run.
	s.raw("case \"$tapstack_await\" in *found=true*) ;; *) echo 'TAPSTACK end'; exit 0 ;; esac\n")
	seqSteps(s, n, "sync-sequences", from, to, p.Schema, p.SequenceMargin)
	if p.UnfenceTo {
		s.step("unfence", to, false, fenceSQL(n, p.Role, false), stepOpts{})
	}
	if p.Slot != "" {
		s.step("flip-point", to, false, flipPointSQL(n, "flip-point", p.Slot, p.Plugin), stepOpts{})
	}
	if n.err != nil {
		return "", n.err
	}
	return s.String()
}

// Freeze runs the whole freeze in one task. A watermark not seen within
// p.Timeout is not an error: Found is false, and the task stops there.
func (v *InVPC) Freeze(ctx context.Context, p FreezePlan) (FreezeReport, error) {
	if err := checkPlan(p); err != nil {
		return FreezeReport{}, err
	}
	text, err := v.freezeScript(p)
	if err != nil {
		return FreezeReport{}, fmt.Errorf("freeze: %w", err)
	}
	began := time.Now()
	s := &script{}
	s.b.WriteString(strings.TrimSuffix(text, "echo 'TAPSTACK end'\n"))
	// Bounded by the freeze, not by the default task time alone.
	ctx, cancel := context.WithTimeout(ctx, p.Timeout+2*time.Minute+max(p.Grace, 0))
	defer cancel()
	r, tr, err := v.run(ctx, "freeze "+p.From.Side+"->"+p.To.Side, s)
	rep := freezeReport(r, p)
	rep.Took = time.Since(began)
	if err != nil {
		return rep, err
	}
	if !rep.Found {
		return rep, nil
	}
	if rep.Sequences, err = strconv.Atoi(r.steps["sync-sequences"]["moved"]); err != nil || !rep.SequencesSynced {
		return rep, fmt.Errorf("freeze: in-VPC task %s: no sequence result; its log ends:\n%s", tr.ID, tail(tr.Lines, logTail))
	}
	if p.Slot != "" {
		if rep.LSN, err = flipPoint(r, "flip-point", p.To, p.Slot, p.Plugin); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// freezeReport reads the steps the task completed, in order.
func freezeReport(r result, p FreezePlan) FreezeReport {
	var rep FreezeReport
	for _, name := range []string{"fence", "confirm", "drain", "write-watermark", "await-watermark", "sync-sequences-read", "sync-sequences", "unfence", "flip-point-slot", "flip-point"} {
		if _, ran := r.steps[name]; ran {
			rep.Steps = append(rep.Steps, StepTiming{Name: name, Took: r.took(name)})
		}
	}
	ok := r.done("fence")
	rep.Fenced = ok
	ok = ok && r.steps["confirm"]["read_only"] == "on"
	rep.Confirmed = ok
	ok = ok && r.done("drain")
	rep.Drained = ok
	if ok {
		rep.Drain = drainResult(r.steps["drain"])
	}
	ok = ok && r.done("write-watermark")
	rep.WatermarkWritten = ok
	ok = ok && r.done("await-watermark") && r.steps["await-watermark"]["found"] == "true"
	rep.Found = ok
	if ms, err := strconv.ParseFloat(r.steps["await-watermark"]["waited_ms"], 64); err == nil {
		rep.WatermarkWait = time.Duration(ms * float64(time.Millisecond))
	}
	ok = ok && r.done("sync-sequences")
	rep.SequencesSynced = ok
	if p.UnfenceTo {
		ok = ok && r.done("unfence")
		rep.Unfenced = ok
	}
	return rep
}

// token is a fresh idempotency token for one call: the SDK's retries of
// that call reuse it, so a retried RunTask does not start a second task.
func token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
