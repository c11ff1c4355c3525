package emulator

import (
	"context"
	"testing"
)

// StartT starts an emulator for a test, fails the test when it cannot, and
// stops it (printing the end of its log if the test failed) at cleanup.
func StartT(t testing.TB) *Emulator {
	t.Helper()
	e, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("emulator %s ready in %s (pid %d, log %s)", e.Endpoint(), e.StartupTime().Round(1e6), e.Pid(), e.LogPath())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator log tail:\n%s", e.LogTail(60))
		}
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}
