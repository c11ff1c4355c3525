// Package v1alpha1 contains the PaymentMigration API of group payments.tapstack.io.
//
// +kubebuilder:object:generate=true
// +groupName=payments.tapstack.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the PaymentMigration API.
	GroupVersion = schema.GroupVersion{Group: "payments.tapstack.io", Version: "v1alpha1"}

	// SchemeBuilder registers the API types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
