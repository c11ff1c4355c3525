// Command controlplane runs a local Kubernetes control plane (kube-apiserver and
// etcd, as envtest starts them) with the project's CRDs installed, writes an admin
// kubeconfig, and serves until interrupted. The demo and manual experiments use
// it in place of a cluster. With --webhook-config it also installs admission
// webhooks, pointed at a local port with a certificate it generates, and
// writes the manager flags that serve them there.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func run() error {
	kubeconfig := flag.String("write-kubeconfig", "", "Where to write the admin kubeconfig (required).")
	var crdDirs multiFlag
	flag.Var(&crdDirs, "crd-dir", "Directory of CRDs to install (repeatable).")
	webhookConfig := flag.String("webhook-config", "", "Webhook configurations to install (config/webhook/manifests.yaml), called on a local port.")
	webhookFlags := flag.String("write-webhook-flags", "", "Where to write the manager's flags that serve the webhooks of --webhook-config, one a line.")
	flag.Parse()
	if *kubeconfig == "" {
		return fmt.Errorf("--write-kubeconfig is required")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set (hack/envtest-bins.sh prints it)")
	}
	if (*webhookConfig == "") != (*webhookFlags == "") {
		return fmt.Errorf("--webhook-config and --write-webhook-flags go together")
	}

	env := &envtest.Environment{CRDDirectoryPaths: crdDirs, ErrorIfCRDPathMissing: true}
	if *webhookConfig != "" {
		env.WebhookInstallOptions.Paths = []string{*webhookConfig}
	}
	if _, err := env.Start(); err != nil {
		_ = env.Stop() // Start can fail with etcd and kube-apiserver already running
		return fmt.Errorf("starting control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()

	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating admin user: %w", err)
	}
	cfg, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering kubeconfig: %w", err)
	}
	if err := os.WriteFile(*kubeconfig, cfg, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	if *webhookFlags != "" {
		w := env.WebhookInstallOptions
		flags := fmt.Sprintf("--webhook-host=%s\n--webhook-port=%d\n--webhook-cert-dir=%s\n", w.LocalServingHost, w.LocalServingPort, w.LocalServingCertDir)
		if err := os.WriteFile(*webhookFlags, []byte(flags), 0o600); err != nil {
			return fmt.Errorf("writing the webhook flags: %w", err)
		}
	}
	fmt.Println("control plane ready; kubeconfig:", *kubeconfig)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
