package workload_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// ackDropper is a TCP proxy in front of PostgreSQL that, for one COMMIT in
// every, forwards the COMMIT to the server and then cuts the connection
// before the server's answer reaches the client: the payment is committed,
// its acknowledgement lost. It reads the client's side of the protocol
// unencrypted (sslmode=disable).
type ackDropper struct {
	ln      net.Listener
	backend string
	every   int64
	commits atomic.Int64
	dropped atomic.Int64
	wg      sync.WaitGroup
}

func startAckDropper(t *testing.T, backend string, every int64) *ackDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ackDropper{ln: ln, backend: backend, every: every}
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(client) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *ackDropper) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer server.Close()
	// The server's side is relayed until the cut: the client waits for every
	// earlier answer before it sends COMMIT, so what arrives after the cut is
	// the COMMIT's answer.
	var cut atomic.Bool
	go func() {
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !cut.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil || cut.Load() {
				return
			}
		}
	}()
	// The startup packet has no type byte: length, then the rest.
	var lenBuf [4]byte
	if _, err := io.ReadFull(client, lenBuf[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(lenBuf[:])-4)
	if _, err := io.ReadFull(client, startup); err != nil {
		return
	}
	if _, err := server.Write(append(lenBuf[:], startup...)); err != nil {
		return
	}
	for {
		var head [5]byte
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		// pgx commits with a simple query "commit".
		drop := head[0] == 'Q' && strings.EqualFold(strings.TrimRight(string(body), "\x00"), "commit") && p.commits.Add(1)%p.every == 0
		if drop {
			cut.Store(true)
			p.dropped.Add(1)
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
		if drop {
			time.Sleep(20 * time.Millisecond) // the server commits; its answer is never relayed
			return
		}
	}
}

// TestLostAcknowledgement: commits whose acknowledgement is lost are retried
// with the same key, found committed, counted as acknowledged, and written
// once.
func TestLostAcknowledgement(t *testing.T) {
	srv, pool := startSeeded(t, 0)
	proxy := startAckDropper(t, fmt.Sprintf("127.0.0.1:%d", srv.Port), 25)
	conn := appConn(srv)
	conn.SSLMode = "disable"
	conn.Host = "db.payments.test"
	conn.Resolver = workload.ResolverFunc(func(context.Context, string) ([]string, error) {
		return []string{proxy.ln.Addr().String()}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := run(t, ctx, workload.Config{Conn: conn, Rate: 400, Count: 600, RefundEvery: -1})
	t.Logf("%d commits seen by the proxy, %d acknowledgements dropped", proxy.commits.Load(), proxy.dropped.Load())
	mustBeClean(t, rep, check(t, pool, rep.Ledger))
	if proxy.dropped.Load() == 0 || rep.AcknowledgedAlreadyPresent == 0 {
		t.Fatalf("%d acknowledgements dropped, %d found already committed on retry", proxy.dropped.Load(), rep.AcknowledgedAlreadyPresent)
	}
	if rep.Failed != 0 {
		t.Errorf("%d payments failed", rep.Failed)
	}
	var rows int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE split_part(idempotency_key, '-', 1) = $1`, rep.RunID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != rep.Acknowledged {
		t.Errorf("%d rows for %d acknowledged payments", rows, rep.Acknowledged)
	}
}
