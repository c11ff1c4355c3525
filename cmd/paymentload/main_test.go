package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapstack/payment-migration-operator/test/pgtest"
)

func noEnv(string) string { return "" }

func TestBadFlagsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-user", "app", "-rate", "-5"}, "-rate: must be positive"},
		{[]string{"run", "-user", "app", "-rate", "fast"}, `invalid value "fast" for flag -rate`},
		{[]string{"run", "-user", "app", "-workers", "0"}, "-workers: must be at least 1"},
		{[]string{"run", "-user", "app", "-sslmode", "on"}, "-sslmode: must be one of"},
		{[]string{"run", "-user", "app", "-run-id", "a-b"}, "-run-id:"},
		{[]string{"run", "-user", "app", "-duration", "-1s"}, "-duration: must not be negative"},
		{[]string{"run", "-rate", "10"}, "-user: required"},
		{[]string{"run", "-user", "app", "-port", "0"}, "-port: must be 1-65535"},
		{[]string{"run", "-user", "app", "-password", "x", "-password-file", "f"}, "-password and -password-file are exclusive"},
		{[]string{"run", "-user", "app", "-password-file", filepath.Join(dir, "missing")}, "-password-file:"},
		{[]string{"run", "-user", "app", "extra"}, `unexpected argument "extra"`},
		{[]string{"seed", "-user", "app", "-timeout", "0s"}, "-timeout: must be positive"},
		{[]string{"check", "-user", "app"}, "-keys: required"},
		{[]string{"check", "-user", "app", "-keys", "k", "-wait", "-1s"}, "-wait: must not be negative"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{nil, "missing command"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr, noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.args, err, tt.want)
			continue
		}
		if code := exitCode(err, &stderr); code != 2 {
			t.Errorf("%q: exit code %d, want 2 (usage)", tt.args, code)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"seed", "run", "check"} {
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{cmd, "-h"}, &stdout, &bytes.Buffer{}, noEnv); err != nil {
			t.Fatalf("%s -h: %v", cmd, err)
		}
		for _, want := range []string{"Usage: paymentload " + cmd, "-host", "-sslmode", "-password-file"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, want, stdout.String())
			}
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &stdout, &bytes.Buffer{}, noEnv); err != nil || !strings.Contains(stdout.String(), "paymentload check") {
		t.Errorf("help: %v\n%s", err, stdout.String())
	}
}

// TestSeedRunCheck drives the command as a user would: seed, run, check
// (clean: exit 0), then damage the database and check again (exit 1, why).
func TestSeedRunCheck(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(srv.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"-host", srv.Host, "-port", fmt.Sprint(srv.Port), "-user", srv.User, "-password-file", pwFile, "-dbname", srv.Database, "-sslmode", "prefer"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(ctx, append(args[:1:1], append(conn, args[1:]...)...), &stdout, &stderr, noEnv)
		t.Logf("paymentload %s:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.String(), err
	}
	seedKeys, runKeys := filepath.Join(dir, "seed.keys"), filepath.Join(dir, "run.keys")
	if out, err := cmd("seed", "-rows", "2000", "-keys-out", seedKeys); err != nil || !strings.Contains(out, "2000 payments added") {
		t.Fatalf("seed: %v", err)
	}
	if out, err := cmd("run", "-rate", "1000", "-count", "500", "-run-id", "cmdtest", "-progress", "0", "-keys-out", runKeys); err != nil || !strings.Contains(out, "acknowledged 500") {
		t.Fatalf("run: %v", err)
	}
	if out, err := cmd("check", "-keys", seedKeys, "-keys", runKeys, "-wait", "2s"); err != nil || !strings.Contains(out, "acknowledged and present: 2500") {
		t.Fatalf("check: %v", err)
	}
	srv.Exec(t, `DELETE FROM transactions WHERE payment_id = (SELECT id FROM payments WHERE idempotency_key = 'cmdtest-7')`)
	srv.Exec(t, `DELETE FROM refunds WHERE payment_id = (SELECT id FROM payments WHERE idempotency_key = 'cmdtest-7')`)
	srv.Exec(t, `DELETE FROM payments WHERE idempotency_key = 'cmdtest-7'`)
	start := time.Now()
	out, err := cmd("check", "-keys", runKeys, "-wait", "500ms")
	if !errors.Is(err, errCheckFailed) || exitCode(err, &bytes.Buffer{}) != 1 {
		t.Fatalf("check of a database missing a payment: %v", err)
	}
	if !strings.Contains(out, "lost: 1") || !strings.Contains(out, "cmdtest-7") || time.Since(start) < 500*time.Millisecond {
		t.Errorf("check output does not say which payment is lost, or did not wait:\n%s", out)
	}
}
