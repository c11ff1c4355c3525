package api_test

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// The runner cannot change while a cutover runs: switching to the in-VPC
// runner needs its task definition in the stack, which is not updated until
// the cutover ends, and the freeze would change from one task to steps (or
// back) half-way. Idle, and once the cutover is over, it may change.
func TestSQLRunnerIsFixedDuringACutover(t *testing.T) {
	cases := []struct {
		state  paymentsv1alpha1.CutoverState
		change func(*paymentsv1alpha1.SQLRunnerSpec)
		refuse bool
	}{
		{"Idle", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, false},
		{"Held", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, false},
		{"Approved", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, true},
		{"Stepping", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, true},
		{"Freezing", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Image = "postgres:16-alpine" }, true},
		{"Flipped", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, true},
		{"RollingBack", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, true},
		{"Completed", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, false},
		{"RolledBack", func(s *paymentsv1alpha1.SQLRunnerSpec) { s.Mode = paymentsv1alpha1.SQLRunnerInVPC }, false},
	}
	for i, tc := range cases {
		t.Run(string(tc.state), func(t *testing.T) {
			pm := createdMigration(t, sample(t, fmt.Sprintf("sqlrunner-%d", i)))
			if pm.Spec.SQLRunner.Mode != paymentsv1alpha1.SQLRunnerDirect {
				t.Fatalf("spec.sqlRunner.mode defaulted to %q, want Direct", pm.Spec.SQLRunner.Mode)
			}
			pm.Status.Cutover = &paymentsv1alpha1.CutoverStatus{State: tc.state, Step: -1}
			if err := k8s.Status().Update(ctx(t), &pm); err != nil {
				t.Fatalf("recording cutover state %s: %v", tc.state, err)
			}
			tc.change(&pm.Spec.SQLRunner)
			err := k8s.Update(ctx(t), &pm)
			switch {
			case tc.refuse && err == nil:
				t.Fatalf("spec.sqlRunner changed during cutover state %s; want a refusal", tc.state)
			case tc.refuse && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.sqlRunner")):
				t.Errorf("want an Invalid error naming spec.sqlRunner, got %v", err)
			case !tc.refuse && err != nil:
				t.Errorf("spec.sqlRunner refused in cutover state %s: %v", tc.state, err)
			}
		})
	}
}
