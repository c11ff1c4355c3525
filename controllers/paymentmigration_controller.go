// Package controllers holds the reconcilers of the operator.
package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
)

// PaymentMigrationReconciler reconciles PaymentMigration objects.
type PaymentMigrationReconciler struct {
	client.Client

	// DefaultRegion applies to migrations that do not name a region; it is
	// pinned into their status so a later change of the flag never moves them.
	DefaultRegion string
}

// +kubebuilder:rbac:groups=payments.tapstack.io,resources=paymentmigrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=payments.tapstack.io,resources=paymentmigrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=payments.tapstack.io,resources=paymentmigrations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile records which generation of the spec it has seen and the region in
// effect.
func (r *PaymentMigrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)

	var pm paymentsv1alpha1.PaymentMigration
	if err := r.Get(ctx, req.NamespacedName, &pm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	region := EffectiveRegion(&pm, r.DefaultRegion)
	if pm.Status.ObservedGeneration == pm.Generation && pm.Status.Region == region {
		return ctrl.Result{}, nil
	}

	base := pm.DeepCopy()
	pm.Status.ObservedGeneration = pm.Generation
	pm.Status.Region = region
	if err := r.Status().Patch(ctx, &pm, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted while we looked at it
		}
		return ctrl.Result{}, fmt.Errorf("recording observed generation %d: %w", pm.Generation, err)
	}
	logger.V(1).Info("observed", "generation", pm.Generation, "region", region)
	return ctrl.Result{}, nil
}

// EffectiveRegion is the region a migration runs in: the spec's, else the one
// pinned in status on first sight, else the operator default.
func EffectiveRegion(pm *paymentsv1alpha1.PaymentMigration, defaultRegion string) string {
	switch {
	case pm.Spec.Region != "":
		return pm.Spec.Region
	case pm.Status.Region != "":
		return pm.Status.Region
	default:
		return defaultRegion
	}
}

// SetupWithManager registers the reconciler with the manager.
func (r *PaymentMigrationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&paymentsv1alpha1.PaymentMigration{}).
		Named("paymentmigration").
		Complete(r)
}
