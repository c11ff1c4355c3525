package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Resolver resolves the database host name into addresses. The workload
// calls it on every new connection, the way the payment service reaches its
// database through the writer record (a CNAME with a short TTL that the
// cutover flips), so a flip is followed as soon as connections are renewed.
// An address may carry a port ("127.0.0.1:5433"), which then overrides
// Conn.Port: that is how a test points one name at servers on different
// ports. *net.Resolver (net.DefaultResolver) is a Resolver.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, host string) ([]string, error)

// LookupHost calls f.
func (f ResolverFunc) LookupHost(ctx context.Context, host string) ([]string, error) {
	return f(ctx, host)
}

// SSLModes are the libpq sslmode values the workload accepts.
var SSLModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Conn says how to reach the database.
type Conn struct {
	Host     string // resolved by Resolver on every new connection
	Port     int
	User     string
	Password string
	Database string
	SSLMode  string // one of SSLModes; the command defaults to require
	// Resolver resolves Host; nil is the system resolver (net.DefaultResolver).
	Resolver Resolver
	// ConnectTimeout bounds establishing one connection; 0 means 5 s.
	ConnectTimeout time.Duration
	// ApplicationName is the sessions' application_name; empty means
	// "paymentload" (the workload's writers; the command's seed and check
	// use their own, so terminating the writers spares them).
	ApplicationName string
}

// Config is a run of the workload. Zero values take the defaults noted.
type Config struct {
	Conn Conn
	// RunID prefixes every idempotency key; empty: a random one (NewRunID).
	RunID string
	// Rate is the payments per second offered; 0 means 200.
	Rate float64
	// Workers is the number of concurrent payments (and pool connections); 0 means 16.
	Workers int
	// Duration stops offering payments after this long; Count after this many
	// payments. Either, both (whichever first) or neither (until ctx ends).
	Duration time.Duration
	Count    int64
	// RetryFor bounds the time a payment is retried before it is given up as
	// failed; 0 means 30 s.
	RetryFor time.Duration
	// AttemptTimeout bounds one attempt (connect, insert, commit); 0 means 5 s.
	AttemptTimeout time.Duration
	// ConnLifetime bounds a pooled connection's life, so connections are
	// renewed (and the host resolved again) even when nobody terminates them;
	// 0 means 10 s (twice the writer record's TTL).
	ConnLifetime time.Duration
	// RefundEvery: one payment in RefundEvery is followed by the refund of an
	// earlier acknowledged payment; 0 means 50, negative means no refunds.
	RefundEvery int
	// MaxBacklog bounds how far the schedule may run ahead of blocked workers
	// before slots are dropped (see Report.SlotsDropped); 0 means 1 s.
	MaxBacklog time.Duration
	// Progress, when set, receives a line of figures every ProgressEvery
	// (0 means 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// FieldError is an invalid setting; Name is the setting's name as the
// command's flag spells it ("rate", "workers", ...), so the command can name
// the flag.
type FieldError struct {
	Name, Msg string
}

func (e *FieldError) Error() string { return e.Name + ": " + e.Msg }

func fieldErr(name, format string, args ...any) error {
	return &FieldError{Name: name, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid connection setting.
func (c Conn) Validate() error {
	switch {
	case c.Host == "":
		return fieldErr("host", "required")
	case c.Port <= 0 || c.Port > 65535:
		return fieldErr("port", "must be 1-65535, got %d", c.Port)
	case c.User == "":
		return fieldErr("user", "required")
	case c.Database == "":
		return fieldErr("dbname", "required")
	case !slices.Contains(SSLModes, c.SSLMode):
		return fieldErr("sslmode", "must be one of %s, got %q", strings.Join(SSLModes, ", "), c.SSLMode)
	case c.ConnectTimeout < 0:
		return fieldErr("connect-timeout", "must not be negative, got %s", c.ConnectTimeout)
	}
	return nil
}

// withDefaults returns c with its zero values defaulted.
func (c Config) withDefaults() (Config, error) {
	if c.RunID == "" {
		id, err := NewRunID()
		if err != nil {
			return c, err
		}
		c.RunID = id
	}
	c.Rate = orDefault(c.Rate, 200)
	c.Workers = orDefault(c.Workers, 16)
	c.RetryFor = orDefault(c.RetryFor, 30*time.Second)
	c.AttemptTimeout = orDefault(c.AttemptTimeout, 5*time.Second)
	c.ConnLifetime = orDefault(c.ConnLifetime, 10*time.Second)
	c.RefundEvery = orDefault(c.RefundEvery, 50)
	c.MaxBacklog = orDefault(c.MaxBacklog, time.Second)
	c.ProgressEvery = orDefault(c.ProgressEvery, 5*time.Second)
	return c, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Validate reports the first invalid setting (after defaults).
func (c Config) Validate() error {
	if err := c.Conn.Validate(); err != nil {
		return err
	}
	if c.RunID != "" {
		if err := ValidateRunID(c.RunID); err != nil {
			return &FieldError{Name: "run-id", Msg: err.Error()}
		}
		if c.RunID == SeedRunID {
			return fieldErr("run-id", "%q is the seed's run id", SeedRunID)
		}
	}
	switch {
	case c.Rate < 0:
		return fieldErr("rate", "must be positive, got %g", c.Rate)
	case c.Rate > 1e6:
		return fieldErr("rate", "must be at most 1000000 payments/s, got %g", c.Rate)
	case c.Workers < 0 || c.Workers > 1000:
		return fieldErr("workers", "must be 1-1000, got %d", c.Workers)
	case c.Duration < 0:
		return fieldErr("duration", "must not be negative, got %s", c.Duration)
	case c.Count < 0:
		return fieldErr("count", "must not be negative, got %d", c.Count)
	case c.RetryFor < 0:
		return fieldErr("retry-for", "must not be negative, got %s", c.RetryFor)
	case c.AttemptTimeout < 0:
		return fieldErr("attempt-timeout", "must not be negative, got %s", c.AttemptTimeout)
	case c.ConnLifetime < 0:
		return fieldErr("conn-lifetime", "must not be negative, got %s", c.ConnLifetime)
	case c.MaxBacklog < 0:
		return fieldErr("max-backlog", "must not be negative, got %s", c.MaxBacklog)
	case c.ProgressEvery < 0:
		return fieldErr("progress", "must not be negative, got %s", c.ProgressEvery)
	}
	return nil
}

// PoolConfig is the pgxpool configuration of c: a keyword/value connection
// string (values quoted, so a password with spaces or quotes is safe), the
// resolver as pgx's LookupFunc, and the workload's application_name.
func (c Conn) PoolConfig() (*pgxpool.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	timeout := orDefault(c.ConnectTimeout, 5*time.Second)
	settings := [][2]string{
		{"host", c.Host}, {"port", strconv.Itoa(c.Port)}, {"user", c.User}, {"password", c.Password},
		{"dbname", c.Database}, {"sslmode", c.SSLMode},
		{"connect_timeout", strconv.Itoa(max(1, int(timeout.Round(time.Second)/time.Second)))},
		{"application_name", orDefault(c.ApplicationName, applicationName)},
	}
	var dsn strings.Builder
	for _, kv := range settings {
		fmt.Fprintf(&dsn, "%s=%s ", kv[0], quoteDSN(kv[1]))
	}
	cfg, err := pgxpool.ParseConfig(dsn.String())
	if err != nil {
		// pgx's error quotes the connection string, password redacted only
		// best-effort: keep the cause, never the string.
		cause := "invalid"
		if inner := errors.Unwrap(err); inner != nil {
			cause = inner.Error()
		}
		return nil, fmt.Errorf("database settings for %s@%s:%d/%s: %s", c.User, c.Host, c.Port, c.Database, cause)
	}
	var resolver Resolver = net.DefaultResolver
	if c.Resolver != nil {
		resolver = c.Resolver
	}
	cfg.ConnConfig.LookupFunc = resolver.LookupHost
	return cfg, nil
}

// quoteDSN quotes a libpq keyword/value connection string value.
func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// OpenPool opens a pool to the database of c (for Seed and Check, and for
// callers that want the workload's connection rules elsewhere).
func OpenPool(ctx context.Context, c Conn, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := c.PoolConfig()
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d/%s: %w", c.Host, c.Port, c.Database, err)
	}
	return pool, nil
}
