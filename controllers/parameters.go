package controllers

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/prefixlists"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// PrefixLists finds the AWS-managed prefix lists of a region (see
// internal/prefixlists).
type PrefixLists interface {
	// Route53HealthChecks is the id of com.amazonaws.<region>.route53-healthchecks;
	// a prefixlists.NotFoundError when the region has none.
	Route53HealthChecks(ctx context.Context) (string, error)
}

// stackParameters are the values of the template's parameters in region: the
// id of the Route 53 health checkers' prefix list, the only internet source
// the ALB admits. Synthesis stays pure; the lookup is the operator's. Without
// it nothing is created or updated (stop), and StackReady says why.
func (r *PaymentMigrationReconciler) stackParameters(ctx context.Context, st *statusWriter, aws AWSClients, region string) (map[string]string, ctrl.Result, bool, error) {
	name := tapstack.Route53HealthChecksPrefixList(region)
	if aws.PrefixLists == nil {
		err := errors.New("no EC2 client to look up the prefix list " + name)
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionUnknown, "AWSUnavailable", err.Error())
		return nil, ctrl.Result{}, true, err
	}
	id, err := aws.PrefixLists.Route53HealthChecks(ctx)
	if prefixlists.IsNotFound(err) {
		// Not something a retry fixes soon: look again slowly.
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionFalse, "PrefixListNotFound",
			fmt.Sprintf("%v: the ALB admits the Route 53 health checkers through it (template parameter %s), so the stack is neither created nor updated until it exists",
				err, tapstack.ParamRoute53HealthCheckPrefixList))
		return nil, ctrl.Result{RequeueAfter: r.Timing.Slow}, true, nil
	}
	if err != nil {
		st.condition(paymentsv1alpha1.ConditionStackReady, metav1.ConditionUnknown, "PrefixListLookupFailed", err.Error())
		return nil, ctrl.Result{}, true, err
	}
	return map[string]string{tapstack.ParamRoute53HealthCheckPrefixList: id}, ctrl.Result{}, false, nil
}
