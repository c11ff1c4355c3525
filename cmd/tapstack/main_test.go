package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const sample = "../../config/samples/payments_v1alpha1_paymentmigration.yaml"

func noEnv(string) string { return "" }

func runCLI(t *testing.T, stdin string, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, getenv)
	return out.String(), err
}

// The CLI prints exactly the template the synthesizer's golden file holds.
func TestSynthPrintsTheSampleTemplate(t *testing.T) {
	out, err := runCLI(t, "", noEnv, "synth", "-f", sample)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../internal/tapstack/testdata/sample.template.json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(golden) {
		t.Error("tapstack synth output differs from the sample golden template")
	}
}

func TestSynthYAMLFormatIsTheSameTemplate(t *testing.T) {
	j, err := runCLI(t, "", noEnv, "synth", "-f", sample)
	if err != nil {
		t.Fatal(err)
	}
	y, err := runCLI(t, "", noEnv, "synth", "-f", sample, "--format", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(j), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(y), &fromYAML); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if !bytes.Equal(a, b) {
		t.Error("YAML and JSON output differ")
	}
}

func TestSynthWritesToTheOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.json")
	out, err := runCLI(t, "", noEnv, "synth", "-f", sample, "-o", path)
	if err != nil || out != "" {
		t.Fatalf("err %v, stdout %q", err, out)
	}
	if b, err := os.ReadFile(path); err != nil || !json.Valid(b) {
		t.Fatalf("output file: %v", err)
	}
}

func TestSynthReadsStandardInput(t *testing.T) {
	manifest, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, string(manifest), noEnv, "synth", "-f", "-")
	if err != nil || !json.Valid([]byte(out)) {
		t.Fatalf("err %v", err)
	}
}

func TestSynthErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	invalid := "apiVersion: payments.tapstack.io/v1alpha1\nkind: PaymentMigration\nmetadata: {name: x}\nspec:\n  environmentSuffix: pr1\n  cutover: {steps: [10, 50]}\n"
	cases := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"missing file", []string{"synth", "-f", filepath.Join(dir, "absent.yaml")}, "no such file", false},
		{"bad YAML", []string{"synth", "-f", write("bad.yaml", "spec: [")}, "parse manifest", false},
		{"invalid spec names the field", []string{"synth", "-f", write("invalid.yaml", invalid)}, "spec.cutover.steps: Invalid value", false},
		{"unknown field", []string{"synth", "-f", write("unknown.yaml", strings.Replace(invalid, "[10, 50]", "[10, 100]", 1)+"  colour: red\n")}, "spec.colour", false},
		{"wrong kind", []string{"synth", "-f", write("kind.yaml", strings.Replace(invalid, "kind: PaymentMigration", "kind: Deployment", 1))}, "kind", false},
		{"no -f", []string{"synth"}, "-f FILE is required", true},
		{"bad format", []string{"synth", "-f", sample, "--format", "xml"}, "json or yaml", true},
		{"unknown command", []string{"deploy"}, "unknown command", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runCLI(t, "", noEnv, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to mention %q", err, c.want)
			}
			if got := errors.Is(err, errUsage); got != c.usage {
				t.Errorf("usage error = %v, want %v", got, c.usage)
			}
		})
	}
}

func TestRegionComesFromSpecThenFlagThenEnvironment(t *testing.T) {
	env := func(k string) string {
		if k == "AWS_REGION" {
			return "ap-south-1"
		}
		return ""
	}
	cases := []struct {
		spec, flag string
		getenv     func(string) string
		want       string
	}{
		{"eu-west-1", "us-west-2", env, "eu-west-1"},
		{"", "us-west-2", env, "us-west-2"},
		{"", "", env, "ap-south-1"},
		{"", "", noEnv, "us-east-1"},
	}
	for _, c := range cases {
		if got := resolveRegion(c.spec, c.flag, c.getenv); got != c.want {
			t.Errorf("resolveRegion(%q, %q) = %q, want %q", c.spec, c.flag, got, c.want)
		}
	}
}
