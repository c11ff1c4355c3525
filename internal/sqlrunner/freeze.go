package sqlrunner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FreezePlan is a whole write freeze from the writer From to To (SPEC 4.2
// a-d), for FreezeRunner.Freeze.
type FreezePlan struct {
	From, To Database
	// AppSecretARN is the application role's secret, for the confirmation
	// from a fresh session of the role.
	AppSecretARN string
	Role, Schema string
	Watermark    string
	// Grace bounds the wait for the role's open writes; Timeout the wait for
	// the watermark on To (what is left of the freeze timeout).
	Grace, Timeout time.Duration
	SequenceMargin int64
	// UnfenceTo lifts the role's fence on To once the sequences are set (a
	// rollback after a flip left it there).
	UnfenceTo bool
	// Slot and Plugin, when set, mark the flip point on To last
	// (MarkFlipPoint): the reverse path.
	Slot, Plugin string
}

// FreezeReport is what a freeze did, in the order of its steps; a step counts
// only if every one before it does. On an error it says how far it got.
type FreezeReport struct {
	Fenced, Confirmed, Drained, WatermarkWritten, Found, SequencesSynced, Unfenced bool
	Drain                                                                          DrainResult
	Sequences                                                                      int
	LSN                                                                            string
	// WatermarkWait is watermark written to seen on To.
	WatermarkWait time.Duration
	// Steps are the steps that ran, with their durations; Took the whole.
	Steps []StepTiming
	Took  time.Duration
}

// StepTiming is how long one step of a freeze took.
type StepTiming struct {
	Name string
	Took time.Duration
}

// FreezeRunner runs a whole freeze as one call: the in-VPC runner in one
// task (SPEC 4.3), since each of its calls is a task that takes long to
// start. Every step is idempotent, so a freeze can be run again after a
// crash: it fences again, confirms again, writes the same watermark id
// (a no-op) and waits for it, and sequences never move backwards.
type FreezeRunner interface {
	Freeze(ctx context.Context, plan FreezePlan) (FreezeReport, error)
}

// confirmWithin bounds the wait for the fence to show in a fresh session:
// ALTER ROLE ... SET applies to every session that starts after its commit,
// so this only covers a slow server.
const confirmWithin = 2 * time.Second

var _ FreezeRunner = (*Direct)(nil)

// Freeze runs the freeze through Direct's own steps, one after the other:
// the same expectations as the in-VPC task, from the manager.
func (d *Direct) Freeze(ctx context.Context, p FreezePlan) (FreezeReport, error) {
	var rep FreezeReport
	began := time.Now()
	step := func(name string, fn func() error) error {
		t := time.Now()
		err := fn()
		rep.Steps = append(rep.Steps, StepTiming{Name: name, Took: time.Since(t)})
		return err
	}
	err := func() error {
		if err := step("fence", func() error { return d.SetFence(ctx, p.From, p.Role, true) }); err != nil {
			return err
		}
		rep.Fenced = true
		if err := step("confirm", func() error {
			deadline := time.Now().Add(confirmWithin)
			for {
				ok, err := d.ConfirmFence(ctx, p.From, p.AppSecretARN)
				if err != nil || ok {
					rep.Confirmed = ok
					return err
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s database: the fence on role %s is not visible to a new session after %s", p.From.Side, p.Role, confirmWithin)
				}
				if err := sleep(ctx, 2*time.Millisecond); err != nil {
					return err
				}
			}
		}); err != nil {
			return err
		}
		if err := step("drain", func() (err error) { rep.Drain, err = d.DrainSessions(ctx, p.From, p.Role, p.Grace); return err }); err != nil {
			return err
		}
		rep.Drained = true
		written := time.Now()
		if err := step("write-watermark", func() error { return d.WriteWatermark(ctx, p.From, p.Schema, p.Watermark) }); err != nil {
			return err
		}
		rep.WatermarkWritten = true
		if err := step("await-watermark", func() (err error) {
			rep.Found, err = d.WaitWatermark(ctx, p.To, p.Schema, p.Watermark, p.Timeout)
			return err
		}); err != nil {
			return err
		}
		rep.WatermarkWait = time.Since(written)
		if !rep.Found {
			return nil // the freeze timed out: the caller rolls back
		}
		if err := step("sync-sequences", func() (err error) {
			rep.Sequences, err = d.SyncSequences(ctx, p.From, p.To, p.Schema, p.SequenceMargin)
			return err
		}); err != nil {
			return err
		}
		rep.SequencesSynced = true
		if p.UnfenceTo {
			if err := step("unfence", func() error { return d.SetFence(ctx, p.To, p.Role, false) }); err != nil {
				return err
			}
			rep.Unfenced = true
		}
		if p.Slot != "" {
			return step("flip-point", func() (err error) { rep.LSN, err = d.MarkFlipPoint(ctx, p.To, p.Slot, p.Plugin); return err })
		}
		return nil
	}()
	rep.Took = time.Since(began)
	return rep, err
}

func checkPlan(p FreezePlan) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"role", p.Role}, {"schema", p.Schema}, {"watermark", p.Watermark}, {"application secret", p.AppSecretARN}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if p.Slot != "" && p.Plugin == "" {
		missing = append(missing, "plugin")
	}
	if len(missing) > 0 {
		return fmt.Errorf("freeze plan without %v", missing)
	}
	if p.SequenceMargin < 0 {
		return errors.New("freeze plan with a negative sequence margin")
	}
	return nil
}
