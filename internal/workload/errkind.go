package workload

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrorKind is what a failed attempt ran into, in the terms of a cutover:
// each kind is something the migration does to the application on purpose
// (fence, terminate, flip) or a plain failure.
type ErrorKind int

// The kinds, in the order reports list them.
const (
	// KindConnection: refused, reset, closed, DNS failure: the database is
	// unreachable or the session died (also a record flipped to a server not
	// yet up).
	KindConnection ErrorKind = iota
	// KindReadOnly: SQLSTATE 25006, the fence (default_transaction_read_only
	// on the application's role).
	KindReadOnly
	// KindTerminated: SQLSTATE 57P01 admin_shutdown (pg_terminate_backend, as
	// the fence ends the role's sessions) and the other operator-intervention
	// codes (57P02 crash shutdown, 57P03 cannot connect now).
	KindTerminated
	// KindSerialization: 40001 serialization failure, 40P01 deadlock.
	KindSerialization
	// KindTimeout: the attempt's deadline, or a statement/lock timeout (57014).
	KindTimeout
	// KindOther: anything else (a constraint violation, a bug): not retried.
	KindOther
	numErrorKinds
)

// ErrorKinds lists every kind, in report order.
func ErrorKinds() []ErrorKind {
	kinds := make([]ErrorKind, numErrorKinds)
	for i := range kinds {
		kinds[i] = ErrorKind(i)
	}
	return kinds
}

func (k ErrorKind) String() string {
	switch k {
	case KindConnection:
		return "connection"
	case KindReadOnly:
		return "read-only"
	case KindTerminated:
		return "terminated"
	case KindSerialization:
		return "serialization"
	case KindTimeout:
		return "timeout"
	case KindOther:
		return "other"
	}
	return "unknown"
}

// Retriable says whether a real service retries an attempt that failed so.
// Every kind but KindOther is something a cutover does, or a transient
// failure; KindOther would fail again the same way.
func (k ErrorKind) Retriable() bool { return k != KindOther }

// dropsSession says whether the session must be discarded rather than
// returned to the pool. A read-only session stays read-only (a role setting
// is read at session start), so only a new session sees the fence lifted,
// and only a new connection resolves the writer record again.
func (k ErrorKind) dropsSession() bool { return k != KindSerialization && k != KindOther }

// Classify returns the kind of err (nil for a nil error is not meaningful;
// callers classify failures only).
func Classify(err error) ErrorKind {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "25006":
			return KindReadOnly
		case "57P01", "57P02", "57P03":
			return KindTerminated
		case "40001", "40P01":
			return KindSerialization
		case "57014", "55P03", "25P03": // query canceled (statement_timeout), lock not available, idle-in-transaction timeout
			return KindTimeout
		case "53300": // too many connections: the server is there but full, like a refused connection
			return KindConnection
		}
		if len(pgErr.Code) == 5 && pgErr.Code[:2] == "08" { // class 08: connection exception
			return KindConnection
		}
		return KindOther
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return KindTimeout
	}
	var connectErr *pgconn.ConnectError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &dnsErr), errors.As(err, &opErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		pgconn.SafeToRetry(err):
		return KindConnection
	}
	// pgx reports a session that died under it as "conn closed" without a
	// sentinel error; a closed connection is a connection failure.
	if pgconn.Timeout(err) {
		return KindTimeout
	}
	if isConnClosed(err) {
		return KindConnection
	}
	return KindOther
}

// isConnClosed recognises pgx's closed-connection errors, which carry no
// sentinel: "conn closed", "conn busy" after a broken read.
func isConnClosed(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "conn closed", "conn busy":
			return true
		}
	}
	return false
}
