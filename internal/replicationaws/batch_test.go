package replicationaws

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A fetch outlives the caller that started it (others wait on it), but not
// the batcher's lifetime: when the manager stops, the fetch in flight ends.
func TestBatchedFetchEndsWithTheLifetimeNotWithItsCaller(t *testing.T) {
	lifetime, stopManager := context.WithCancel(context.Background())
	b := &batcher[string, int]{lifetime: lifetime}
	fetchEnded := make(chan error, 1)
	fetch := func(ctx context.Context, keys []string) (map[string]int, error) {
		<-ctx.Done()
		fetchEnded <- ctx.Err()
		return nil, ctx.Err()
	}

	caller, cancelCaller := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := b.get(caller, "task", time.Now(), time.Minute, fetch)
		got <- err
	}()
	if err := <-waitFor(got); !errors.Is(err, errTimeout) {
		t.Fatalf("get returned %v before anything ended", err)
	}
	cancelCaller()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v", err)
	}
	select {
	case err := <-fetchEnded:
		t.Fatalf("the caller's cancellation ended the shared fetch: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	stopManager()
	select {
	case err := <-fetchEnded:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("fetch ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fetch still runs after the manager stopped")
	}
}

var errTimeout = errors.New("still waiting")

// waitFor passes on what ch delivers within 100 ms, else errTimeout.
func waitFor(ch <-chan error) <-chan error {
	out := make(chan error, 1)
	select {
	case err := <-ch:
		out <- err
	case <-time.After(100 * time.Millisecond):
		out <- errTimeout
	}
	return out
}
