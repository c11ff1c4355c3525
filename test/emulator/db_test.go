package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
)

// dbSecret is what the stack's SecretTargetAttachment writes into a secret.
type dbSecret struct {
	Username, Password, Host, Engine string
	Port                             int
	DBName                           string `json:"dbname"`
	DBInstanceIdentifier             string
}

func (s *replicationStack) secret(t testing.TB, side string) dbSecret {
	t.Helper()
	key := map[string]string{"source": "SourceSecretArn", "target": "TargetSecretArn"}[side]
	out, err := s.sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.out[key])})
	if err != nil {
		t.Fatal(err)
	}
	var sec dbSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

// db connects to the source or target database the way the operator does:
// with the credentials and address from the instance's secret, over TLS.
func (s *replicationStack) db(t testing.TB, side string) *pgx.Conn {
	t.Helper()
	return connect(t, s.secret(t, side))
}

func connect(t testing.TB, sec dbSecret) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=require", sec.Username, sec.Host, sec.Port, sec.DBName)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = sec.Password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", sec.DBInstanceIdentifier, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// execSQL runs statements, failing the test on an error.
func execSQL(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func queryText(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var v *string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if v == nil {
		return "<null>"
	}
	return *v
}

// createPaymentTables makes the five tables the task's selection rules
// select, with a few rows each.
func createPaymentTables(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	execSQL(t, conn, `
		CREATE TABLE payments (id bigserial PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,
			amount_cents bigint NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'new', note text);
		CREATE TABLE transactions (id bigserial PRIMARY KEY, payment_id bigint REFERENCES payments(id), amount_cents bigint);
		CREATE TABLE refunds (id bigserial PRIMARY KEY, payment_id bigint, amount_cents bigint);
		CREATE TABLE payment_01 (id int PRIMARY KEY, v text);
		CREATE TABLE payment_02 (id int PRIMARY KEY, v text);
		CREATE TABLE paymentxmethods (id int PRIMARY KEY);
		INSERT INTO payments (idempotency_key, amount_cents) SELECT 'k' || g, g * 100 FROM generate_series(1, 3) g;
		INSERT INTO transactions (payment_id, amount_cents) SELECT id, amount_cents FROM payments;
		INSERT INTO payment_01 VALUES (1, 'a'), (2, 'b');
		INSERT INTO payment_02 VALUES (1, 'c');`)
}

// eventually polls cond every 100 ms for up to 20 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
