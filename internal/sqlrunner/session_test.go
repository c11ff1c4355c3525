package sqlrunner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

// countingSecrets counts the reads that reach Secrets Manager.
type countingSecrets struct {
	mu      sync.Mutex
	secrets fakeSecrets
	reads   atomic.Int64
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.reads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secrets.GetSecretValue(ctx, in, opts...)
}

func (c *countingSecrets) set(arn, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets[arn] = value
}

// cachedPID is the backend of the idle session cached for arn, 0 if none.
func (d *Direct) cachedPID(arn string) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.idle[arn]; s != nil {
		return s.conn.PgConn().PID()
	}
	return 0
}

func TestSessionCache(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	srv.Exec(t, `CREATE TABLE payments (id bigserial PRIMARY KEY); CREATE ROLE `+appUser+` LOGIN PASSWORD 'app-password'`)
	secrets := &countingSecrets{secrets: fakeSecrets{"db": secretOf(srv), "app": appSecretOf(appUser, "app-password")}}
	r := newDirect(t, secrets)
	db := Database{Side: "source", SecretARN: "db"}
	pool := srv.Pool(t)
	reconnect := func() { pool = srv.Pool(t) } // a restart ends the pool's sessions
	operatorSessions := func() int64 {
		return queryInt(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, applicationName)
	}
	if err := r.EnsureWatermarkTable(ctx, db, "public"); err != nil {
		t.Fatal(err)
	}

	t.Run("one session and one secret read for consecutive calls", func(t *testing.T) {
		pid := r.cachedPID("db")
		reads := secrets.reads.Load()
		for range 5 {
			if _, err := r.FenceState(ctx, db, appUser); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Inspect(ctx, db, InspectRequest{Schema: "public", Tables: []string{"payments"}}); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.cachedPID("db"); pid == 0 || got != pid {
			t.Errorf("cached backend %d, then %d", pid, got)
		}
		if n := secrets.reads.Load() - reads; n != 0 {
			t.Errorf("%d secret reads for calls within the TTL", n)
		}
	})

	t.Run("ConfirmFence always opens a new session of its own", func(t *testing.T) {
		pid := r.cachedPID("db")
		for range 3 {
			if ro, err := r.ConfirmFence(ctx, db, "app"); err != nil || ro {
				t.Fatalf("ConfirmFence %v %v", ro, err)
			}
		}
		if r.cachedPID("app") != 0 || r.cachedPID("db") != pid {
			t.Error("ConfirmFence touched the cache")
		}
		eventually(t, 5*time.Second, "the role's sessions closed", func() (bool, error) {
			var n int
			err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, appUser).Scan(&n)
			return n == 0, err
		})
		// A fresh session sees a fence set a moment ago; the cached one
		// would not have, had it been of the role.
		if err := r.SetFence(ctx, db, appUser, true); err != nil {
			t.Fatal(err)
		}
		if ro, err := r.ConfirmFence(ctx, db, "app"); err != nil || !ro {
			t.Errorf("ConfirmFence right after the fence %v %v", ro, err)
		}
		if err := r.SetFence(ctx, db, appUser, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("concurrent calls", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 15 {
					var err error
					switch i % 4 {
					case 0:
						_, err = r.FenceState(ctx, db, appUser)
					case 1:
						err = r.WriteWatermark(ctx, db, "public", fmt.Sprintf("g%d-%d", g, i))
					case 2:
						_, err = r.LongestWriteTransaction(ctx, db)
					case 3:
						_, err = r.WaitWatermark(ctx, db, "public", fmt.Sprintf("g%d-%d", g, i-2), time.Second)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := queryInt(t, pool, `SELECT count(*) FROM public.tapstack_cutover_watermark`); n != 6*4 {
			t.Errorf("%d watermarks, want 24", n)
		}
		// What the burst opened is closed again but for one idle session.
		eventually(t, 5*time.Second, "one operator session left", func() (bool, error) { return operatorSessions() == 1, nil })
	})

	t.Run("a server restart between two calls", func(t *testing.T) {
		if _, err := r.FenceState(ctx, db, appUser); err != nil {
			t.Fatal(err)
		}
		before := r.cachedPID("db")
		if err := srv.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		reconnect()
		if _, err := r.FenceState(ctx, db, appUser); err != nil {
			t.Fatalf("the first call after the restart: %v", err)
		}
		if after := r.cachedPID("db"); after == 0 || after == before {
			t.Errorf("backend %d before the restart, %d after", before, after)
		}
	})

	t.Run("a terminated cached session is replaced", func(t *testing.T) {
		pid := r.cachedPID("db")
		if n := queryInt(t, pool, `WITH p AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE pid = $1) SELECT count(*) FROM p WHERE pg_terminate_backend(pid)`, pid); n != 1 {
			t.Fatalf("terminated %d", n)
		}
		eventually(t, 5*time.Second, "the backend gone", func() (bool, error) {
			return queryInt(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid) == 0, nil
		})
		if _, err := r.LongestWriteTransaction(ctx, db); err != nil {
			t.Fatal(err)
		}
		if got := r.cachedPID("db"); got == pid || got == 0 {
			t.Errorf("still on backend %d (now %d)", pid, got)
		}
	})

	t.Run("an idle session expires", func(t *testing.T) {
		short := newDirect(t, secrets)
		short.IdleTimeout = 30 * time.Millisecond
		if _, err := short.FenceState(ctx, db, appUser); err != nil {
			t.Fatal(err)
		}
		if short.cachedPID("db") == 0 {
			t.Fatal("nothing cached")
		}
		eventually(t, 2*time.Second, "the idle session closed", func() (bool, error) { return short.cachedPID("db") == 0, nil })
	})

	t.Run("a rotated password is read again at once", func(t *testing.T) {
		// Closed, the runner caches no session: the next call must connect
		// with the secret it cached before the rotation.
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if r.cachedPID("db") != 0 {
			t.Fatal("a session survived Close")
		}
		srv.Exec(t, `ALTER ROLE `+srv.User+` PASSWORD 'rotated-password'`)
		rotated := strings.Replace(secretOf(srv), srv.Password, "rotated-password", 1)
		secrets.set("db", rotated)
		reads := secrets.reads.Load()
		if _, err := r.FenceState(ctx, db, appUser); err != nil {
			t.Fatal(err)
		}
		if n := secrets.reads.Load() - reads; n != 1 {
			t.Errorf("%d secret reads, want 1", n)
		}
		if r.cachedPID("db") != 0 {
			t.Error("a session cached after Close")
		}
	})
}
