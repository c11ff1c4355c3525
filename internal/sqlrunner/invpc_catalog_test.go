package sqlrunner

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// lobSchema adds every type pgcatalog.IsLOB knows, and some it does not,
// to the payment schema, and a table name that needs quoting.
const lobSchema = `
CREATE TABLE "payment notes" (
  id bigserial PRIMARY KEY,
  t text, vc varchar, vc10 varchar(10), j json, jb jsonb, x xml, b bytea, arr int[], tarr text[], ch char(4), n numeric
);
INSERT INTO "payment notes" (t, vc, vc10, j, jb, x, b, arr, tarr, ch, n)
  VALUES ('hello', 'wörld', 'short', '{"a": 1}', '{"b": [1, 2]}', '<a>x</a>', '\x0102', '{1,2,3}', '{"a b","c"}', 'abcd', 1.5);
ANALYZE;
`

// Both runners read the same catalog from the same server: the selection by
// patterns (with the unmatched ones) and by names, the LOB sizes, and the
// settings, on the source's schema and on an empty target.
func TestInspectOfBothRunnersIsTheSame(t *testing.T) {
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	dst := pgtest.Start(t, pgtest.Options{})
	src.Exec(t, schema+lobSchema)
	direct := &Direct{Secrets: fakeSecrets{"src": secretOf(src), "dst": secretOf(dst)}, SSLMode: "disable"}
	t.Cleanup(func() { _ = direct.Close() })
	env := append(append(taskEnv("SOURCE", src), taskEnv("TARGET", dst)...), "APP_USER=x", "APP_PASSWORD=x", "PGSSLMODE=disable")
	tasks := &localTasks{env: env}
	invpc := &InVPC{Tasks: tasks, SourceSecretARN: "src", TargetSecretARN: "dst", AppSecretARN: "app"}
	source, target := Database{Side: "source", SecretARN: "src"}, Database{Side: "target", SecretARN: "dst"}

	for _, tc := range []struct {
		name string
		db   Database
		req  InspectRequest
		want []string // the tables selected
	}{
		{"patterns with LOBs", source, InspectRequest{Schema: "public", Patterns: append(patterns, "nothing_%", "payment notes"), MeasureLOBs: true},
			[]string{"payment notes", "payment_methods", "payments", "refunds", "transactions"}},
		{"patterns without LOBs", source, InspectRequest{Schema: "public", Patterns: []string{"pay%s", "audit\\_log", "%_log"}},
			[]string{"audit_log", "payment notes", "payment_methods", "payments"}},
		{"names", source, InspectRequest{Schema: "public", Tables: []string{"refunds", "payments", "missing"}, MeasureLOBs: true},
			[]string{"refunds", "payments"}},
		{"no names", source, InspectRequest{Schema: "public", Tables: []string{}}, nil},
		{"an empty target", target, InspectRequest{Schema: "public", Tables: []string{"payments"}}, nil},
		{"a schema that is not there", source, InspectRequest{Schema: "nope", Patterns: patterns}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := direct.Inspect(ctx, tc.db, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := invpc.Inspect(ctx, tc.db, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if names := want.TableNames(); !reflect.DeepEqual(names, tc.want) && !(len(names) == 0 && len(tc.want) == 0) {
				t.Fatalf("direct selected %q, want %q", names, tc.want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("in-VPC:\n%+v\ndirect:\n%+v", got, want)
			}
		})
	}
	// The LOB sizes are measured, not left at -1.
	cat, err := invpc.Inspect(ctx, source, InspectRequest{Schema: "public", Tables: []string{"payment notes"}, MeasureLOBs: true})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	for _, c := range cat.Tables[0].Columns {
		sizes[c.Name] = c.MaxValueBytes
	}
	wantSizes := map[string]int64{"id": -1, "t": 5, "vc": 6, "vc10": -1, "j": 8, "jb": 13, "x": 8, "b": 2, "arr": 7, "tarr": 9, "ch": -1, "n": -1}
	if !reflect.DeepEqual(sizes, wantSizes) {
		t.Errorf("LOB sizes %v, want %v", sizes, wantSizes)
	}

	s1, err := direct.ReplicationSettings(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := invpc.ReplicationSettings(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 || s1.WALLevel != "logical" || s1.MaxReplicationSlots == 0 {
		t.Errorf("settings: in-VPC %+v, direct %+v", s2, s1)
	}
}

// A catalog bigger than one log line comes back in parts, in order.
func TestReadJSONJoinsTheParts(t *testing.T) {
	doc := `{"Names":["` + strings.Repeat("a", 2*chunkSize) + `"]}`
	b := base64.StdEncoding.EncodeToString([]byte(doc))
	var lines []string
	for i := 0; i*chunkSize < len(b); i++ {
		lines = append(lines, "TAPSTACK step=inspect part="+strconv.Itoa(i)+" data="+b[i*chunkSize:min(len(b), (i+1)*chunkSize)])
	}
	// Out of order, as two log events may be read.
	lines[0], lines[1] = lines[1], lines[0]
	var w wireCatalog
	if err := readJSON(parseResult(lines), "inspect", &w); err != nil || len(w.Names) != 1 || len(w.Names[0]) != 2*chunkSize {
		t.Fatalf("%v %d", err, len(w.Names))
	}
	if err := readJSON(parseResult(lines[1:]), "inspect", &w); err == nil || !strings.Contains(err.Error(), "part 1 of") {
		t.Errorf("a missing part: %v", err)
	}
}

// Both runners create the application's role with the password of its
// secret (which works for logging in, and is replaced on rotation), take
// the attributes it must not have, grant exactly the service's tables and
// their sequences, and refuse the master user and a secret of another user.
// The in-VPC one never shows the password in the server's statement log.
func TestEnsureAppRoleOfBothRunners(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{Settings: map[string]string{"log_statement": "'all'"}})
	srv.Exec(t, `
		CREATE TABLE payments (id bigserial PRIMARY KEY, amount bigint NOT NULL);
		CREATE SEQUENCE ledger_no;
		CREATE TABLE ledger (no bigint NOT NULL DEFAULT nextval('ledger_no'), line text);
		CREATE TABLE transfers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
		CREATE TABLE audit_log (id bigserial PRIMARY KEY, line text);
		CREATE ROLE other_app LOGIN CREATEDB CREATEROLE PASSWORD 'old';
		CREATE ROLE "in vpc ""app""" LOGIN CREATEDB PASSWORD 'old';`)
	secrets := fakeSecrets{"db": secretOf(srv)}
	db := Database{Side: "source", SecretARN: "db"}
	pool := srv.Pool(t)
	var plain []string
	for _, runner := range []struct {
		name, user string
		runner     func(user, password string) Runner
	}{
		{"direct", appUser, func(user, password string) Runner {
			secrets["app"] = appSecretOf(user, password)
			return newDirect(t, secrets)
		}},
		{"in-VPC", `in vpc "app"`, func(user, password string) Runner {
			env := append(taskEnv("SOURCE", srv), taskEnv("TARGET", srv)...)
			env = append(env, "APP_USER="+user, "APP_PASSWORD="+password, "PGSSLMODE=disable")
			return &InVPC{Tasks: &localTasks{env: env}, SourceSecretARN: "db", TargetSecretARN: "other", AppSecretARN: "app"}
		}},
	} {
		t.Run(runner.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, user, password string
			}{
				{"created", runner.user, "first-" + runner.name},
				{"again, same password", runner.user, "first-" + runner.name},
				{"password rotated", runner.user, "second-" + runner.name},
				{"password outside ASCII, with quote and backslash", runner.user, `dr'itt\es Pässwört`},
				{"an existing role loses CREATEDB and CREATEROLE", "other_app", "fresh-" + runner.name},
			} {
				if !strings.Contains(tc.password, "ä") {
					plain = append(plain, tc.password)
				}
				role := AppRole{Name: tc.user, SecretARN: "app", Schema: "public", Tables: []string{"payments", "ledger", "transfers"}}
				if err := runner.runner(tc.user, tc.password).EnsureAppRole(ctx, db, role); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				var login, super, repl, createRole, createDB bool
				if err := pool.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolreplication, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1`, tc.user).
					Scan(&login, &super, &repl, &createRole, &createDB); err != nil {
					t.Fatal(err)
				}
				if !login || super || repl || createRole || createDB {
					t.Errorf("%s: login %v super %v replication %v createrole %v createdb %v", tc.name, login, super, repl, createRole, createDB)
				}
				app := connectAs(t, srv, tc.user, tc.password)
				for _, stmt := range []string{
					`INSERT INTO public.payments (amount) VALUES (100)`,
					`INSERT INTO public.ledger (line) VALUES ('x')`,
					`INSERT INTO public.transfers (note) VALUES ('x')`,
					`DELETE FROM public.ledger`,
				} {
					if _, err := app.Exec(ctx, stmt); err != nil {
						t.Errorf("%s: %s: %v", tc.name, stmt, err)
					}
				}
				if _, err := app.Exec(ctx, `SELECT count(*) FROM public.audit_log`); err == nil || !strings.Contains(err.Error(), "permission denied for table audit_log") {
					t.Errorf("%s: a table outside the service's: %v", tc.name, err)
				}
			}
			if conn, err := pgx.Connect(ctx, appURL(srv, runner.user, "first-"+runner.name)); err == nil {
				conn.Close(ctx)
				t.Error("the first password still works after two rotations")
			}
			for _, tc := range []struct {
				name           string
				user, password string
				role           AppRole
				want           string
			}{
				{"the secret names another user", "other_app", "pw", AppRole{Name: "someone_else", SecretARN: "app", Schema: "public"}, `names user "other_app"`},
				{"the master user", srv.User, srv.Password, AppRole{Name: srv.User, SecretARN: "app", Schema: "public"}, "is the master user"},
				{"a table that is not there", "other_app", "pw", AppRole{Name: "other_app", SecretARN: "app", Schema: "public", Tables: []string{"nope"}}, `relation "public.nope" does not exist`},
			} {
				if err := runner.runner(tc.user, tc.password).EnsureAppRole(ctx, db, tc.role); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
				}
			}
		})
	}
	// The ASCII passwords reached the server as SCRAM verifiers: neither
	// they nor their base64 (how the in-VPC task hands them over) are in the
	// log of every statement.
	log, err := os.ReadFile(filepath.Join(filepath.Dir(srv.DataDir), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range plain {
		for _, form := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw))} {
			if strings.Contains(string(log), form) {
				t.Errorf("the server's log shows the password %q as %q", pw, form)
			}
		}
	}
}

// The production role of an existing source is checked by both runners,
// and nothing about it changes: not its password, not its grants.
func TestAnExistingSourcesRoleIsCheckedNeverAltered(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	srv.Exec(t, `
		CREATE TABLE payments (id bigserial PRIMARY KEY, amount bigint NOT NULL);
		CREATE TABLE ledger (id bigserial PRIMARY KEY, line text);
		CREATE ROLE prod_app LOGIN PASSWORD 'prod-pw';
		GRANT INSERT, UPDATE, SELECT ON payments, ledger TO prod_app;
		CREATE ROLE prod_reader LOGIN PASSWORD 'r';
		GRANT SELECT, INSERT ON payments, ledger TO prod_reader;
		CREATE ROLE prod_nologin NOLOGIN;
		CREATE ROLE prod_super LOGIN SUPERUSER PASSWORD 's';`)
	pool := srv.Pool(t)
	verifier := func() string {
		var v string
		if err := pool.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = 'prod_app'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := verifier()
	db := Database{Side: "source", SecretARN: "db"}
	for _, runner := range []struct {
		name string
		r    func(user string) Runner
	}{
		{"direct", func(user string) Runner {
			return newDirect(t, fakeSecrets{"db": secretOf(srv), "app": appSecretOf(user, "whatever-the-secret-says")})
		}},
		{"in-VPC", func(user string) Runner {
			env := append(taskEnv("SOURCE", srv), taskEnv("TARGET", srv)...)
			env = append(env, "APP_USER="+user, "APP_PASSWORD=whatever-the-secret-says", "PGSSLMODE=disable")
			return &InVPC{Tasks: &localTasks{env: env}, SourceSecretARN: "db", TargetSecretARN: "other", AppSecretARN: "app"}
		}},
	} {
		t.Run(runner.name, func(t *testing.T) {
			role := func(name string) AppRole {
				return AppRole{Name: name, SecretARN: "app", Schema: "public", Tables: []string{"payments", "ledger"}, Existing: true}
			}
			if err := runner.r("prod_app").EnsureAppRole(ctx, db, role("prod_app")); err != nil {
				t.Fatalf("the production role: %v", err)
			}
			for _, tc := range []struct{ user, want string }{
				{"nobody", "no such role on the existing source"},
				{"prod_reader", "cannot insert into or update"},
				{"prod_nologin", "cannot log in"},
				{"prod_super", "a superuser"},
			} {
				err := runner.r(tc.user).EnsureAppRole(ctx, db, role(tc.user))
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "spec.source.applicationSecretARN") {
					t.Errorf("%s: %v, want %q naming spec.source.applicationSecretARN", tc.user, err, tc.want)
				}
			}
		})
	}
	if after := verifier(); after != before {
		t.Error("checking the production role changed its password")
	}
	connectAs(t, srv, "prod_app", "prod-pw")
}
