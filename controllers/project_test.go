package controllers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The kubebuilder PROJECT file at the root of the repository describes the tree
// as it is: the layout, the one API and where it and its controller live.
func TestProjectFileDescribesTheTree(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "PROJECT"))
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Domain      string   `json:"domain"`
		Layout      []string `json:"layout"`
		MultiGroup  bool     `json:"multigroup"`
		ProjectName string   `json:"projectName"`
		Repo        string   `json:"repo"`
		Version     string   `json:"version"`
		Resources   []struct {
			API struct {
				CRDVersion string `json:"crdVersion"`
				Namespaced bool   `json:"namespaced"`
			} `json:"api"`
			Controller bool   `json:"controller"`
			Domain     string `json:"domain"`
			Group      string `json:"group"`
			Kind       string `json:"kind"`
			Path       string `json:"path"`
			Version    string `json:"version"`
		} `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(raw, &project); err != nil {
		t.Fatalf("PROJECT: %v", err)
	}
	if project.Version != "3" || project.ProjectName != "payment-migration-operator" {
		t.Errorf("PROJECT version %q, name %q", project.Version, project.ProjectName)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "module " + project.Repo + "\n"; !strings.HasPrefix(string(gomod), want) {
		t.Errorf("repo %q is not the module of go.mod", project.Repo)
	}
	// go/v3 keeps controllers in controllers/; go/v4 in internal/controller/.
	if !slices.Equal(project.Layout, []string{"go.kubebuilder.io/v3"}) {
		t.Errorf("layout %v, want go.kubebuilder.io/v3 (controllers/ at the root)", project.Layout)
	}
	if project.MultiGroup {
		t.Error("multigroup, but the API is in api/<version>/")
	}
	if len(project.Resources) != 1 {
		t.Fatalf("%d resources, want the one API (PaymentMigration)", len(project.Resources))
	}
	r := project.Resources[0]
	if r.Kind != "PaymentMigration" || r.Version != "v1alpha1" || r.Group+"."+r.Domain != "payments.tapstack.io" || r.Domain != project.Domain {
		t.Errorf("resource %s %s.%s %s, want PaymentMigration payments.tapstack.io v1alpha1", r.Kind, r.Group, r.Domain, r.Version)
	}
	dir, ok := strings.CutPrefix(r.Path, project.Repo+"/")
	if !ok || dir != "api/"+r.Version {
		t.Errorf("API path %q, want %s/api/%s", r.Path, project.Repo, r.Version)
	}
	groupInfo, err := os.ReadFile(filepath.Join("..", dir, "groupversion_info.go"))
	if err != nil || !strings.Contains(string(groupInfo), "+groupName="+r.Group+"."+r.Domain) {
		t.Errorf("%s does not declare the group %s.%s: %v", dir, r.Group, r.Domain, err)
	}
	crd, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", r.Group+"."+r.Domain+"_"+strings.ToLower(r.Kind)+"s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.API.CRDVersion != "v1" || !strings.Contains(string(crd), "apiextensions.k8s.io/"+r.API.CRDVersion) {
		t.Errorf("crdVersion %q, not the generated CRD's", r.API.CRDVersion)
	}
	if r.API.Namespaced != strings.Contains(string(crd), "scope: Namespaced") {
		t.Errorf("namespaced %t, not the generated CRD's scope", r.API.Namespaced)
	}
	if _, err := os.Stat(strings.ToLower(r.Kind) + "_controller.go"); !r.Controller || err != nil {
		t.Errorf("controller %t, want true with controllers/%s_controller.go: %v", r.Controller, strings.ToLower(r.Kind), err)
	}
}
