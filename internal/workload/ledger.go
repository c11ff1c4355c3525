package workload

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Ledger is what a workload knows about its payments: every key it attempted
// and, of those, every key whose commit was acknowledged. It is the truth a
// database is checked against. The zero value is not usable; use NewLedger.
type Ledger struct {
	runIDs []string
	keys   map[string]bool // key -> acknowledged
}

// NewLedger returns an empty ledger of the given runs. A run's rows in a
// database that the ledger does not know are corruption; rows of other runs
// are not the ledger's business.
func NewLedger(runIDs ...string) *Ledger {
	l := &Ledger{keys: map[string]bool{}}
	for _, id := range runIDs {
		l.addRun(id)
	}
	return l
}

func (l *Ledger) addRun(id string) {
	if !slices.Contains(l.runIDs, id) {
		l.runIDs = append(l.runIDs, id)
	}
}

// RunIDs returns the ledger's runs.
func (l *Ledger) RunIDs() []string { return slices.Clone(l.runIDs) }

// Attempt records that key was attempted (it keeps its acknowledgement if it
// had one).
func (l *Ledger) Attempt(key string) {
	if _, ok := l.keys[key]; !ok {
		l.keys[key] = false
	}
}

// Acknowledge records that key's commit was acknowledged.
func (l *Ledger) Acknowledge(key string) { l.keys[key] = true }

// Acknowledged reports whether key's commit was acknowledged.
func (l *Ledger) Acknowledged(key string) bool { return l.keys[key] }

// Counts returns how many keys were attempted and how many acknowledged.
func (l *Ledger) Counts() (attempted, acknowledged int) {
	for _, ack := range l.keys {
		if ack {
			acknowledged++
		}
	}
	return len(l.keys), acknowledged
}

// Merge adds other's runs and keys; an acknowledgement in either wins.
func (l *Ledger) Merge(other *Ledger) {
	for _, id := range other.runIDs {
		l.addRun(id)
	}
	for k, ack := range other.keys {
		if ack {
			l.keys[k] = true
		} else {
			l.Attempt(k)
		}
	}
}

// Keys returns the attempted keys in (run, sequence) order and whether each
// was acknowledged.
func (l *Ledger) Keys() (keys []string, acknowledged []bool) {
	keys = make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	acknowledged = make([]bool, len(keys))
	for i, k := range keys {
		acknowledged[i] = l.keys[k]
	}
	return keys, acknowledged
}

// compareKeys orders by run, then numerically by sequence ("r-2" before
// "r-10"; keys have no leading zeros, so a shorter number is smaller), then
// as text for keys without a number. It allocates nothing: a million keys
// sort in well under a second.
func compareKeys(a, b string) int {
	runA, numA, _ := strings.Cut(a, "-")
	runB, numB, _ := strings.Cut(b, "-")
	if c := strings.Compare(runA, runB); c != 0 {
		return c
	}
	if isDigits(numA) && isDigits(numB) {
		return cmp.Or(cmp.Compare(len(numA), len(numB)), strings.Compare(numA, numB))
	}
	return strings.Compare(numA, numB)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// The ledger file: one record a line, "#" starts a comment.
//
//	run <run id>         a run of the ledger
//	ack <key>            attempted, commit acknowledged
//	attempted <key>      attempted, never acknowledged
const (
	ledgerRun       = "run"
	ledgerAck       = "ack"
	ledgerAttempted = "attempted"
)

// WriteTo writes the ledger in the line format ReadLedger reads.
func (l *Ledger) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var n int64
	write := func(format string, args ...any) error {
		m, err := fmt.Fprintf(bw, format, args...)
		n += int64(m)
		return err
	}
	if err := write("# paymentload ledger: %q = acknowledged commit, %q = attempted, not acknowledged\n", ledgerAck, ledgerAttempted); err != nil {
		return n, err
	}
	for _, id := range l.runIDs {
		if err := write("%s %s\n", ledgerRun, id); err != nil {
			return n, err
		}
	}
	keys, acked := l.Keys()
	for i, k := range keys {
		state := ledgerAttempted
		if acked[i] {
			state = ledgerAck
		}
		if err := write("%s %s\n", state, k); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// ReadLedger reads a ledger WriteTo wrote. Every key must belong to one of
// the file's runs.
func ReadLedger(r io.Reader) (*Ledger, error) {
	l := NewLedger()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		kind, value, ok := strings.Cut(text, " ")
		if !ok || value == "" || strings.ContainsAny(value, " \t") {
			return nil, fmt.Errorf("ledger line %d: want %q, %q or %q and one value, got %q", line, ledgerRun, ledgerAck, ledgerAttempted, text)
		}
		switch kind {
		case ledgerRun:
			if err := ValidateRunID(value); err != nil {
				return nil, fmt.Errorf("ledger line %d: %w", line, err)
			}
			l.addRun(value)
		case ledgerAck, ledgerAttempted:
			run, _, err := ParseKey(value)
			if err != nil {
				return nil, fmt.Errorf("ledger line %d: %w", line, err)
			}
			if !slices.Contains(l.runIDs, run) {
				return nil, fmt.Errorf("ledger line %d: key %q of run %q, which no earlier %q line names", line, value, run, ledgerRun)
			}
			if kind == ledgerAck {
				l.Acknowledge(value)
			} else {
				l.Attempt(value)
			}
		default:
			return nil, fmt.Errorf("ledger line %d: unknown record %q (want %q, %q or %q)", line, kind, ledgerRun, ledgerAck, ledgerAttempted)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return l, nil
}

// LedgerReport is a ledger compared with a database's payments.
type LedgerReport struct {
	Attempted, Acknowledged int64 // the ledger's
	// AcknowledgedPresent: acknowledged and in the database (the good case).
	AcknowledgedPresent int64
	// Lost: acknowledged, absent. The migration failed.
	Lost int64
	// DuplicatedKeys: keys present more than once (a target table that lost
	// its unique constraint); DuplicateRows counts the rows beyond the first.
	DuplicatedKeys, DuplicateRows int64
	// UnacknowledgedPresent: attempted, never acknowledged, yet committed.
	// Legal (the acknowledgement was lost and the payment given up), worth
	// knowing.
	UnacknowledgedPresent int64
	// NeverAttempted: rows of the ledger's runs whose key the ledger does not
	// have. Corruption.
	NeverAttempted int64
	// WithoutTransaction: payment rows of the ledger's runs without their
	// transactions row (written in the same transaction, so replicated
	// together or not at all).
	WithoutTransaction int64
	// Samples of the keys behind each problem (a few each), for the message.
	LostSample, DuplicatedSample, UnacknowledgedPresentSample, NeverAttemptedSample, WithoutTransactionSample []string
	// Waited is how long a waiting check waited for the acknowledged keys.
	Waited time.Duration
}

// sampleSize is how many keys of each problem a report carries.
const sampleSize = 10

// Problems says why the database fails the ledger; none means it passes.
// Lost and duplicated payments fail it, and so do rows never attempted and
// payments without their transactions row: each is a database that does not
// hold what the application committed.
func (r LedgerReport) Problems() []string {
	var p []string
	if r.Lost > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged payments lost (e.g. %s)", r.Lost, strings.Join(r.LostSample, ", ")))
	}
	if r.DuplicatedKeys > 0 {
		p = append(p, fmt.Sprintf("%d payments duplicated, %d extra rows (e.g. %s)", r.DuplicatedKeys, r.DuplicateRows, strings.Join(r.DuplicatedSample, ", ")))
	}
	if r.NeverAttempted > 0 {
		p = append(p, fmt.Sprintf("%d payment rows of the ledger's runs were never attempted (e.g. %s)", r.NeverAttempted, strings.Join(r.NeverAttemptedSample, ", ")))
	}
	if r.WithoutTransaction > 0 {
		p = append(p, fmt.Sprintf("%d payments without their transactions row (e.g. %s)", r.WithoutTransaction, strings.Join(r.WithoutTransactionSample, ", ")))
	}
	return p
}

// OK says whether the database holds every acknowledged payment exactly once.
func (r LedgerReport) OK() bool { return len(r.Problems()) == 0 }

// Print writes the report's figures and, if it fails, why.
func (r LedgerReport) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ledger: %d attempted, %d acknowledged\n", r.Attempted, r.Acknowledged)
	fmt.Fprintf(&b, "acknowledged and present: %d\n", r.AcknowledgedPresent)
	fmt.Fprintf(&b, "lost: %d\nduplicated: %d keys (%d extra rows)\n", r.Lost, r.DuplicatedKeys, r.DuplicateRows)
	fmt.Fprintf(&b, "unacknowledged but present: %d\n", r.UnacknowledgedPresent)
	fmt.Fprintf(&b, "never attempted: %d\nwithout transactions row: %d\n", r.NeverAttempted, r.WithoutTransaction)
	if r.Waited > 0 {
		fmt.Fprintf(&b, "waited %s for the acknowledged payments\n", r.Waited.Round(time.Millisecond))
	}
	if p := r.Problems(); len(p) > 0 {
		b.WriteString("FAILED:\n")
		for _, line := range p {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	} else {
		b.WriteString("OK: every acknowledged payment is present exactly once\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Rows is what a database holds for one key: how many payment rows, and how
// many of them lack their transactions row.
type Rows struct {
	Count, WithoutTransaction int
}

// Compare is the ledger check in memory: l against the payment rows of a
// database (rows, by key, of the ledger's runs only). Check is the same
// comparison done by the database, for ledgers of millions of keys; this one
// states what it computes, and serves small ledgers and tests.
func Compare(l *Ledger, rows map[string]Rows) LedgerReport {
	var r LedgerReport
	attempted, acknowledged := l.Counts()
	r.Attempted, r.Acknowledged = int64(attempted), int64(acknowledged)
	sample := func(s *[]string, k string) {
		if len(*s) < sampleSize {
			*s = append(*s, k)
		}
	}
	keys, acks := l.Keys()
	for i, k := range keys {
		n := rows[k].Count
		switch {
		case acks[i] && n > 0:
			r.AcknowledgedPresent++
		case acks[i]:
			r.Lost++
			sample(&r.LostSample, k)
		case n > 0:
			r.UnacknowledgedPresent++
			sample(&r.UnacknowledgedPresentSample, k)
		}
	}
	present := make([]string, 0, len(rows))
	for k := range rows {
		present = append(present, k)
	}
	slices.SortFunc(present, compareKeys)
	for _, k := range present {
		row := rows[k]
		if row.Count > 1 {
			r.DuplicatedKeys++
			r.DuplicateRows += int64(row.Count - 1)
			sample(&r.DuplicatedSample, k)
		}
		if _, ok := l.keys[k]; !ok && row.Count > 0 {
			r.NeverAttempted++
			sample(&r.NeverAttemptedSample, k)
		}
		if row.WithoutTransaction > 0 {
			r.WithoutTransaction += int64(row.WithoutTransaction)
			sample(&r.WithoutTransactionSample, k)
		}
	}
	return r
}
