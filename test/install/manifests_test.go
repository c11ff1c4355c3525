package install_test

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Deployment as a cluster runs it: what the README promises, checked on
// the built manifests (the API server has also admitted them, warning-free).
func TestDeploymentRunsTheManagerAsPromised(t *testing.T) {
	d, err := install.deployment()
	if err != nil {
		t.Fatal(err)
	}
	c, err := manager(d)
	if err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	metricsSvc, err := serviceNamed(install, "metrics-service")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		err  error
	}{
		{"two replicas", expect(d.Spec.Replicas != nil && *d.Spec.Replicas == 2, "replicas %v", d.Spec.Replicas)},
		{"leader election", expect(slices.Contains(c.Args, "--leader-elect") || slices.Contains(c.Args, "--leader-elect=true"), "args %v", c.Args)},
		{"liveness probe on the probe port", probeOnFlagPort(c, c.LivenessProbe, "/healthz")},
		{"readiness probe on the probe port", probeOnFlagPort(c, c.ReadinessProbe, "/readyz")},
		{"metrics over authenticated HTTPS", expect(!slices.Contains(c.Args, "--metrics-secure=false"), "args %v", c.Args)},
		{"the metrics Service reaches the metrics port", serviceReachesFlagPort(c, metricsSvc, "--metrics-bind-address", d)},
		{"non-root", expect(ptrTrue(psc.RunAsNonRoot) || ptrTrue(sc.RunAsNonRoot), "runAsNonRoot unset")},
		{"the image's user", expect(psc.RunAsUser != nil && *psc.RunAsUser == 65532, "runAsUser %v, want 65532 (make image, Dockerfile)", psc.RunAsUser)},
		{"seccomp RuntimeDefault", expect(psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault, "seccompProfile %v", psc.SeccompProfile)},
		{"read-only root filesystem", expect(ptrTrue(sc.ReadOnlyRootFilesystem), "readOnlyRootFilesystem unset")},
		{"no privilege escalation", expect(sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation %v", sc.AllowPrivilegeEscalation)},
		{"every capability dropped, none added", expect(sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0, "capabilities %+v", sc.Capabilities)},
		{"CPU and memory requested, memory bounded", expect(!c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero() && !c.Resources.Limits.Memory().IsZero(), "resources %+v", c.Resources)},
		{"the published image, not the placeholder", publishedImage(c.Image)},
		{"the install's service account", serviceAccountInstalled(pod.ServiceAccountName, d.Namespace)},
		{"a disruption budget that keeps one replica", budgetKeepsOne(d)},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if tc.err != nil {
				t.Error(tc.err)
			}
		})
	}
}

// Everything namespaced lands in the install's Namespace, and the API
// server admitted every object without a warning.
func TestInstallIsOneNamespaceAndDrawsNoWarnings(t *testing.T) {
	ns, err := one[corev1.Namespace](install, "Namespace")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range install.objects {
		if _, skip := skipped[describe(o)]; skip {
			if o.GetNamespace() != ns.Name {
				t.Errorf("%s is not in %s", describe(o), ns.Name)
			}
			continue
		}
		namespaced, err := admin.IsObjectNamespaced(o)
		if err != nil {
			t.Errorf("%s: %v", describe(o), err)
			continue
		}
		if namespaced && o.GetNamespace() != ns.Name {
			t.Errorf("%s is not in %s", describe(o), ns.Name)
		}
	}
	for obj, ws := range warned {
		t.Errorf("applying %s: %s", obj, strings.Join(ws, "; "))
	}
	for obj, why := range skipped {
		t.Logf("not applied: %s (%s)", obj, why)
	}
}

func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// flagPort is the port of an address flag (--name=:8081).
func flagPort(c *corev1.Container, name string) (int32, error) {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			_, port, err := net.SplitHostPort(v)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", a, err)
			}
			n, err := strconv.ParseInt(port, 10, 32)
			return int32(n), err
		}
	}
	return 0, fmt.Errorf("no %s in %v", name, c.Args)
}

// containerPort resolves a named or numbered port of c.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %s", c.Name, p.StrVal)
}

func probeOnFlagPort(c *corev1.Container, p *corev1.Probe, path string) error {
	if p == nil || p.HTTPGet == nil {
		return fmt.Errorf("no HTTP probe for %s", path)
	}
	want, err := flagPort(c, "--health-probe-bind-address")
	if err != nil {
		return err
	}
	got, err := containerPort(c, p.HTTPGet.Port)
	if err != nil {
		return err
	}
	if got != want || p.HTTPGet.Path != path {
		return fmt.Errorf("probe GET %s on %d, want %s on %d (--health-probe-bind-address)", p.HTTPGet.Path, got, path, want)
	}
	return nil
}

func serviceNamed(r *rendered, suffix string) (*corev1.Service, error) {
	svcs, err := all[corev1.Service](r, "Service")
	if err != nil {
		return nil, err
	}
	for i := range svcs {
		if strings.HasSuffix(svcs[i].Name, suffix) {
			return &svcs[i], nil
		}
	}
	return nil, fmt.Errorf("no Service named *%s", suffix)
}

func serviceReachesFlagPort(c *corev1.Container, svc *corev1.Service, flag string, d *appsv1.Deployment) error {
	want, err := flagPort(c, flag)
	if err != nil {
		return err
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		return fmt.Errorf("Service %s selects %v, the pods are %v", svc.Name, svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, p := range svc.Spec.Ports {
		if got, err := containerPort(c, p.TargetPort); err == nil && got == want {
			return nil
		}
	}
	return fmt.Errorf("Service %s targets %v, the manager serves %s on %d", svc.Name, svc.Spec.Ports, flag, want)
}

// publishedImage: the kustomization's images entry replaced the
// placeholder with a pinned reference (a tag other than latest, or a digest).
func publishedImage(image string) error {
	name, tag, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	switch {
	case strings.HasPrefix(image, "controller:") || image == "controller":
		return fmt.Errorf("image %s: config/manager's images entry did not apply", image)
	case !strings.Contains(image, "@sha256:") && (tag == "" || tag == "latest"):
		return fmt.Errorf("image %s (%s) is not pinned to a tag or digest", image, name)
	}
	return nil
}

func serviceAccountInstalled(name, namespace string) error {
	sas, err := all[corev1.ServiceAccount](install, "ServiceAccount")
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(sas, func(sa corev1.ServiceAccount) bool { return sa.Name == name && sa.Namespace == namespace }) {
		return fmt.Errorf("serviceAccountName %s is not an installed service account of %s", name, namespace)
	}
	return nil
}

func budgetKeepsOne(d *appsv1.Deployment) error {
	pdb, err := one[policyv1.PodDisruptionBudget](install, "PodDisruptionBudget")
	if err != nil {
		return err
	}
	sel := pdb.Spec.Selector
	if sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		return fmt.Errorf("PodDisruptionBudget %s selects %v, the pods are %v", pdb.Name, sel, d.Spec.Template.Labels)
	}
	if u := pdb.Spec.MaxUnavailable; u == nil || u.IntValue() != 1 || *d.Spec.Replicas-int32(u.IntValue()) < 1 {
		return fmt.Errorf("PodDisruptionBudget %s maxUnavailable %v with %d replicas", pdb.Name, u, *d.Spec.Replicas)
	}
	return nil
}
