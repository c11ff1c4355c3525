// Package v1alpha1 contains the PaymentMigration API of group payments.tapstack.io.
//
// +kubebuilder:object:generate=true
// +groupName=payments.tapstack.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the PaymentMigration API.
	GroupVersion = schema.GroupVersion{Group: "payments.tapstack.io", Version: "v1alpha1"}

	// SchemeBuilder registers the API types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &PaymentMigration{}, &PaymentMigrationList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
