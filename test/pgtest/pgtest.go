// Package pgtest starts throwaway PostgreSQL servers for tests and benchmarks:
// initdb into a temporary directory, a free 127.0.0.1 port, password
// authentication, and everything stopped and removed at cleanup (also when the
// test fails). It needs the PostgreSQL server binaries (initdb, pg_ctl) on
// PATH or in /usr/lib/postgresql/<major>/bin.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options shape a server. The zero value is a plain server with
// wal_level=logical, enough for the logical replication the project tests.
type Options struct {
	User     string // superuser; default "postgres"
	Password string // default "pgtest-password"
	Database string // created owned by User; default "payments"
	// Settings are postgresql.conf settings on top of the defaults below.
	Settings map[string]string
}

// Server is a running PostgreSQL server.
type Server struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	DataDir  string

	pgCtl string
	owner *syscall.Credential // who runs the server; nil = this process's user
}

// defaults favour speed: the disk of a test machine is not what is under test.
var defaults = map[string]string{
	"listen_addresses":      "'127.0.0.1'",
	"wal_level":             "logical",
	"fsync":                 "off",
	"full_page_writes":      "off",
	"max_connections":       "100",
	"max_replication_slots": "20",
	"max_wal_senders":       "20",
}

// Start starts a server for t and stops it at cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := StartServer(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// StartServer starts a server; the caller must Stop it.
func StartServer(ctx context.Context, opts Options) (*Server, error) {
	initdb, err := binary("initdb")
	if err != nil {
		return nil, err
	}
	pgCtl, err := binary("pg_ctl")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", User: or(opts.User, "postgres"), Password: or(opts.Password, "pgtest-password"),
		Database: or(opts.Database, "payments"), pgCtl: pgCtl}
	if s.owner, err = serverOwner(); err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "pgtest-*")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s.DataDir = filepath.Join(root, "data")
	pwfile := filepath.Join(root, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := s.chown(root, pwfile); err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	if err := s.run(ctx, initdb, "-D", s.DataDir, "-U", s.User, "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(root)
		return nil, err
	}
	// A port probed free can be taken before the server binds it: try a few.
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			break
		}
		if err = s.writeConfig(opts.Settings); err != nil {
			break
		}
		err = s.run(ctx, pgCtl, "start", "-w", "-t", "30", "-D", s.DataDir, "-l", filepath.Join(root, "server.log"))
		if err == nil || attempt == 2 {
			break
		}
	}
	if err == nil {
		err = s.createDatabase(ctx)
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(root, "server.log"))
		_ = s.Stop()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return s, nil
}

func (s *Server) writeConfig(extra map[string]string) error {
	settings := map[string]string{"port": fmt.Sprint(s.Port), "unix_socket_directories": "'" + s.DataDir + "'"}
	for k, v := range defaults {
		settings[k] = v
	}
	for k, v := range extra {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var conf bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&conf, "%s = %s\n", k, settings[k])
	}
	path := filepath.Join(s.DataDir, "postgresql.auto.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o600); err != nil {
		return err
	}
	return s.chown(path)
}

func (s *Server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if s.Database == "postgres" {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.Database}.Sanitize()); err != nil {
		return fmt.Errorf("pgtest: create database %s: %w", s.Database, err)
	}
	return nil
}

// URL is a connection URL for the server's database as its superuser.
func (s *Server) URL() string { return s.url(s.Database) }

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", s.User, s.Password, s.Host, s.Port, db)
}

// Pool opens a connection pool to the server's database, closed at cleanup.
func (s *Server) Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Exec runs SQL statements on the server's database and fails t on error.
func (s *Server) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

// Restart stops the server (fast shutdown, which ends every session) and
// starts it again with the same data and port.
func (s *Server) Restart(ctx context.Context) error {
	return s.run(ctx, s.pgCtl, "restart", "-w", "-t", "30", "-m", "fast", "-D", s.DataDir, "-l", filepath.Join(filepath.Dir(s.DataDir), "server.log"))
}

// Stop stops the server (fast shutdown) and removes its directory.
func (s *Server) Stop() error {
	if s.DataDir == "" {
		return nil
	}
	root := filepath.Dir(s.DataDir)
	var err error
	if _, statErr := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); statErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = s.run(ctx, s.pgCtl, "stop", "-w", "-m", "fast", "-D", s.DataDir)
		if err != nil {
			err = errors.Join(err, s.run(ctx, s.pgCtl, "stop", "-w", "-m", "immediate", "-D", s.DataDir))
		}
		cancel()
	}
	s.DataDir = ""
	return errors.Join(err, os.RemoveAll(root))
}

func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("pgtest: %s not found on PATH or in /usr/lib/postgresql/*/bin (install the PostgreSQL server binaries)", name)
}

// serverOwner: PostgreSQL refuses to run as root, so a root process (CI here
// runs as root) starts its servers as the postgres system user.
func serverOwner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and there is no postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) chown(paths ...string) error {
	if s.owner == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(s.owner.Uid), int(s.owner.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if s.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.owner}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s %s: %w\n%s", filepath.Base(name), args[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
