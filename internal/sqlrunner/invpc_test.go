package sqlrunner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// localTasks runs the runner's scripts on this machine with sh, with the
// environment the runner task definition gives its container: what the
// emulator's ECS does too, without the AWS calls around it.
type localTasks struct {
	env  []string
	runs int
}

func (l *localTasks) RunScript(ctx context.Context, script string) (TaskResult, error) {
	l.runs++
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(os.Environ(), l.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res := TaskResult{ID: fmt.Sprintf("local-%d", l.runs), Lines: strings.Split(strings.TrimRight(out.String(), "\n"), "\n")}
	if exit, ok := err.(*exec.ExitError); ok {
		res.ExitCode = exit.ExitCode()
		return res, nil
	}
	return res, err
}

func taskEnv(prefix string, s *pgtest.Server) []string {
	return []string{prefix + "_HOST=" + s.Host, prefix + "_PORT=" + strconv.Itoa(s.Port), prefix + "_DBNAME=" + s.Database,
		prefix + "_USER=" + s.User, prefix + "_PASSWORD=" + s.Password}
}

func TestParseResultReadsStepsFlagsAndTheEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lines  []string
		ended  bool
		failed string
		check  func(t *testing.T, r result)
	}{
		{"a step with its duration", []string{"TAPSTACK step=s begin", "noise from psql", "TAPSTACK step=s found=true waited_ms=3.5", "TAPSTACK step=s ms=4.1", "TAPSTACK end"}, true, "",
			func(t *testing.T, r result) {
				if !r.done("s") || r.steps["s"]["found"] != "true" || r.took("s") != 4100*time.Microsecond {
					t.Errorf("steps %v", r.steps)
				}
			}},
		{"a failure names its step", []string{"TAPSTACK step=a begin", "TAPSTACK step=a ms=1", "TAPSTACK step=b begin", "psql: error: connection refused", "TAPSTACK step=b failed"}, false, "b", nil},
		{"a step cut off without a word", []string{"TAPSTACK step=a begin", "TAPSTACK step=a ms=1", "TAPSTACK step=b begin"}, false, "b", nil},
		{"lines of a list", []string{"TAPSTACK step=s slot=one active=true", "TAPSTACK step=s slot=two active=false", "TAPSTACK step=s ms=1", "TAPSTACK end\r"}, true, "",
			func(t *testing.T, r result) {
				if len(r.lines["s"]) != 3 || r.lines["s"][1]["slot"] != "two" {
					t.Errorf("lines %v", r.lines["s"])
				}
			}},
		{"a line that only looks like one", []string{"xTAPSTACK step=s ms=1", "TAPSTACKstep=s"}, false, "", func(t *testing.T, r result) {
			if len(r.steps) != 0 {
				t.Errorf("steps %v", r.steps)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parseResult(tc.lines)
			if r.ended != tc.ended || r.failedStep() != tc.failed {
				t.Errorf("ended %t failed %q, want %t %q", r.ended, r.failedStep(), tc.ended, tc.failed)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestNamesAreQuotedOrRefused(t *testing.T) {
	for _, tc := range []struct {
		in, lit, ident string
		refused        bool
	}{
		{in: "payments_app", lit: "E'payments_app'", ident: `"payments_app"`},
		{in: `a'b`, lit: `E'a''b'`, ident: `"a'b"`},
		{in: `x"; DROP TABLE payments; --`, lit: `E'x"; DROP TABLE payments; --'`, ident: `"x""; DROP TABLE payments; --"`},
		{in: `back\slash`, lit: `E'back\\slash'`, ident: `"back\slash"`},
		{in: "end\n" + heredocEnd, refused: true},
		{in: "body" + dollarTag, refused: true},
		{in: "nul\x00", refused: true},
	} {
		l, lerr := lit(tc.in)
		i, ierr := ident(tc.in)
		if tc.refused {
			if lerr == nil || ierr == nil {
				t.Errorf("%q: quoted as %s and %s, want refused", tc.in, l, i)
			}
			continue
		}
		if lerr != nil || ierr != nil || l != tc.lit || i != tc.ident {
			t.Errorf("%q: %s (%v) and %s (%v), want %s and %s", tc.in, l, lerr, i, ierr, tc.lit, tc.ident)
		}
	}
	n := &names{}
	fenceSQL(n, "evil\n"+heredocEnd+"\nrm -rf /", true)
	if n.err == nil {
		t.Error("a role name that ends the heredoc was accepted")
	}
}

// freezeFixture is two servers, an application role on the source and a
// payments table with a sequence on both.
type freezeFixture struct {
	src, dst     *pgtest.Server
	env          []string
	secrets      fakeSecrets
	from, to     Database
	role, schema string
}

func newFreezeFixture(t *testing.T, role string) *freezeFixture {
	t.Helper()
	f := &freezeFixture{role: role, schema: "public"}
	f.src = pgtest.Start(t, pgtest.Options{})
	f.dst = pgtest.Start(t, pgtest.Options{})
	for _, s := range []*pgtest.Server{f.src, f.dst} {
		s.Exec(t, `CREATE TABLE payments (id bigserial PRIMARY KEY, amount bigint NOT NULL);
			CREATE TABLE `+naming.WatermarkTable+` (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())`)
	}
	quoted, _ := ident(role)
	password := "app-'pw"
	pw, _ := quoteLiteral(password)
	for _, s := range []*pgtest.Server{f.src, f.dst} {
		s.Exec(t, `CREATE ROLE `+quoted+` LOGIN PASSWORD `+pw+`; GRANT ALL ON payments, payments_id_seq TO `+quoted)
	}
	f.src.Exec(t, `INSERT INTO payments (amount) SELECT 1 FROM generate_series(1, 42)`)
	f.env = append(append(taskEnv("SOURCE", f.src), taskEnv("TARGET", f.dst)...), "APP_USER="+role, "APP_PASSWORD="+password, "PGSSLMODE=disable")
	f.secrets = fakeSecrets{"src": secretOf(f.src), "dst": secretOf(f.dst), "app": appSecretOf(role, password)}
	f.from, f.to = Database{Side: "source", SecretARN: "src"}, Database{Side: "target", SecretARN: "dst"}
	return f
}

func (f *freezeFixture) runners(t *testing.T) map[string]FreezeRunner {
	return map[string]FreezeRunner{
		"direct": newDirect(t, f.secrets),
		"in-VPC": &InVPC{Tasks: &localTasks{env: f.env}, SourceSecretARN: "src", TargetSecretARN: "dst", AppSecretARN: "app"},
	}
}

// Both runners meet the same expectations of a freeze, on real servers: the
// role fenced and its sessions ended, the watermark awaited, the target's
// sequence past the source's, the slot made and the flip point read; then,
// run again as after a crash, the same end state and no sequence moved.
func TestFreezeOfBothRunners(t *testing.T) {
	role := `pay"ments' app`
	f := newFreezeFixture(t, role)
	for name, r := range f.runners(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			watermark := "wm-" + strings.ReplaceAll(name, "-", "")
			f.dst.Exec(t, "SELECT setval('payments_id_seq', 1, false)")
			app := connectAs(t, f.src, role, "app-'pw")
			if _, err := app.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			// Replication stands in: the watermark reaches the target a little later.
			srcPool, dstPool := f.src.Pool(t), f.dst.Pool(t)
			go func() {
				for queryInt(t, srcPool, "SELECT count(*) FROM "+naming.WatermarkTable+" WHERE id = $1", watermark) == 0 {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(200 * time.Millisecond)
				_, _ = dstPool.Exec(context.Background(), "INSERT INTO "+naming.WatermarkTable+" (id) VALUES ($1) ON CONFLICT DO NOTHING", watermark)
			}()
			plan := FreezePlan{From: f.from, To: f.to, AppSecretARN: "app", Role: role, Schema: "public", Watermark: watermark,
				Grace: time.Second, Timeout: 10 * time.Second, SequenceMargin: 1000, UnfenceTo: true, Slot: "reverse_" + strings.ToLower(strings.ReplaceAll(name, "-", "")), Plugin: "test_decoding"}
			rep, err := r.Freeze(ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s freeze took %s: %+v", name, rep.Took, rep.Steps)
			if !rep.Fenced || !rep.Confirmed || !rep.Drained || !rep.WatermarkWritten || !rep.Found || !rep.SequencesSynced || !rep.Unfenced || rep.LSN == "" {
				t.Fatalf("report %+v", rep)
			}
			if rep.Drain.SessionsTerminated < 1 {
				t.Errorf("the application's open session was not terminated: %+v", rep.Drain)
			}
			// In the task, the wait is timed from its own session on the target.
			if rep.WatermarkWait < 100*time.Millisecond {
				t.Errorf("the watermark was seen after %s, before it was there", rep.WatermarkWait)
			}
			if rep.Sequences != 1 {
				t.Errorf("sequences moved %d, want 1", rep.Sequences)
			}
			if got := queryInt(t, f.dst.Pool(t), "SELECT last_value FROM payments_id_seq"); got != 42+1000 {
				t.Errorf("target sequence at %d, want %d", got, 42+1000)
			}
			if got := queryInt(t, f.src.Pool(t), "SELECT count(*) FROM "+naming.WatermarkTable+" WHERE id = $1", watermark); got != 1 {
				t.Errorf("watermark rows on the source: %d", got)
			}
			if got := queryInt(t, f.dst.Pool(t), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", plan.Slot); got != 1 {
				t.Errorf("slot %s: %d", plan.Slot, got)
			}
			fresh := connectAs(t, f.src, role, "app-'pw")
			var ro string
			if err := fresh.QueryRow(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil || ro != "on" {
				t.Errorf("a fresh session of the role: read only %q (%v)", ro, err)
			}
			again, err := r.Freeze(ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Found || again.Sequences != 0 || again.LSN == "" {
				t.Errorf("second run: %+v", again)
			}
			if got := queryInt(t, f.dst.Pool(t), "SELECT last_value FROM payments_id_seq"); got != 42+1000 {
				t.Errorf("target sequence at %d after the second run", got)
			}
			f.src.Exec(t, "ALTER ROLE "+pgIdent(role)+" RESET default_transaction_read_only")
		})
	}
}

func pgIdent(s string) string { q, _ := ident(s); return q }

// A watermark that never arrives: Found false, no error, and nothing after
// the wait ran (the target's sequences untouched).
func TestFreezeOfBothRunnersStopsAtTheTimeout(t *testing.T) {
	f := newFreezeFixture(t, "payments_app")
	for name, r := range f.runners(t) {
		t.Run(name, func(t *testing.T) {
			rep, err := r.Freeze(context.Background(), FreezePlan{From: f.from, To: f.to, AppSecretARN: "app", Role: f.role, Schema: "public",
				Watermark: "never-" + strings.ReplaceAll(name, "-", ""), Grace: 0, Timeout: 200 * time.Millisecond, SequenceMargin: 10})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Fenced || !rep.WatermarkWritten || rep.Found || rep.SequencesSynced {
				t.Errorf("report %+v", rep)
			}
			if rep.WatermarkWait < 200*time.Millisecond {
				t.Errorf("waited %s, less than the timeout", rep.WatermarkWait)
			}
			if got := queryInt(t, f.dst.Pool(t), "SELECT last_value FROM payments_id_seq"); got != 1 {
				t.Errorf("target sequence moved to %d", got)
			}
			f.src.Exec(t, "ALTER ROLE payments_app RESET default_transaction_read_only")
		})
	}
}

// The single calls of the in-VPC runner read what Direct reads.
func TestInVPCSingleCalls(t *testing.T) {
	ctx := context.Background()
	f := newFreezeFixture(t, `odd "role"`)
	v := &InVPC{Tasks: &localTasks{env: f.env}, SourceSecretARN: "src", TargetSecretARN: "dst", AppSecretARN: "app"}
	d := newDirect(t, f.secrets)
	for _, on := range []bool{true, false} {
		if err := v.SetFence(ctx, f.from, f.role, on); err != nil {
			t.Fatal(err)
		}
		got, err := v.FenceState(ctx, f.from, f.role)
		want, derr := d.FenceState(ctx, f.from, f.role)
		if err != nil || derr != nil || got != on || want != on {
			t.Errorf("fence %t: in-VPC reads %t (%v), direct %t (%v)", on, got, err, want, derr)
		}
		confirmed, err := v.ConfirmFence(ctx, f.from, "app")
		if err != nil || confirmed != on {
			t.Errorf("fence %t: confirmed %t (%v)", on, confirmed, err)
		}
	}
	if _, err := v.FenceState(ctx, f.from, "nobody"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing role: %v", err)
	}
	if err := v.SetFence(ctx, f.from, f.src.User, true); err == nil || !strings.Contains(err.Error(), "master user") {
		t.Errorf("fencing the master user: %v", err)
	}
	if _, err := v.SlotExists(ctx, Database{Side: "source", SecretARN: "elsewhere"}, "x"); err == nil {
		t.Error("a database the task holds no secret of was accepted")
	}
	lsn, err := v.CreateSlot(ctx, f.to, "rev", "test_decoding")
	if err != nil || lsn == "" {
		t.Fatalf("slot: %q %v", lsn, err)
	}
	if again, err := v.CreateSlot(ctx, f.to, "rev", "pgoutput"); err == nil {
		t.Errorf("an existing slot with another plugin: %q", again)
	}
	exists, err := v.SlotExists(ctx, f.to, "rev")
	if err != nil || !exists {
		t.Errorf("slot exists %t %v", exists, err)
	}
	slots, err := v.LogicalSlots(ctx, f.to)
	want, _ := d.LogicalSlots(ctx, f.to)
	if err != nil || len(slots) != 1 || slots[0].Name != want[0].Name || slots[0].WALStatus != want[0].WALStatus {
		t.Errorf("slots %+v (%v), direct %+v", slots, err, want)
	}
	if err := v.DropSlot(ctx, f.to, "rev"); err != nil {
		t.Fatal(err)
	}
	if exists, _ := v.SlotExists(ctx, f.to, "rev"); exists {
		t.Error("slot still there")
	}
	if _, err := v.LongestWriteTransaction(ctx, f.from); err != nil {
		t.Error(err)
	}
	if err := v.ApplyDDL(ctx, f.to, []string{"CREATE TABLE a (x int)", "CREATE TABLE payments (x int)"}); err == nil {
		t.Error("a failing statement was not reported")
	} else if !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "step s failed") {
		t.Errorf("the error does not quote the log: %v", err)
	}
	if got := queryInt(t, f.dst.Pool(t), "SELECT count(*) FROM pg_class WHERE relname = 'a'"); got != 0 {
		t.Error("ApplyDDL left part of its statements")
	}
}

// ECS takes at most 8192 characters of overrides for a RunTask: the whole
// freeze, with long names, must fit.
func TestFreezeScriptFitsARunTaskOverride(t *testing.T) {
	v := &InVPC{SourceSecretARN: "src", TargetSecretARN: "dst", AppSecretARN: "app"}
	long := strings.Repeat("n", 63)
	text, err := v.freezeScript(FreezePlan{From: Database{Side: "source", SecretARN: "src"}, To: Database{Side: "target", SecretARN: "dst"},
		AppSecretARN: "app", Role: long, Schema: long, Watermark: "a12-forward-1791234567890123456", Grace: 5 * time.Second, Timeout: time.Hour,
		SequenceMargin: 1000, UnfenceTo: true, Slot: long, Plugin: "test_decoding"})
	if err != nil {
		t.Fatal(err)
	}
	packed := packScript(text)
	t.Logf("freeze script: %d characters, %d as the task's command", len(text), len(packed))
	if len(packed) > 8192-200 { // the JSON around it: container name, sh -c
		t.Errorf("freeze script of %d characters does not fit in a RunTask override", len(packed))
	}
	// The packed script is the same script (but for the last line break,
	// which a command substitution drops).
	out, err := exec.Command("sh", "-c", strings.Replace(packed, "exec sh -c", "printf %s", 1)).Output()
	if err != nil || string(out) != strings.TrimRight(text, "\n") {
		t.Errorf("unpacked: %v, same %t", err, string(out) == text)
	}
}

// The stack's runner task definition sets TaskEnvironment: the scripts must
// read exactly those variables, besides libpq's own.
func TestPreludeReadsExactlyTheTaskEnvironment(t *testing.T) {
	read := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{?([A-Z][A-Z_]*)`).FindAllStringSubmatch(prelude, -1) {
		if !strings.HasPrefix(m[1], "PG") {
			read[m[1]] = true
		}
	}
	for _, name := range TaskEnvironment {
		if !read[name] {
			t.Errorf("TaskEnvironment names %s, which the scripts never read", name)
		}
		delete(read, name)
	}
	for name := range read {
		t.Errorf("the scripts read %s, which TaskEnvironment does not name", name)
	}
}
