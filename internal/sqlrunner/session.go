package sqlrunner

import (
	"context"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// idleSession is a master session waiting for the next call on its database.
type idleSession struct {
	conn  *pgx.Conn
	timer *time.Timer // closes it when it has waited IdleTimeout
}

// withSession runs fn on a master session of db: the cached one when it is
// still sound, a new one otherwise. The session goes back to the cache after
// fn only if fn succeeded and left it outside a transaction.
func (d *Direct) withSession(ctx context.Context, db Database, fn func(conn *pgx.Conn) error) error {
	conn, reused, err := d.acquire(ctx, db)
	if err != nil {
		return err
	}
	err = fn(conn)
	d.release(db.SecretARN, conn, err)
	if err == nil || !reused || !pgconn.SafeToRetry(err) || ctx.Err() != nil {
		return err
	}
	// The server ended the cached session while it was idle (a restart, a
	// failover, idle_session_timeout) in a way the check before reuse could
	// not see, and the request never reached it: nothing ran, so run it once
	// on a new session.
	if conn, err = d.dial(ctx, db, ""); err != nil {
		return err
	}
	err = fn(conn)
	d.release(db.SecretARN, conn, err)
	return err
}

func (d *Direct) acquire(ctx context.Context, db Database) (*pgx.Conn, bool, error) {
	d.mu.Lock()
	s := d.idle[db.SecretARN]
	delete(d.idle, db.SecretARN)
	d.mu.Unlock()
	if s != nil {
		s.timer.Stop()
		if sound(s.conn) {
			return s.conn, true, nil
		}
		closeConn(s.conn)
	}
	conn, err := d.dial(ctx, db, "")
	return conn, false, err
}

// release caches conn for the next call on its secret, or closes it. One idle
// session per secret is enough: the steps on a database run one after the
// other, and a burst of concurrent calls should not leave a crowd behind.
func (d *Direct) release(arn string, conn *pgx.Conn, err error) {
	if err != nil || conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		closeConn(conn)
		return
	}
	timeout := d.IdleTimeout
	if timeout <= 0 {
		timeout = defaultIdleTimeout
	}
	d.mu.Lock()
	if d.closed || d.idle[arn] != nil {
		d.mu.Unlock()
		closeConn(conn)
		return
	}
	if d.idle == nil {
		d.idle = map[string]*idleSession{}
	}
	s := &idleSession{conn: conn}
	s.timer = time.AfterFunc(timeout, func() { d.expire(arn, s) })
	d.idle[arn] = s
	d.mu.Unlock()
}

func (d *Direct) expire(arn string, s *idleSession) {
	d.mu.Lock()
	mine := d.idle[arn] == s
	if mine {
		delete(d.idle, arn)
	}
	d.mu.Unlock()
	if mine {
		closeConn(s.conn)
	}
}

// Close ends the cached sessions. Direct stays usable afterwards, without
// caching sessions.
func (d *Direct) Close() error {
	d.mu.Lock()
	d.closed = true
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, s := range idle {
		s.timer.Stop()
		closeConn(s.conn)
	}
	return nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// sound is the check before a cached session is reused, and it must cost
// next to nothing: a round trip per step would add up across the freeze. A
// session the server ended (restart, failover, terminated backend) has its
// goodbye, or the end of the stream, waiting on the socket; a sound idle
// session has nothing there.
func sound(conn *pgx.Conn) bool {
	pc := conn.PgConn()
	if conn.IsClosed() || pc.TxStatus() != 'I' || pc.Frontend().ReadBufferLen() > 0 {
		return false
	}
	nc := pc.Conn()
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	return socketQuiet(sc)
}
