package sqlrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tapstack/payment-migration-operator/internal/naming"
	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

const appUser = "payments_app"

// appSecretOf is an application secret as the stack writes it: its host is
// the writer record, which a test machine cannot resolve, so a session that
// went through it would fail.
func appSecretOf(user, password string) string {
	out, _ := json.Marshal(map[string]any{"username": user, "password": password, "host": "db.payments.internal", "port": 5432, "dbname": "payments", "engine": "postgres"})
	return string(out)
}

func appURL(s *pgtest.Server, user, password string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: s.Host + ":" + strconv.Itoa(s.Port),
		Path: "/" + s.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

func connectAs(t *testing.T, s *pgtest.Server, user, password string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), appURL(s, user, password))
	if err != nil {
		t.Fatalf("connecting as %s: %v", user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func newDirect(t *testing.T, secrets SecretsAPI) *Direct {
	r := &Direct{Secrets: secrets, SSLMode: "disable"}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func queryInt(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestEnsureAppRoleGrantsExactlyTheServicesTables(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{Settings: map[string]string{"log_statement": "'ddl'"}})
	srv.Exec(t, `
		CREATE TABLE payments (id bigserial PRIMARY KEY, amount bigint NOT NULL);
		CREATE SEQUENCE ledger_no;
		CREATE TABLE ledger (no bigint NOT NULL DEFAULT nextval('ledger_no'), line text);
		CREATE TABLE transfers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
		CREATE TABLE audit_log (id bigserial PRIMARY KEY, line text);
		CREATE ROLE other_app LOGIN CREATEDB CREATEROLE PASSWORD 'old';`)
	secrets := fakeSecrets{"db": secretOf(srv)}
	r := newDirect(t, secrets)
	db := Database{Side: "source", SecretARN: "db"}
	pool := srv.Pool(t)

	for _, tc := range []struct {
		name, user, password string
	}{
		{"created", appUser, "first-password"},
		{"again, same password", appUser, "first-password"},
		{"password rotated", appUser, "second-password"},
		{"password outside ASCII, with quote and backslash", appUser, `dr'itt\es Pässwört`},
		{"an existing role loses CREATEDB and CREATEROLE", "other_app", "fresh-password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secrets["app"] = appSecretOf(tc.user, tc.password)
			role := AppRole{Name: tc.user, SecretARN: "app", Schema: "public", Tables: []string{"payments", "ledger", "transfers"}}
			if err := r.EnsureAppRole(ctx, db, role); err != nil {
				t.Fatal(err)
			}
			var login, super, repl, createRole, createDB bool
			if err := pool.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolreplication, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1`, tc.user).
				Scan(&login, &super, &repl, &createRole, &createDB); err != nil {
				t.Fatal(err)
			}
			if !login || super || repl || createRole || createDB {
				t.Errorf("attributes: login %v super %v replication %v createrole %v createdb %v", login, super, repl, createRole, createDB)
			}
			app := connectAs(t, srv, tc.user, tc.password)
			for _, stmt := range []string{
				`INSERT INTO public.payments (amount) VALUES (100)`,
				`UPDATE public.payments SET amount = amount + 1`,
				`INSERT INTO public.ledger (line) VALUES ('x')`,
				`INSERT INTO public.transfers (note) VALUES ('x')`,
				`DELETE FROM public.ledger`,
			} {
				if _, err := app.Exec(ctx, stmt); err != nil {
					t.Errorf("%s: %v", stmt, err)
				}
			}
			for _, tc := range []struct{ stmt, want string }{
				{`CREATE TABLE public.mine (id int)`, "permission denied for schema public"},
				{`INSERT INTO public.audit_log (line) VALUES ('x')`, "permission denied for table audit_log"},
				{`SELECT count(*) FROM public.audit_log`, "permission denied for table audit_log"},
			} {
				if _, err := app.Exec(ctx, tc.stmt); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want %q", tc.stmt, err, tc.want)
				}
			}
		})
	}
	// Passwords rotated away no longer open a session.
	if conn, err := pgx.Connect(ctx, appURL(srv, appUser, "first-password")); err == nil {
		conn.Close(ctx)
		t.Error("the first password still works after two rotations")
	}
	// The ASCII passwords went to the server as SCRAM verifiers, not in the
	// statement log.
	log, err := os.ReadFile(filepath.Join(filepath.Dir(srv.DataDir), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"first-password", "second-password", "fresh-password"} {
		if strings.Contains(string(log), pw) {
			t.Errorf("the server's log shows the password %q", pw)
		}
	}

	for _, tc := range []struct {
		name string
		role AppRole
		want string
	}{
		{"the secret names another user", AppRole{Name: "someone_else", SecretARN: "app", Schema: "public"}, `names user "other_app"`},
		{"the master user", AppRole{Name: srv.User, SecretARN: "master-as-app", Schema: "public"}, "is the master user"},
		{"no secret", AppRole{Name: appUser, SecretARN: "missing", Schema: "public"}, "source database: reading secret missing"},
		{"a table that is not there", AppRole{Name: "other_app", SecretARN: "app", Schema: "public", Tables: []string{"nope"}}, `source database: grants to application role other_app: GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "public"."nope"`},
	} {
		secrets["master-as-app"] = appSecretOf(srv.User, srv.Password)
		if err := r.EnsureAppRole(ctx, db, tc.role); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// pair is a source replicating into a target by logical replication, as the
// forward path (and the reverse one, the other way) replicates payments, with
// the application role on both.
type pair struct {
	src, dst           *pgtest.Server
	srcPool, dstPool   *pgxpool.Pool
	r                  *Direct
	source, target     Database
	appSecret, appPass string
}

func startPair(t *testing.T) *pair {
	ctx := context.Background()
	p := &pair{src: pgtest.Start(t, pgtest.Options{}), dst: pgtest.Start(t, pgtest.Options{}), appSecret: "app", appPass: "app-password"}
	p.srcPool, p.dstPool = p.src.Pool(t), p.dst.Pool(t)
	p.r = newDirect(t, fakeSecrets{"src": secretOf(p.src), "dst": secretOf(p.dst), "app": appSecretOf(appUser, p.appPass)})
	p.source, p.target = Database{Side: "source", SecretARN: "src"}, Database{Side: "target", SecretARN: "dst"}
	const tables = `CREATE TABLE payments (id bigserial PRIMARY KEY, amount bigint NOT NULL);
		CREATE SEQUENCE descending INCREMENT -1 MINVALUE -1000000000 MAXVALUE -1 START -1;`
	for _, side := range []struct {
		srv *pgtest.Server
		db  Database
	}{{p.src, p.source}, {p.dst, p.target}} {
		side.srv.Exec(t, tables)
		if err := p.r.EnsureWatermarkTable(ctx, side.db, "public"); err != nil {
			t.Fatal(err)
		}
		if err := p.r.EnsureWatermarkTable(ctx, side.db, "public"); err != nil {
			t.Fatalf("a second time: %v", err)
		}
		if err := p.r.EnsureAppRole(ctx, side.db, AppRole{Name: appUser, SecretARN: "app", Schema: "public", Tables: []string{"payments"}}); err != nil {
			t.Fatal(err)
		}
	}
	p.src.Exec(t, `CREATE PUBLICATION forward FOR TABLE public.payments, public.`+naming.WatermarkTable)
	p.dst.Exec(t, fmt.Sprintf(`CREATE SUBSCRIPTION forward CONNECTION 'host=%s port=%d user=%s password=%s dbname=%s' PUBLICATION forward`,
		p.src.Host, p.src.Port, p.src.User, p.src.Password, p.src.Database))
	eventually(t, 30*time.Second, "initial sync of the subscription", func() (bool, error) {
		var pending int
		err := p.dstPool.QueryRow(ctx, `SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'`).Scan(&pending)
		return err == nil && pending == 0, err
	})
	return p
}

func (p *pair) replicated(t *testing.T, id int64) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("payment %d on the target", id), func() (bool, error) {
		var n int
		err := p.dstPool.QueryRow(context.Background(), `SELECT count(*) FROM public.payments WHERE id = $1`, id).Scan(&n)
		return n == 1, err
	})
}

func (p *pair) insertOnSource(t *testing.T) int64 {
	t.Helper()
	var id int64
	if err := p.srcPool.QueryRow(context.Background(), `INSERT INTO public.payments (amount) VALUES (1) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCutoverStepsOnAReplicatingPair(t *testing.T) {
	ctx := context.Background()
	p := startPair(t)
	r := p.r

	t.Run("role fence on the target stops the app and not replication", func(t *testing.T) {
		for range 2 {
			if err := r.SetFence(ctx, p.target, appUser, true); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _ = r.SetFence(ctx, p.target, appUser, false) })
		if on, err := r.FenceState(ctx, p.target, appUser); err != nil || !on {
			t.Fatalf("FenceState %v %v", on, err)
		}
		if on, err := r.FenceState(ctx, p.source, appUser); err != nil || on {
			t.Errorf("FenceState on the source %v %v", on, err)
		}
		if ro, err := r.ConfirmFence(ctx, p.target, p.appSecret); err != nil || !ro {
			t.Fatalf("ConfirmFence %v %v", ro, err)
		}
		app := connectAs(t, p.dst, appUser, p.appPass)
		if _, err := app.Exec(ctx, `INSERT INTO public.payments (id, amount) VALUES (1000001, 1)`); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
			t.Errorf("a fenced insert: %v", err)
		}
		// The apply worker runs as the subscription's owner: the backlog
		// keeps arriving.
		p.replicated(t, p.insertOnSource(t))
		p.replicated(t, p.insertOnSource(t))

		for range 2 {
			if err := r.SetFence(ctx, p.target, appUser, false); err != nil {
				t.Fatal(err)
			}
		}
		if on, err := r.FenceState(ctx, p.target, appUser); err != nil || on {
			t.Errorf("FenceState after lifting %v %v", on, err)
		}
		if ro, err := r.ConfirmFence(ctx, p.target, p.appSecret); err != nil || ro {
			t.Errorf("ConfirmFence after lifting %v %v", ro, err)
		}
		app = connectAs(t, p.dst, appUser, p.appPass)
		if _, err := app.Exec(ctx, `INSERT INTO public.payments (id, amount) VALUES (1000001, 1)`); err != nil {
			t.Errorf("an insert after the fence is lifted: %v", err)
		}
		p.dst.Exec(t, `DELETE FROM public.payments WHERE id = 1000001`)

		for _, tc := range []struct {
			name string
			err  error
			want string
		}{
			{"state of a role that is not there", func() error { _, err := r.FenceState(ctx, p.target, "nobody"); return err }(), "target database: fence on role nobody: the role does not exist"},
			{"fence on the master user", r.SetFence(ctx, p.target, p.dst.User, true), "is the master user"},
			{"drain of the master user", func() error { _, err := r.DrainSessions(ctx, p.target, p.dst.User, 0); return err }(), "is the master user"},
			{"fence on a role that is not there", r.SetFence(ctx, p.target, "nobody", true), `target database: fence on role nobody: ERROR: role "nobody" does not exist`},
			{"confirm with a wrong password", func() error {
				_, err := (&Direct{Secrets: fakeSecrets{"dst": secretOf(p.dst), "app": appSecretOf(appUser, "wrong")}, SSLMode: "disable"}).ConfirmFence(ctx, p.target, "app")
				return err
			}(), "confirming the fence: target database 127.0.0.1:" + strconv.Itoa(p.dst.Port) + " as payments_app"},
		} {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
			}
		}
	})

	t.Run("drain waits for open writes, then ends the role's sessions", func(t *testing.T) {
		walsender := queryInt(t, p.srcPool, `SELECT pid FROM pg_stat_replication`)
		operator := p.srcPool // the master user's own sessions
		t.Cleanup(func() { _ = r.SetFence(ctx, p.source, appUser, false) })
		const grace = 400 * time.Millisecond
		for _, tc := range []struct {
			name        string
			commitAfter time.Duration // 0: never, the drain must end it
		}{
			{"commits within the grace", 100 * time.Millisecond},
			{"stays open past the grace", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Cleanup(func() { _ = r.SetFence(ctx, p.source, appUser, false) })
				// Sessions from before the fence, as a pool holds them.
				writer := connectAs(t, p.src, appUser, p.appPass)
				idle := connectAs(t, p.src, appUser, p.appPass)
				if err := idle.Ping(ctx); err != nil {
					t.Fatal(err)
				}
				ownTx, err := operator.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer ownTx.Rollback(ctx)
				if _, err := ownTx.Exec(ctx, `INSERT INTO public.payments (amount) VALUES (7)`); err != nil {
					t.Fatal(err)
				}
				tx, err := writer.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO public.payments (amount) VALUES (1)`); err != nil {
					t.Fatal(err)
				}
				if err := r.SetFence(ctx, p.source, appUser, true); err != nil {
					t.Fatal(err)
				}
				commit := make(chan error, 1)
				if tc.commitAfter > 0 {
					go func() {
						time.Sleep(tc.commitAfter)
						commit <- tx.Commit(ctx)
					}()
				}
				res, err := r.DrainSessions(ctx, p.source, appUser, grace)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%+v", res)
				if res.OpenWritesWaited != 1 || res.SessionsTerminated != 2 {
					t.Errorf("waited for %d writes, terminated %d sessions; want 1 and 2", res.OpenWritesWaited, res.SessionsTerminated)
				}
				if tc.commitAfter > 0 {
					if err := <-commit; err != nil {
						t.Errorf("the write that finished within the grace: %v", err)
					}
					if res.Waited < tc.commitAfter/2 || res.Waited >= grace {
						t.Errorf("waited %s for a write that committed after %s", res.Waited, tc.commitAfter)
					}
				} else {
					if err := tx.Commit(ctx); err == nil {
						t.Error("the write still open after the grace committed")
					}
					if res.Waited < grace {
						t.Errorf("waited %s, less than the grace", res.Waited)
					}
				}
				if n := queryInt(t, p.srcPool, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, appUser); n != 0 {
					t.Errorf("%d sessions of the role left", n)
				}
				// The operator's own session, with its open write, and the
				// walsender are untouched.
				if _, err := ownTx.Exec(ctx, `SELECT 1`); err != nil {
					t.Errorf("the operator's session: %v", err)
				}
				if pid := queryInt(t, p.srcPool, `SELECT pid FROM pg_stat_replication`); pid != walsender {
					t.Errorf("walsender %d replaced by %d", walsender, pid)
				}
				// A session the pool opens now is fenced.
				again := connectAs(t, p.src, appUser, p.appPass)
				if _, err := again.Exec(ctx, `INSERT INTO public.payments (amount) VALUES (1)`); err == nil || !strings.Contains(err.Error(), "read-only transaction") {
					t.Errorf("a new session after the drain: %v", err)
				}
				again.Close(ctx)
				eventually(t, 5*time.Second, "the new session gone", func() (bool, error) {
					var n int
					err := p.srcPool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, appUser).Scan(&n)
					return n == 0, err
				})
			})
		}
		p.replicated(t, p.insertOnSource(t))
	})

	t.Run("watermark written on the source arrives on the target", func(t *testing.T) {
		var drains []time.Duration
		for i := range 20 {
			id := fmt.Sprintf("drain-%d-%d", time.Now().UnixNano(), i)
			start := time.Now()
			if err := r.WriteWatermark(ctx, p.source, "public", id); err != nil {
				t.Fatal(err)
			}
			found, err := r.WaitWatermark(ctx, p.target, "public", id, 5*time.Second)
			if err != nil || !found {
				t.Fatalf("WaitWatermark %v %v", found, err)
			}
			drains = append(drains, time.Since(start))
			if err := r.WriteWatermark(ctx, p.source, "public", id); err != nil {
				t.Fatalf("the same watermark again: %v", err)
			}
		}
		slices.Sort(drains)
		t.Logf("watermark drain (write on source to seen on target), 20 runs: p50 %s, max %s", drains[len(drains)/2], drains[len(drains)-1])

		start := time.Now()
		found, err := r.WaitWatermark(ctx, p.target, "public", "never-written", 50*time.Millisecond)
		if err != nil || found || time.Since(start) < 50*time.Millisecond {
			t.Errorf("a watermark never written: found %v, err %v after %s", found, err, time.Since(start))
		}
		if _, err := r.WaitWatermark(ctx, p.target, "nope", "x", time.Millisecond); err == nil || !strings.Contains(err.Error(), `target database: waiting for watermark x in "nope"."tapstack_cutover_watermark"`) {
			t.Errorf("a schema without the table: %v", err)
		}
	})

	t.Run("sequences move past the source's, never back", func(t *testing.T) {
		for range 3 {
			p.insertOnSource(t)
		}
		p.src.Exec(t, `SELECT nextval('public.descending') FROM generate_series(1, 5)`)
		srcPayments := queryInt(t, p.srcPool, `SELECT last_value FROM public.payments_id_seq`)
		const margin = 1000
		for _, tc := range []struct {
			name      string
			setup     string
			wantMoved int
			want      map[string]int64
		}{
			{"target behind", "", 2, map[string]int64{"payments_id_seq": srcPayments + margin, "descending": -5 - margin}},
			{"repeated", "", 0, map[string]int64{"payments_id_seq": srcPayments + margin, "descending": -5 - margin}},
			{"target ahead", `SELECT setval('public.payments_id_seq', 5000000)`, 0, map[string]int64{"payments_id_seq": 5000000, "descending": -5 - margin}},
			{"target ahead by one uncalled step", `SELECT setval('public.payments_id_seq', ` + strconv.FormatInt(srcPayments+margin+1, 10) + `, false)`, 0,
				map[string]int64{"payments_id_seq": srcPayments + margin + 1}},
			{"target one behind, uncalled", `SELECT setval('public.payments_id_seq', ` + strconv.FormatInt(srcPayments+margin, 10) + `, false)`, 1,
				map[string]int64{"payments_id_seq": srcPayments + margin}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.setup != "" {
					p.dst.Exec(t, tc.setup)
				}
				moved, err := r.SyncSequences(ctx, p.source, p.target, "public", margin)
				if err != nil {
					t.Fatal(err)
				}
				if moved != tc.wantMoved {
					t.Errorf("moved %d, want %d", moved, tc.wantMoved)
				}
				for seq, want := range tc.want {
					if got := queryInt(t, p.dstPool, `SELECT last_value FROM public.`+seq); got != want {
						t.Errorf("%s at %d, want %d", seq, got, want)
					}
				}
			})
		}
		// The next id the target hands out is past every id the source did.
		var next int64
		if err := p.dstPool.QueryRow(ctx, `SELECT nextval('public.payments_id_seq')`).Scan(&next); err != nil || next <= srcPayments {
			t.Errorf("next id on the target %d (%v), the source is at %d", next, err, srcPayments)
		}
		if _, err := r.SyncSequences(ctx, p.source, p.target, "public", -1); err == nil {
			t.Error("a negative margin accepted")
		}
	})

	t.Run("slot for the reverse path", func(t *testing.T) {
		const slot = "tapstack_reverse_test"
		exists := func() bool {
			t.Helper()
			ok, err := r.SlotExists(ctx, p.target, slot)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if exists() {
			t.Fatal("the slot exists before it is created")
		}
		first, err := r.CreateSlot(ctx, p.target, slot, "test_decoding")
		if err != nil {
			t.Fatal(err)
		}
		second, err := r.CreateSlot(ctx, p.target, slot, "test_decoding")
		if err != nil {
			t.Fatalf("a second time: %v", err)
		}
		if _, err := pgLSN(first); err != nil || first != second {
			t.Errorf("LSNs %q then %q (%v)", first, second, err)
		}
		if !exists() {
			t.Error("SlotExists does not see the slot")
		}
		if st, err := r.ReplicationSettings(ctx, p.target); err != nil || st.WALLevel != "logical" || st.UsedReplicationSlots < 1 || st.MaxReplicationSlots < st.UsedReplicationSlots || st.MaxWALSenders < 1 {
			t.Errorf("ReplicationSettings = %+v, %v; want wal_level logical and the slot counted", st, err)
		}
		// LogicalSlots lists it, not read from (no walsender), WAL reserved.
		slots, err := r.LogicalSlots(ctx, p.target)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(slots, func(s Slot) bool { return s.Name == slot }); i < 0 || slots[i].Active || slots[i].WALStatus != "reserved" || slots[i].RetainedBytes < 0 {
			t.Errorf("LogicalSlots = %+v, want %s inactive with its WAL reserved", slots, slot)
		}
		if _, err := r.CreateSlot(ctx, p.target, slot, "pgoutput"); err == nil || !strings.Contains(err.Error(), `target database: replication slot tapstack_reverse_test: exists as a logical slot with plugin "test_decoding", not a logical slot with "pgoutput"`) {
			t.Errorf("the same name with another plugin: %v", err)
		}
		// The slot captures a target write made after its consistent point.
		p.dst.Exec(t, `INSERT INTO public.payments (id, amount) VALUES (2000001, 5)`)
		var changes int64
		if err := p.dstPool.QueryRow(ctx, `SELECT count(*) FROM pg_logical_slot_peek_changes($1, NULL, NULL) WHERE data LIKE '%2000001%'`, slot).Scan(&changes); err != nil || changes != 1 {
			t.Errorf("the slot saw %d changes with the write (%v)", changes, err)
		}
		// The flip point splits what the target took: read from there, the
		// slot carries the write made after it and not the one before.
		at, err := r.MarkFlipPoint(ctx, p.target, slot, "test_decoding")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := pgLSN(at); err != nil || a < mustLSN(t, first) {
			t.Errorf("flip point %q is before the slot's %q (%v)", at, first, err)
		}
		p.dst.Exec(t, `INSERT INTO public.payments (id, amount) VALUES (2000002, 5)`)
		p.dst.Exec(t, fmt.Sprintf(`SELECT pg_replication_slot_advance('%s', '%s')`, slot, at))
		var before, after int64
		if err := p.dstPool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE data LIKE '%2000001%'), count(*) FILTER (WHERE data LIKE '%2000002%') FROM pg_logical_slot_peek_changes($1, NULL, NULL)`, slot).
			Scan(&before, &after); err != nil || before != 0 || after != 1 {
			t.Errorf("read from the flip point, the slot has %d changes of the write before it and %d of the one after, want 0 and 1 (%v)", before, after, err)
		}
		if _, err := r.MarkFlipPoint(ctx, p.target, slot, "pgoutput"); err == nil || !strings.Contains(err.Error(), `target database: marking the flip point on replication slot tapstack_reverse_test: exists as a logical slot with plugin "test_decoding"`) {
			t.Errorf("the flip point on a slot of another plugin: %v", err)
		}
		for range 2 {
			if err := r.DropSlot(ctx, p.target, slot); err != nil {
				t.Fatal(err)
			}
		}
		if exists() {
			t.Error("the slot is still there after DropSlot")
		}
		// Without the slot (someone dropped it), the flip point makes it.
		if _, err := r.MarkFlipPoint(ctx, p.target, slot, "test_decoding"); err != nil || !exists() {
			t.Errorf("the flip point without a slot: %v, slot made %t", err, exists())
		}
		if err := r.DropSlot(ctx, p.target, slot); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("longest write transaction", func(t *testing.T) {
		if age, err := r.LongestWriteTransaction(ctx, p.source); err != nil || age != 0 {
			t.Fatalf("with no open write: %s %v", age, err)
		}
		reader, err := p.srcPool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Rollback(ctx)
		if _, err := reader.Exec(ctx, `SELECT count(*) FROM public.payments`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		writer, err := p.srcPool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer writer.Rollback(ctx)
		if _, err := writer.Exec(ctx, `INSERT INTO public.payments (amount) VALUES (3)`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		age, err := r.LongestWriteTransaction(ctx, p.source)
		if err != nil {
			t.Fatal(err)
		}
		// The older read-only transaction does not count.
		if age < 100*time.Millisecond || age >= 300*time.Millisecond {
			t.Errorf("longest write transaction %s, want the writer's ~100ms", age)
		}
	})

	t.Run("the freeze, idle", func(t *testing.T) { freeze(t, p, 0) })
	t.Run("the freeze at 1000 writes a second", func(t *testing.T) { freeze(t, p, time.Millisecond) })
}

// freeze runs the freeze's steps in order while the service writes to the
// source every interval (not at all when 0), and logs what each costs: the
// operator's share of the window in which the service cannot write.
func freeze(t *testing.T, p *pair, interval time.Duration) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(appURL(p.src, appUser, p.appPass))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	written, refused := 0, 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		if interval == 0 {
			return
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_, err := app.Exec(ctx, `INSERT INTO public.payments (amount) VALUES (1)`)
			mu.Lock()
			if err == nil {
				written++
			} else {
				refused++
			}
			mu.Unlock()
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(300 * time.Millisecond)

	const runs = 5
	var totals []time.Duration
	for i := range runs {
		// A runner as the reconciler has it when the freeze begins: its
		// sessions are those the gates just used.
		r := newDirect(t, p.r.Secrets)
		// Made before the freeze, as the cutover does.
		if _, err := r.CreateSlot(ctx, p.target, "tapstack_reverse_freeze", "test_decoding"); err != nil {
			t.Fatal(err)
		}
		for _, db := range []Database{p.source, p.target} {
			if _, err := r.LongestWriteTransaction(ctx, db); err != nil {
				t.Fatal(err)
			}
		}
		var steps []string
		total := time.Duration(0)
		step := func(name string, fn func() error) {
			t.Helper()
			start := time.Now()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			d := time.Since(start)
			total += d
			steps = append(steps, fmt.Sprintf("%s %s", name, d.Round(10*time.Microsecond)))
		}
		id := fmt.Sprintf("freeze-%d-%d", time.Now().UnixNano(), i)
		step("fence", func() error { return r.SetFence(ctx, p.source, appUser, true) })
		step("confirm", func() error {
			ro, err := r.ConfirmFence(ctx, p.source, p.appSecret)
			if err == nil && !ro {
				err = errors.New("a new session of the role can write")
			}
			return err
		})
		step("drain", func() error { _, err := r.DrainSessions(ctx, p.source, appUser, 2*time.Second); return err })
		step("watermark", func() error { return r.WriteWatermark(ctx, p.source, "public", id) })
		step("wait", func() error {
			found, err := r.WaitWatermark(ctx, p.target, "public", id, 5*time.Second)
			if err == nil && !found {
				err = errors.New("not found")
			}
			return err
		})
		step("sequences", func() error { _, err := r.SyncSequences(ctx, p.source, p.target, "public", 1000); return err })
		step("flip point", func() error {
			_, err := r.MarkFlipPoint(ctx, p.target, "tapstack_reverse_freeze", "test_decoding")
			return err
		})
		totals = append(totals, total)
		t.Logf("freeze %d: %s; total %s", i, strings.Join(steps, ", "), total.Round(10*time.Microsecond))
		if err := r.DropSlot(ctx, p.target, "tapstack_reverse_freeze"); err != nil {
			t.Fatal(err)
		}
		// Sessions opened during the fence stay read-only after it is
		// lifted: they have to reconnect too.
		if err := r.SetFence(ctx, p.source, appUser, false); err != nil {
			t.Fatal(err)
		}
		if _, err := r.DrainSessions(ctx, p.source, appUser, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(totals)
	mu.Lock()
	t.Logf("freeze steps: p50 %s, max %s (service: %d written, %d refused)", totals[runs/2], totals[runs-1], written, refused)
	mu.Unlock()
}

func mustLSN(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := pgLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pgLSN reads the text form of an LSN.
func pgLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not an LSN", s)
	}
	return h<<32 | l, nil
}
