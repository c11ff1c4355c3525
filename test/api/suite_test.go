// Package api_test runs the PaymentMigration API against a real kube-apiserver
// and etcd (envtest): what the API server accepts, defaults and rejects is the
// contract users meet first, so it is tested where it is enforced.
package api_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tapstack/payment-migration-operator/test/testenv"
)

var (
	k8s client.Client
	cp  *testenv.ControlPlane
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	cp, err = testenv.StartControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cp.Stop()
	k8s, err = client.New(cp.Config, client.Options{Scheme: cp.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating client:", err)
		return 1
	}
	return m.Run()
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}
