package controllers

import (
	"testing"
	"time"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/stackplan"
)

// Every "how soon to look again" is one of Timing's intervals.
func TestTimingPicksTheIntervalOfTheStackAndOfTheReplicationStep(t *testing.T) {
	timing := Timing{Fast: 1 * time.Second, Slow: 2 * time.Second, FullLoad: 3 * time.Second, Replicating: 4 * time.Second}
	for p, want := range map[stackplan.Timing]time.Duration{stackplan.Fast: timing.Fast, stackplan.Slow: timing.Slow} {
		if got := timing.stack(p); got != want {
			t.Errorf("stack(%s) = %s, want %s", p, got, want)
		}
	}
	for _, tc := range []struct {
		phase paymentsv1alpha1.Phase
		busy  bool
		want  time.Duration
	}{
		{paymentsv1alpha1.PhaseFullLoad, true, timing.Fast},
		{paymentsv1alpha1.PhaseReplicating, true, timing.Fast},
		{paymentsv1alpha1.PhaseFullLoad, false, timing.FullLoad},
		{paymentsv1alpha1.PhaseReplicating, false, timing.Replicating},
		{paymentsv1alpha1.PhasePreflight, false, timing.Slow},
		{paymentsv1alpha1.PhaseFailed, false, timing.Slow},
	} {
		if got := timing.replication(tc.phase, tc.busy); got != tc.want {
			t.Errorf("replication(%s, busy %t) = %s, want %s", tc.phase, tc.busy, got, tc.want)
		}
	}
}
