package tapstack

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cfn-lint (AWS's linter, with the current CloudFormation resource schemas) is the
// check that goformation's generated types still match what CloudFormation
// accepts. It runs with its default rules; a warning is only acceptable where the
// resource's metadata ignores it, next to a comment saying why.
func TestCfnLintFindsNothingInTheSampleAndVariants(t *testing.T) {
	cfnLint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not on PATH; install it (pip install cfn-lint) - the template must pass it, so this test never skips")
	}
	dir := t.TempDir()
	cases := map[string][]byte{}
	pretty, err := synth(t, sampleSpec(t), sampleRegion).PrettyJSON()
	if err != nil {
		t.Fatal(err)
	}
	cases["sample"] = pretty
	for _, v := range variants {
		spec, region := variantSpec(t, v)
		p, err := synth(t, spec, region).PrettyJSON()
		if err != nil {
			t.Fatal(err)
		}
		cases[v.name] = p
	}
	var files []string
	for name, body := range cases {
		path := filepath.Join(dir, name+".template.json")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	// One run over every template: cfn-lint's start-up dominates its run time.
	cmd := exec.Command(cfnLint, append([]string{"--format", "json", "--"}, files...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var matches []struct {
		Rule struct {
			ID string `json:"Id"`
		}
		Message  string
		Filename string
		Location struct{ Path []any }
	}
	if err := json.Unmarshal(stdout.Bytes(), &matches); err != nil {
		t.Fatalf("cfn-lint did not report JSON (%v): %s\n%s", runErr, stdout.String(), stderr.String())
	}
	for _, m := range matches {
		t.Errorf("%s: %s %s at %v", filepath.Base(m.Filename), m.Rule.ID, m.Message, m.Location.Path)
	}
	if runErr != nil && len(matches) == 0 {
		t.Fatalf("cfn-lint failed without findings: %v\n%s", runErr, stderr.String())
	}
}
