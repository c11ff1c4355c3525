package workload

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Idempotency keys are "<run id>-<sequence number>": the run id keeps several
// runs (and the seed) from ever colliding, the sequence number makes every
// payment of a run distinct and says in which order they were offered.
// A run id has no '-', so the run of a key is everything before its first '-'
// (which is also how the ledger check finds the rows of a run in SQL).

// SeedRunID is the run id of the payments Seed pre-fills.
const SeedRunID = "seed"

// maxRunIDLen keeps keys short; the id goes into every key.
const maxRunIDLen = 40

// NewRunID returns a random run id ("r" and 12 hex digits).
func NewRunID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new run id: %w", err)
	}
	return "r" + hex.EncodeToString(b[:]), nil
}

// ValidateRunID reports why id cannot be a run id: it must be 1-40 letters,
// digits, '_' or '.', so keys split unambiguously and fit the ledger's line
// format.
func ValidateRunID(id string) error {
	if id == "" || len(id) > maxRunIDLen {
		return fmt.Errorf("run id %q: must be 1-%d characters", id, maxRunIDLen)
	}
	for _, r := range id {
		if !isRunIDChar(r) {
			return fmt.Errorf("run id %q: only letters, digits, '_' and '.' are allowed (got %q)", id, r)
		}
	}
	return nil
}

// PaymentKey is the idempotency key of payment seq of run runID.
func PaymentKey(runID string, seq int64) string {
	return runID + "-" + strconv.FormatInt(seq, 10)
}

// RefundKey is the idempotency key of the refund of the payment with key
// paymentKey: one refund per payment at most, and a retried refund has the
// same key.
func RefundKey(paymentKey string) string { return paymentKey + "-refund" }

// ParseKey splits a payment key into its run id and sequence number.
func ParseKey(key string) (runID string, seq int64, err error) {
	runID, num, ok := strings.Cut(key, "-")
	if !ok {
		return "", 0, fmt.Errorf("key %q: no '-' between run id and sequence number", key)
	}
	if err := ValidateRunID(runID); err != nil {
		return "", 0, fmt.Errorf("key %q: %w", key, err)
	}
	seq, err = strconv.ParseInt(num, 10, 64)
	if err != nil || seq < 0 {
		return "", 0, fmt.Errorf("key %q: sequence number %q is not a non-negative integer", key, num)
	}
	return runID, seq, nil
}

func isRunIDChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
		return true
	}
	return false
}
