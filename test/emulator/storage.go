package emulator

import "context"

// FillBucket writes that many object versions into a versioned bucket
// directly in the emulator, for tests of emptying large buckets (as many
// PutObject calls would take minutes).
func (e *Emulator) FillBucket(ctx context.Context, bucket string, versions int) error {
	return e.Control(ctx, "POST", "s3/fill", map[string]any{"bucket": bucket, "versions": versions}, nil)
}
