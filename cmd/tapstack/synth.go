package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tapstack/payment-migration-operator/internal/crdschema"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

const defaultRegion = "us-east-1"

type synthOptions struct {
	file, out, format, region string
}

func parseSynthFlags(args []string) (synthOptions, error) {
	var o synthOptions
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once, with the usage
	fs.StringVar(&o.file, "f", "", "PaymentMigration manifest (YAML or JSON); - for standard input")
	fs.StringVar(&o.out, "o", "", "write the template to this file instead of standard output")
	fs.StringVar(&o.format, "format", "json", "json or yaml")
	fs.StringVar(&o.region, "region", "", "region when spec.region is empty")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case o.file == "":
		return o, fmt.Errorf("%w: -f FILE is required", errUsage)
	case o.format != "json" && o.format != "yaml":
		return o, fmt.Errorf("%w: --format must be json or yaml, got %q", errUsage, o.format)
	}
	return o, nil
}

func synth(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, getenv func(string) string) error {
	o, err := parseSynthFlags(args)
	if err != nil {
		return err
	}
	manifest, err := readManifest(o.file, stdin)
	if err != nil {
		return err
	}
	pm, err := crdschema.DecodePaymentMigration(ctx, manifest)
	if err != nil {
		return fmt.Errorf("%s: %w", o.file, err)
	}
	t, err := tapstack.Synthesize(pm.Spec, resolveRegion(pm.Spec.Region, o.region, getenv))
	if err != nil {
		return fmt.Errorf("%s: %w", o.file, err)
	}
	rendered, err := format(t, o.format)
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err = stdout.Write(rendered)
		return err
	}
	if err := os.WriteFile(o.out, rendered, 0o644); err != nil {
		return fmt.Errorf("write template: %w", err)
	}
	return nil
}

func readManifest(path string, stdin io.Reader) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return b, nil
}

// resolveRegion follows the operator: spec.region, then the flag, then
// AWS_REGION, then us-east-1.
func resolveRegion(spec, flagValue string, getenv func(string) string) string {
	for _, r := range []string{spec, flagValue, getenv("AWS_REGION")} {
		if r != "" {
			return r
		}
	}
	return defaultRegion
}

func format(t *tapstack.Template, f string) ([]byte, error) {
	if f == "yaml" {
		return t.YAML()
	}
	return t.PrettyJSON()
}
