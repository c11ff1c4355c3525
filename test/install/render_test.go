package install_test

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// installDir is what the README tells people to apply.
const installDir = "../../config/default"

// rendered is config/default built as `kubectl apply -k` builds it.
type rendered struct {
	objects []*unstructured.Unstructured
}

func render(dir string) (*rendered, error) {
	// kubectl's options (k8s.io/cli-runtime's kustomize visitor): the
	// defaults, with the legacy order that puts the Namespace and the CRD
	// before what needs them.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	r := &rendered{}
	for _, res := range resMap.Resources() {
		// Through JSON, as kubectl sends it: numbers become int64/float64.
		b, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", res.CurId(), err)
		}
		r.objects = append(r.objects, u)
	}
	return r, nil
}

// ofKind returns the objects of a kind, in build order.
func (r *rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one converts the only object of a kind into its typed form.
func one[T any](r *rendered, kind string) (*T, error) {
	objs := r.ofKind(kind)
	if len(objs) != 1 {
		return nil, fmt.Errorf("%d objects of kind %s, want 1", len(objs), kind)
	}
	var out T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, &out); err != nil {
		return nil, fmt.Errorf("converting the %s: %w", kind, err)
	}
	return &out, nil
}

// all converts every object of a kind.
func all[T any](r *rendered, kind string) ([]T, error) {
	var out []T
	for _, o := range r.ofKind(kind) {
		var t T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &t); err != nil {
			return nil, fmt.Errorf("converting %s %s: %w", kind, o.GetName(), err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (r *rendered) deployment() (*appsv1.Deployment, error) {
	return one[appsv1.Deployment](r, "Deployment")
}

// manager is the Deployment's manager container.
func manager(d *appsv1.Deployment) (*corev1.Container, error) {
	i := slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == "manager" })
	if i < 0 {
		return nil, fmt.Errorf("deployment %s has no container named manager", d.Name)
	}
	return &d.Spec.Template.Spec.Containers[i], nil
}

// managerRules are the rules of every Role and ClusterRole bound to the
// manager's service account, with the binding that grants them (a Role's
// rules hold only in its namespace).
type grantedRule struct {
	rule      rbacv1.PolicyRule
	role      string
	namespace string // "" for a ClusterRole bound cluster-wide
}

func (r *rendered) managerRules(sa *corev1.ServiceAccount) ([]grantedRule, error) {
	roles, err := all[rbacv1.Role](r, "Role")
	if err != nil {
		return nil, err
	}
	clusterRoles, err := all[rbacv1.ClusterRole](r, "ClusterRole")
	if err != nil {
		return nil, err
	}
	crbs, err := all[rbacv1.ClusterRoleBinding](r, "ClusterRoleBinding")
	if err != nil {
		return nil, err
	}
	rbs, err := all[rbacv1.RoleBinding](r, "RoleBinding")
	if err != nil {
		return nil, err
	}
	bindsSA := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.Name && s.Namespace == sa.Namespace
		})
	}
	rulesOf := func(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
		switch ref.Kind {
		case "ClusterRole":
			if i := slices.IndexFunc(clusterRoles, func(c rbacv1.ClusterRole) bool { return c.Name == ref.Name }); i >= 0 {
				return clusterRoles[i].Rules, nil
			}
		case "Role":
			if i := slices.IndexFunc(roles, func(x rbacv1.Role) bool { return x.Name == ref.Name && x.Namespace == namespace }); i >= 0 {
				return roles[i].Rules, nil
			}
		}
		return nil, fmt.Errorf("binding to %s %s, which the install does not create", ref.Kind, ref.Name)
	}
	var out []grantedRule
	for _, b := range crbs {
		if !bindsSA(b.Subjects) {
			continue
		}
		rules, err := rulesOf(b.RoleRef, "")
		if err != nil {
			return nil, fmt.Errorf("ClusterRoleBinding %s: %w", b.Name, err)
		}
		for _, rule := range rules {
			out = append(out, grantedRule{rule: rule, role: b.RoleRef.Name})
		}
	}
	for _, b := range rbs {
		if !bindsSA(b.Subjects) {
			continue
		}
		rules, err := rulesOf(b.RoleRef, b.Namespace)
		if err != nil {
			return nil, fmt.Errorf("RoleBinding %s/%s: %w", b.Namespace, b.Name, err)
		}
		for _, rule := range rules {
			out = append(out, grantedRule{rule: rule, role: b.RoleRef.Name, namespace: b.Namespace})
		}
	}
	return out, nil
}
