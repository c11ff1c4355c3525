package sqlrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// fakeSecrets serves database secrets by ARN, as the stack's attached
// secrets look.
type fakeSecrets map[string]string

func (f fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f[aws.ToString(in.SecretId)]
	if !ok {
		return nil, fmt.Errorf("ResourceNotFoundException: secret %s", aws.ToString(in.SecretId))
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func secretOf(s *pgtest.Server) string {
	out, _ := json.Marshal(map[string]any{"username": s.User, "password": s.Password, "host": s.Host, "port": s.Port, "dbname": s.Database, "engine": "postgres"})
	return string(out)
}

// schema is a payment schema with every kind of object the target plan
// recreates: serial and identity keys, defaults, a generated column, check,
// unique and foreign keys, a plain and a partial index, LOB columns, a
// quoted name, and tables the patterns leave out.
const schema = `
CREATE TABLE payment_methods (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('card', 'bank')),
  fingerprint text UNIQUE
);
CREATE TABLE payments (
  id bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  currency char(3) NOT NULL DEFAULT 'USD',
  method_id bigint REFERENCES payment_methods(id),
  status text NOT NULL DEFAULT 'captured',
  "order" integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  receipt bytea,
  amount_major numeric GENERATED ALWAYS AS (amount_cents / 100.0) STORED
);
CREATE INDEX payments_created_at_idx ON payments (created_at);
CREATE INDEX payments_pending_idx ON payments (status) WHERE status = 'pending';
CREATE TABLE transactions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payment_id bigint NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
  kind text NOT NULL
);
CREATE TABLE refunds (
  id bigserial PRIMARY KEY,
  payment_id bigint NOT NULL REFERENCES payments(id),
  amount_cents bigint NOT NULL
);
CREATE TABLE paymentsarchive (id bigint PRIMARY KEY);
CREATE TABLE audit_log (id bigserial PRIMARY KEY, line text);
INSERT INTO payment_methods (kind, fingerprint) VALUES ('card', 'f1');
INSERT INTO payments (idempotency_key, amount_cents, method_id, metadata, receipt)
  SELECT 'k' || g, g * 100, 1, jsonb_build_object('note', repeat('x', g)), decode(repeat('ab', g), 'hex') FROM generate_series(1, 50) g;
`

var patterns = []string{"payments", "transactions", "refunds", "payment_%"}

func TestInspectPlanAndApplyRecreateTheSourceSchema(t *testing.T) {
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	dst := pgtest.Start(t, pgtest.Options{})
	src.Exec(t, schema)
	r := &Direct{Secrets: fakeSecrets{"src": secretOf(src), "dst": secretOf(dst)}, SSLMode: "disable"}
	source, target := Database{Side: "source", SecretARN: "src"}, Database{Side: "target", SecretARN: "dst"}

	sc, err := r.Inspect(ctx, source, InspectRequest{Schema: "public", Patterns: patterns, MeasureLOBs: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sc.TableNames(), ","); got != "payment_methods,payments,refunds,transactions" {
		t.Fatalf("selected %s", got)
	}
	if len(sc.Unmatched) != 0 || sc.Settings.WALLevel != "logical" || sc.Settings.MaxReplicationSlots != 20 {
		t.Errorf("unmatched %v, settings %+v", sc.Unmatched, sc.Settings)
	}
	p := sc.Table("payments")
	for _, c := range p.Columns {
		switch c.Name {
		case "metadata":
			if c.MaxValueBytes != int64(len(`{"note": ""}`)+50) {
				t.Errorf("metadata largest value %d bytes", c.MaxValueBytes)
			}
		case "receipt":
			if c.MaxValueBytes != 50 {
				t.Errorf("receipt largest value %d bytes", c.MaxValueBytes)
			}
		case "id":
			if c.Default != "nextval('public.payments_id_seq'::regclass)" || c.MaxValueBytes != -1 {
				t.Errorf("id: %+v", c)
			}
		}
	}

	tc, err := r.Inspect(ctx, target, InspectRequest{Schema: "public", Tables: sc.TableNames()})
	if err != nil {
		t.Fatal(err)
	}
	plan := pgcatalog.PlanTarget(sc, tc)
	if len(plan.Problems) != 0 || len(plan.Create) != 4 {
		t.Fatalf("plan: %+v", plan)
	}
	if err := r.ApplyDDL(ctx, target, plan.Statements); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(plan.Statements, ";\n"))
	}

	// The target now says of its tables exactly what the source says.
	tc, err = r.Inspect(ctx, target, InspectRequest{Schema: "public", Tables: sc.TableNames()})
	if err != nil {
		t.Fatal(err)
	}
	again := pgcatalog.PlanTarget(sc, tc)
	if len(again.Problems) != 0 || len(again.Statements) != 0 || len(again.Matching) != 4 {
		t.Fatalf("after applying: %+v", again)
	}
	// What DMS would not have created works on the target: the unique key
	// refuses a second payment with the same idempotency key, defaults fill in.
	dst.Exec(t, `INSERT INTO payment_methods (kind) VALUES ('bank'); INSERT INTO payments (idempotency_key, amount_cents) VALUES ('dup', 1)`)
	var currency, status string
	if err := dst.Pool(t).QueryRow(ctx, `SELECT currency, status FROM payments WHERE idempotency_key = 'dup'`).Scan(&currency, &status); err != nil || currency != "USD" || status != "captured" {
		t.Errorf("defaults on the target: %q %q %v", currency, status, err)
	}
	if _, err := dst.Pool(t).Exec(ctx, `INSERT INTO payments (idempotency_key, amount_cents) VALUES ('dup', 2)`); err == nil || !strings.Contains(err.Error(), "payments_idempotency_key_key") {
		t.Errorf("a second payment with the same key: %v", err)
	}
}

func TestPlanRefusesATargetTableThatDiffers(t *testing.T) {
	ctx := context.Background()
	src := pgtest.Start(t, pgtest.Options{})
	dst := pgtest.Start(t, pgtest.Options{})
	src.Exec(t, schema)
	// What DMS's DROP_AND_CREATE leaves: the columns and the primary key only.
	dst.Exec(t, `CREATE TABLE refunds (id bigint PRIMARY KEY, payment_id bigint, amount_cents bigint)`)
	r := &Direct{Secrets: fakeSecrets{"src": secretOf(src), "dst": secretOf(dst)}, SSLMode: "disable"}
	sc, err := r.Inspect(ctx, Database{Side: "source", SecretARN: "src"}, InspectRequest{Schema: "public", Patterns: patterns})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := r.Inspect(ctx, Database{Side: "target", SecretARN: "dst"}, InspectRequest{Schema: "public", Tables: sc.TableNames()})
	if err != nil {
		t.Fatal(err)
	}
	plan := pgcatalog.PlanTarget(sc, tc)
	if len(plan.Problems) != 1 || plan.Problems[0].Table != "refunds" || len(plan.Statements) != 0 {
		t.Fatalf("plan: %+v", plan)
	}
	for _, want := range []string{"column id defaults to nextval('public.refunds_id_seq'::regclass) on the source, nothing on the target",
		"column payment_id is NOT NULL on the source, nullable on the target",
		"foreign key refunds_payment_id_fkey missing (FOREIGN KEY (payment_id) REFERENCES public.payments(id))"} {
		if !strings.Contains(plan.Problems[0].Reason, want) {
			t.Errorf("problem does not say %q:\n%s", want, plan.Problems[0].Reason)
		}
	}
}

func TestConnectErrorsNameTheDatabase(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	noPassword := strings.Replace(secretOf(srv), `"password":"`+srv.Password+`"`, `"password":""`, 1)
	wrongPassword := strings.Replace(secretOf(srv), srv.Password, "wrong", 1)
	r := &Direct{SSLMode: "disable", Secrets: fakeSecrets{"nopw": noPassword, "wrong": wrongPassword, "junk": "not json"}}
	for _, tc := range []struct{ arn, want string }{
		{"missing", "source database: reading secret missing"},
		{"nopw", "source database: secret nopw lacks password (host"},
		{"junk", "secret junk is not the JSON of a database secret"},
		{"wrong", "password authentication failed"},
	} {
		_, err := r.Inspect(ctx, Database{Side: "source", SecretARN: tc.arn}, InspectRequest{Schema: "public"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.arn, err, tc.want)
		}
	}
}

// sslmode=require must mean TLS to the secret's host: derived from a config
// that had no host, TLS would be off (libpq's default host is a unix socket),
// and a server that only accepts TLS (rds.force_ssl) refuses the session.
func TestConfigUsesTLSToTheSecretsHost(t *testing.T) {
	secrets := fakeSecrets{"db": `{"username":"app","password":"p@ss w/ord","host":"db.example.internal","port":"6543","dbname":"payments"}`}
	for _, tc := range []struct {
		mode    string
		wantTLS bool
	}{{"", true}, {"require", true}, {"verify-full", true}, {"disable", false}} {
		cfg, err := (&Direct{Secrets: secrets, SSLMode: tc.mode}).config(context.Background(), Database{Side: "source", SecretARN: "db"})
		if err != nil {
			t.Fatalf("%q: %v", tc.mode, err)
		}
		if cfg.Host != "db.example.internal" || cfg.Port != 6543 || cfg.User != "app" || cfg.Password != "p@ss w/ord" || cfg.Database != "payments" {
			t.Errorf("%q: %s:%d %s %q %s", tc.mode, cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database)
		}
		if (cfg.TLSConfig != nil) != tc.wantTLS {
			t.Errorf("%q: TLS %v, want %v", tc.mode, cfg.TLSConfig != nil, tc.wantTLS)
		}
		if tc.wantTLS && len(cfg.Fallbacks) > 0 {
			t.Errorf("%q: a plain-text fallback %+v", tc.mode, cfg.Fallbacks[0])
		}
		if tc.mode == "verify-full" && cfg.TLSConfig.ServerName != "db.example.internal" {
			t.Errorf("verify-full checks the name %q", cfg.TLSConfig.ServerName)
		}
	}
	if _, err := (&Direct{Secrets: secrets, SSLMode: "sometimes"}).config(context.Background(), Database{Side: "source", SecretARN: "db"}); err == nil || !strings.Contains(err.Error(), `sslmode "sometimes"`) {
		t.Errorf("a bad sslmode: %v", err)
	}
}
