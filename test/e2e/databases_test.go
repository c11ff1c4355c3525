package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// database is one of a migration's databases, reached as the service and the
// operator reach it: through its Secrets Manager secret, over TLS.
type database struct {
	conn workload.Conn
	pool *pgxpool.Pool
}

func openDatabase(t *testing.T, secretARN string) *database {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(callCtx(t), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Username, Password, Host, Dbname string
		Port                             int
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		t.Fatal(err)
	}
	db := &database{conn: workload.Conn{Host: s.Host, Port: s.Port, User: s.Username, Password: s.Password, Database: s.Dbname, SSLMode: "require"}}
	db.pool, err = workload.OpenPool(callCtx(t), db.conn, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.pool.Close)
	return db
}

func (db *database) exec(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	tag, err := db.pool.Exec(callCtx(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag.RowsAffected()
}

func (db *database) count(t *testing.T, table string) int64 {
	t.Helper()
	var n int64
	if err := db.pool.QueryRow(callCtx(t), "SELECT count(*) FROM public."+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// background is a payment workload running until stopped.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	report workload.Report
	err    error
}

// startWorkload writes payments to db at rate until stop is called.
func startWorkload(t *testing.T, db *database, rate float64) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.report, b.err = workload.Run(ctx, workload.Config{Conn: db.conn, Rate: rate, Workers: 8, Duration: time.Hour, RefundEvery: -1})
	}()
	t.Cleanup(func() { b.stop(t) })
	return b
}

var stopOnce sync.Mutex

// stop ends the workload and returns its report (printed into the test log).
func (b *background) stop(t *testing.T) workload.Report {
	t.Helper()
	stopOnce.Lock()
	defer stopOnce.Unlock()
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel = nil
		if b.err != nil {
			t.Fatalf("workload: %v", b.err)
		}
		var out strings.Builder
		_ = b.report.Print(&out)
		t.Logf("payment workload:\n%s", out.String())
	}
	return b.report
}
