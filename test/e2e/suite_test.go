// Package e2e runs the operator end to end: a real kube-apiserver and etcd
// (envtest), the manager with its real AWS clients, and the AWS emulator
// (hack/emulator) as the AWS endpoint. The deployed resources are inspected
// through the AWS SDK, as one would in a real account.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/awsclients"
	"github.com/tapstack/payment-migration-operator/test/emulator"
	"github.com/tapstack/payment-migration-operator/test/testenv"
)

const region = "us-east-1"

var (
	k8s    client.Client
	awsCfg aws.Config
	emu    *emulator.Emulator
	// kubectlCmd is the v1.37 kubectl built with the control plane, configured
	// as an administrator of the test's API server.
	kubectlRun func(args ...string) (stdout, stderr io.Reader, err error)
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	emu, err = emulator.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the AWS emulator:", err)
		return 1
	}
	defer func() { _ = emu.Close() }()
	// The manager and the test's own clients find the emulator exactly as they
	// would find AWS: through the SDK's standard environment.
	for _, kv := range emu.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	awsCfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading AWS config:", err)
		return 1
	}

	// The in-VPC runner's tasks start at once here: its reads of a running
	// task are paced for that, not for Fargate.
	factory := &awsclients.Factory{Provider: awscfg.NewProvider(awscfg.Options{S3PathStyle: true}), SQLRunnerPoll: 100 * time.Millisecond}
	env, err := testenv.StartManager(&controllers.PaymentMigrationReconciler{
		AWS:        controllers.AWSFromFactory(factory),
		Synthesize: controllers.SynthesizeTapStack,
		Timing: controllers.Timing{Fast: 500 * time.Millisecond, Slow: 30 * time.Second, FullLoad: time.Second,
			Replicating: time.Second, Validation: 2 * time.Second, MaxCreateAttempts: 2, BucketBatch: 1000},
		DefaultRegion: region,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	k8s, kubectlRun = env.Manager.GetClient(), env.Kubectl
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "manager log: %s\nemulator log tail:\n%s\n", env.LogPath, emu.LogTail(40))
	}
	return code
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	testenv.Eventually(t, timeout, 250*time.Millisecond, what, cond)
}

// kubectl runs kubectl against the test's API server and returns its output.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := kubectlRun(args...)
	if err != nil {
		errOut, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl %v: %v\n%s", args, err, errOut)
	}
	out, _ := io.ReadAll(stdout)
	return string(out)
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
