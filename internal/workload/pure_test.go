package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var t0 = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

func TestPacerSchedule(t *testing.T) {
	tests := []struct {
		name       string
		rate       float64
		maxBacklog time.Duration
		limit      int64
		takes      []time.Duration // when each take happens, after t0
		wantDue    []time.Duration // due time of each, after t0; -1: not ok
		wantDrop   int64
	}{
		{name: "on time", rate: 100, maxBacklog: time.Second,
			takes:   []time.Duration{0, 0, 0, 0},
			wantDue: []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}},
		{name: "late within backlog keeps the schedule", rate: 10, maxBacklog: time.Second,
			takes:   []time.Duration{500 * time.Millisecond, 500 * time.Millisecond},
			wantDue: []time.Duration{0, 100 * time.Millisecond}},
		{name: "beyond the backlog drops slots", rate: 10, maxBacklog: time.Second,
			takes:    []time.Duration{0, 3 * time.Second, 3 * time.Second},
			wantDue:  []time.Duration{0, 2 * time.Second, 2100 * time.Millisecond},
			wantDrop: 19},
		{name: "no backlog bound never drops", rate: 10,
			takes:   []time.Duration{time.Hour, time.Hour},
			wantDue: []time.Duration{0, 100 * time.Millisecond}},
		{name: "limit", rate: 1000, limit: 2,
			takes:   []time.Duration{0, 0, 0},
			wantDue: []time.Duration{0, time.Millisecond, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(t0, tt.rate, tt.maxBacklog, tt.limit)
			for i, at := range tt.takes {
				seq, due, ok := p.take(t0.Add(at))
				if tt.wantDue[i] < 0 {
					if ok {
						t.Fatalf("take %d: got a slot past the limit", i)
					}
					continue
				}
				if !ok || seq != int64(i) || !due.Equal(t0.Add(tt.wantDue[i])) {
					t.Fatalf("take %d at %s: got seq %d due %s ok %v, want seq %d due %s", i, at, seq, due.Sub(t0), ok, i, tt.wantDue[i])
				}
			}
			if _, dropped := p.counts(); dropped != tt.wantDrop {
				t.Errorf("dropped %d slots, want %d", dropped, tt.wantDrop)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{attempt: 0, jitter: 0, want: 5 * time.Millisecond},
		{attempt: 1, jitter: 0, want: 5 * time.Millisecond},
		{attempt: 1, jitter: 0.999, want: 9*time.Millisecond + 995*time.Microsecond},
		{attempt: 2, jitter: 0.5, want: 15 * time.Millisecond},
		{attempt: 4, jitter: 0, want: 40 * time.Millisecond},
		{attempt: 8, jitter: 1, want: time.Second}, // 1.28 s capped
		{attempt: 1000, jitter: 0, want: 500 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, 10*time.Millisecond, time.Second, tt.jitter); got != tt.want {
			t.Errorf("backoff(%d, jitter %g) = %s, want %s", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 of 1..100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p50 of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile %g = %s, want %s", tt.name, tt.p, got, tt.want)
		}
	}
	l := summarise(ms(5, 1, 3))
	if l != (Latency{P50: 3 * time.Millisecond, P99: 5 * time.Millisecond, Max: 5 * time.Millisecond}) {
		t.Errorf("summarise: %+v", l)
	}
}

func TestAvailability(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type event struct {
		ms   int
		kind string // begin, ack, fail
	}
	tests := []struct {
		name   string
		events []event
		end    int
		want   [2]int // window from, to (ms); {0,0}: none
	}{
		{name: "nothing", end: 100},
		{name: "steady", events: []event{{0, "begin"}, {2, "ack"}, {10, "begin"}, {11, "ack"}}, end: 20, want: [2]int{0, 2}},
		{name: "idle time is not unavailability",
			events: []event{{0, "begin"}, {1, "ack"}, {500, "begin"}, {502, "ack"}}, end: 600, want: [2]int{500, 502}},
		{name: "freeze: waiting payments, no ack",
			events: []event{{0, "begin"}, {1, "ack"}, {10, "begin"}, {11, "begin"}, {1500, "ack"}, {1501, "ack"}}, end: 2000, want: [2]int{10, 1500}},
		{name: "a failure does not end the window",
			events: []event{{0, "begin"}, {1, "ack"}, {10, "begin"}, {800, "fail"}, {900, "begin"}, {950, "ack"}}, end: 1000, want: [2]int{10, 950}},
		{name: "still waiting at the end",
			events: []event{{0, "begin"}, {1, "ack"}, {10, "begin"}}, end: 3000, want: [2]int{10, 3000}},
		{name: "overlapping payments: the gap restarts at each ack",
			events: []event{{0, "begin"}, {1, "begin"}, {100, "ack"}, {400, "ack"}}, end: 500, want: [2]int{100, 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a availability
			for _, e := range tt.events {
				switch e.kind {
				case "begin":
					a.begin(at(e.ms))
				case "ack":
					a.acknowledged(at(e.ms))
				case "fail":
					a.failed()
				}
			}
			got := a.end(at(tt.end))
			want := Window{}
			if tt.want != [2]int{} {
				want = Window{From: at(tt.want[0]), To: at(tt.want[1])}
			}
			if !got.From.Equal(want.From) || !got.To.Equal(want.To) {
				t.Errorf("window %s..%s, want %s..%s", got.From.Sub(t0), got.To.Sub(t0), want.From.Sub(t0), want.To.Sub(t0))
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got := PaymentKey("r1a2b", 42); got != "r1a2b-42" {
		t.Errorf("PaymentKey = %q", got)
	}
	id, err := NewRunID()
	if err != nil || ValidateRunID(id) != nil || len(id) != 13 {
		t.Errorf("NewRunID = %q, %v (valid: %v)", id, err, ValidateRunID(id))
	}
	other, _ := NewRunID()
	if other == id {
		t.Errorf("two run ids are both %q", id)
	}
	tests := []struct {
		key     string
		run     string
		seq     int64
		wantErr string
	}{
		{key: "r1-0", run: "r1", seq: 0},
		{key: "seed-100000", run: "seed", seq: 100000},
		{key: "run_2.b-7", run: "run_2.b", seq: 7},
		{key: "nodash", wantErr: "no '-'"},
		{key: "-5", wantErr: "must be 1-40"},
		{key: "r1-x", wantErr: "not a non-negative integer"},
		{key: "r1--5", wantErr: "not a non-negative integer"},
		{key: "r 1-5", wantErr: "only letters"},
	}
	for _, tt := range tests {
		run, seq, err := ParseKey(tt.key)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseKey(%q) error %v, want %q", tt.key, err, tt.wantErr)
			}
			continue
		}
		if err != nil || run != tt.run || seq != tt.seq {
			t.Errorf("ParseKey(%q) = %q, %d, %v", tt.key, run, seq, err)
		}
	}
	keys := []string{"r-10", "b-1", "r-2", "r-x", "r-1"}
	slices.SortFunc(keys, compareKeys)
	if want := []string{"b-1", "r-1", "r-2", "r-10", "r-x"}; !slices.Equal(keys, want) {
		t.Errorf("sorted %v, want %v", keys, want)
	}
}

func TestClassify(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("insert payment: %w", &pgconn.PgError{Code: code, Severity: "ERROR"})
	}
	tests := []struct {
		name string
		err  error
		want ErrorKind
	}{
		{"read-only (the fence)", pg("25006"), KindReadOnly},
		{"admin shutdown (terminated)", pg("57P01"), KindTerminated},
		{"cannot connect now", pg("57P03"), KindTerminated},
		{"serialization", pg("40001"), KindSerialization},
		{"deadlock", pg("40P01"), KindSerialization},
		{"statement timeout", pg("57014"), KindTimeout},
		{"connection exception class", pg("08006"), KindConnection},
		{"too many connections", pg("53300"), KindConnection},
		{"unique violation is not retried", pg("23505"), KindOther},
		{"check violation", pg("23514"), KindOther},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), KindTimeout},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, KindConnection},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), KindConnection},
		{"eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), KindConnection},
		{"dns", &net.DNSError{Err: "no such host", Name: "db.example"}, KindConnection},
		{"conn closed", fmt.Errorf("commit: %w", errors.New("conn closed")), KindConnection},
		{"plain error", errors.New("something else"), KindOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
	for _, k := range ErrorKinds() {
		if k.String() == "unknown" {
			t.Errorf("kind %d has no name", k)
		}
		if k.Retriable() != (k != KindOther) {
			t.Errorf("%s retriable = %v", k, k.Retriable())
		}
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	l := NewLedger("r1", "r2")
	l.Acknowledge("r1-0")
	l.Attempt("r1-1")
	l.Attempt("r1-10")
	l.Acknowledge("r1-10") // acknowledged after an attempt: acknowledged
	l.Acknowledge("r2-3")
	l.Attempt("r2-3") // an attempt does not take an acknowledgement back
	var buf bytes.Buffer
	if _, err := l.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	want := "run r1\nrun r2\nack r1-0\nattempted r1-1\nack r1-10\nack r2-3\n"
	if got := buf.String(); !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "#") {
		t.Fatalf("ledger file:\n%s\nwant a comment then:\n%s", got, want)
	}
	back, err := ReadLedger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if attempted, acked := back.Counts(); attempted != 4 || acked != 3 || !slices.Equal(back.RunIDs(), []string{"r1", "r2"}) {
		t.Errorf("read back: %d attempted, %d acknowledged, runs %v", attempted, acked, back.RunIDs())
	}
	merged := NewLedger("r3")
	merged.Merge(back)
	if attempted, acked := merged.Counts(); attempted != 4 || acked != 3 || len(merged.RunIDs()) != 3 {
		t.Errorf("merged: %d attempted, %d acknowledged, runs %v", attempted, acked, merged.RunIDs())
	}
}

func TestReadLedgerErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"ack r1-0\n", `which no earlier "run" line names`},
		{"run r1\nack r1-x\n", "line 2"},
		{"run r-1\n", "only letters"},
		{"run r1\nacked r1-0\n", `unknown record "acked"`},
		{"run r1\nack\n", "one value"},
		{"run r1\nack r1-0 extra\n", "one value"},
	}
	for _, tt := range tests {
		_, err := ReadLedger(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadLedger(%q) error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	l := NewLedger("r1")
	for _, k := range []string{"r1-0", "r1-1", "r1-2", "r1-3"} {
		l.Acknowledge(k)
	}
	l.Attempt("r1-4")
	l.Attempt("r1-5")
	rows := map[string]Rows{
		"r1-0": {Count: 1},
		"r1-1": {Count: 2},                        // duplicated
		"r1-3": {Count: 1, WithoutTransaction: 1}, // r1-2 lost
		"r1-4": {Count: 1},                        // unacknowledged but present: legal
		"r1-9": {Count: 1},                        // never attempted
	}
	got := Compare(l, rows)
	want := LedgerReport{
		Attempted: 6, Acknowledged: 4, AcknowledgedPresent: 3,
		Lost: 1, LostSample: []string{"r1-2"},
		DuplicatedKeys: 1, DuplicateRows: 1, DuplicatedSample: []string{"r1-1"},
		UnacknowledgedPresent: 1, UnacknowledgedPresentSample: []string{"r1-4"},
		NeverAttempted: 1, NeverAttemptedSample: []string{"r1-9"},
		WithoutTransaction: 1, WithoutTransactionSample: []string{"r1-3"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Compare:\n got %+v\nwant %+v", got, want)
	}
	problems := got.Problems()
	if len(problems) != 4 || !strings.Contains(problems[0], "1 acknowledged payments lost (e.g. r1-2)") || got.OK() {
		t.Errorf("problems: %q", problems)
	}
	clean := Compare(l, map[string]Rows{"r1-0": {Count: 1}, "r1-1": {Count: 1}, "r1-2": {Count: 1}, "r1-3": {Count: 1}, "r1-5": {Count: 1}})
	if !clean.OK() || clean.UnacknowledgedPresent != 1 {
		t.Errorf("clean database fails: %+v", clean)
	}
	var out strings.Builder
	if err := got.Print(&out); err != nil || !strings.Contains(out.String(), "FAILED:") {
		t.Errorf("print: %v\n%s", err, out.String())
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Conn: Conn{Host: "db.example", Port: 5432, User: "app", Database: "payments", SSLMode: "require"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"host", func(c *Config) { c.Conn.Host = "" }},
		{"port", func(c *Config) { c.Conn.Port = 70000 }},
		{"user", func(c *Config) { c.Conn.User = "" }},
		{"dbname", func(c *Config) { c.Conn.Database = "" }},
		{"sslmode", func(c *Config) { c.Conn.SSLMode = "on" }},
		{"run-id", func(c *Config) { c.RunID = "has-dash" }},
		{"run-id", func(c *Config) { c.RunID = SeedRunID }},
		{"rate", func(c *Config) { c.Rate = -1 }},
		{"workers", func(c *Config) { c.Workers = -2 }},
		{"duration", func(c *Config) { c.Duration = -time.Second }},
		{"count", func(c *Config) { c.Count = -1 }},
		{"retry-for", func(c *Config) { c.RetryFor = -time.Second }},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Name != tt.field {
			t.Errorf("%s: Validate() = %v, want a FieldError naming %s", tt.field, err, tt.field)
		}
	}
	d, err := Config{}.withDefaults()
	if err != nil || d.Rate != 200 || d.Workers != 16 || d.RetryFor != 30*time.Second || d.ConnLifetime != 10*time.Second || d.RunID == "" {
		t.Errorf("defaults: %+v, %v", d, err)
	}
}

func TestPoolConfigResolver(t *testing.T) {
	c := Conn{Host: "db.payments.internal", Port: 5432, User: "app", Password: `it's a "pass" \word`, Database: "payments", SSLMode: "prefer"}
	var asked []string
	c.Resolver = ResolverFunc(func(_ context.Context, host string) ([]string, error) {
		asked = append(asked, host)
		return []string{"127.0.0.1:6543"}, nil
	})
	cfg, err := c.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnConfig.Password != c.Password || cfg.ConnConfig.Host != c.Host || cfg.ConnConfig.RuntimeParams["application_name"] != "paymentload" {
		t.Errorf("config: password %q host %q params %v", cfg.ConnConfig.Password, cfg.ConnConfig.Host, cfg.ConnConfig.RuntimeParams)
	}
	addrs, err := cfg.ConnConfig.LookupFunc(context.Background(), c.Host)
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1:6543"}) || !slices.Equal(asked, []string{c.Host}) {
		t.Errorf("lookup: %v %v, asked %v", addrs, err, asked)
	}
	c.Resolver = nil
	if cfg, err = c.PoolConfig(); err != nil || cfg.ConnConfig.LookupFunc == nil {
		t.Errorf("default resolver: %v", err)
	}
}

func TestDetailsSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	minSize, maxSize := 1<<30, 0
	for range 1000 {
		doc, amount, err := newDetails(rng)
		if err != nil || amount <= 0 || !json.Valid(doc) {
			t.Fatalf("details: %v, amount %d, valid %v", err, amount, json.Valid(doc))
		}
		minSize, maxSize = min(minSize, len(doc)), max(maxSize, len(doc))
	}
	t.Logf("payment details: %d to %d bytes", minSize, maxSize)
	if minSize < 200 || maxSize > 2500 {
		t.Errorf("payment details of %d to %d bytes, want a few hundred bytes to ~2 KB", minSize, maxSize)
	}
}
