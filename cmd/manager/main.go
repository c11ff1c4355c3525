// Command manager runs the payment-migration-operator's controllers.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/smithy-go/middleware"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/awsclients"
	"github.com/tapstack/payment-migration-operator/internal/awsmetrics"
	"github.com/tapstack/payment-migration-operator/internal/metricsserving"
	webhookv1alpha1 "github.com/tapstack/payment-migration-operator/internal/webhook/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/webhookserving"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsOpts      metricsserving.Options
		webhookOpts      webhookserving.Options
		probeAddr        string
		leaderElect      bool
		defaultRegion    string
		s3PathStyle      bool
		dbSSLMode        string
		sqlRunnerPoll    time.Duration
		workers          int
		reconcileTimeout time.Duration
		awsAttempts      int
		callTimeout      time.Duration
		timing           = controllers.DefaultTiming
	)
	metricsOpts.BindFlags(flag.CommandLine)
	webhookOpts.BindFlags(flag.CommandLine)
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the liveness and readiness probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica of the manager reconciles at a time.")
	flag.StringVar(&defaultRegion, "default-region", envOr("AWS_REGION", "us-east-1"), "AWS region of migrations whose spec names none.")
	flag.StringVar(&dbSSLMode, "db-sslmode", "require", "sslmode of the operator's sessions on the migration's databases: require (TLS, as RDS's rds.force_ssl demands), verify-ca or verify-full (the RDS CA must be in the system trust store), or disable for local servers without TLS.")
	flag.DurationVar(&sqlRunnerPoll, "sql-runner-poll", 2*time.Second, "How often the in-VPC SQL runner (spec.sqlRunner.mode InVPC) reads the state of its running task; a freeze's flip waits for the read that sees the task stopped.")
	flag.BoolVar(&s3PathStyle, "s3-path-style", false, "Address S3 buckets by path (needed by emulators and S3-compatible endpoints).")
	flag.IntVar(&awsAttempts, "aws-max-attempts", 5, "Attempts per AWS call of the SDK's standard retryer (it backs off on throttling).")
	flag.DurationVar(&callTimeout, "aws-call-timeout", awscfg.DefaultCallTimeout, "Timeout of one AWS API call.")
	flag.IntVar(&workers, "max-concurrent-reconciles", controllers.DefaultWorkers, "How many migrations are reconciled at once; a slow one then holds up no other.")
	flag.DurationVar(&reconcileTimeout, "reconcile-timeout", controllers.DefaultReconcileTimeout, "Deadline of one reconcile; the next one resumes from what AWS and status say.")
	flag.DurationVar(&timing.Fast, "requeue-fast", timing.Fast, "How often to look at a stack while an operation runs.")
	flag.DurationVar(&timing.Slow, "requeue-slow", timing.Slow, "How often to look at a stable stack.")
	flag.DurationVar(&timing.FullLoad, "sample-full-load", timing.FullLoad, "How often to sample a migration in full load.")
	flag.DurationVar(&timing.Replicating, "sample-replicating", timing.Replicating, "How often to sample a replicating migration (DMS publishes metrics once a minute).")
	flag.DurationVar(&timing.Validation, "sample-validation", timing.Validation, "How often to read DMS table statistics while replicating.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	switch dbSSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return fmt.Errorf("--db-sslmode %q: want disable, allow, prefer, require, verify-ca or verify-full", dbSSLMode)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(paymentsv1alpha1.AddToScheme(scheme))

	// HTTPS, and a scrape is served only to a client the API server
	// authenticates and authorizes (the metrics-reader ClusterRole).
	metricsServer, metricsCerts, err := metricsOpts.Server()
	if err != nil {
		return err
	}
	// The admission webhook that stamps who approves a cutover; nil when
	// --webhook-port=0.
	webhookServer, err := webhookOpts.Server()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsServer,
		WebhookServer:          webhookServer,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "payment-migration-operator.payments.tapstack.io",
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if metricsCerts != nil {
		if err := mgr.Add(metricsCerts); err != nil {
			return fmt.Errorf("adding the metrics certificate watcher: %w", err)
		}
	}
	apiMetrics := awsmetrics.New(metrics.Registry)
	// One context for the manager and the AWS clients: a signal stops both.
	ctx := ctrl.SetupSignalHandler()
	factory := &awsclients.Factory{
		Lifetime: ctx,
		Provider: awscfg.NewProvider(awscfg.Options{
			MaxAttempts: awsAttempts,
			S3PathStyle: s3PathStyle,
			APIOptions:  []func(*middleware.Stack) error{apiMetrics.Middleware()},
			CallTimeout: callTimeout,
		}),
		DBSSLMode:     dbSSLMode,
		SQLRunnerPoll: sqlRunnerPoll,
	}
	if err := (&controllers.PaymentMigrationReconciler{
		Client:           mgr.GetClient(),
		APIReader:        mgr.GetAPIReader(),
		Recorder:         mgr.GetEventRecorder("payment-migration-operator"),
		AWS:              controllers.AWSFromFactory(factory),
		Synthesize:       controllers.SynthesizeTapStack,
		Timing:           timing,
		DefaultRegion:    defaultRegion,
		Metrics:          controllers.NewMigrationMetrics(metrics.Registry),
		Workers:          workers,
		ReconcileTimeout: reconcileTimeout,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("registering PaymentMigration controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}
	if webhookOpts.Enabled() {
		if err := webhookv1alpha1.SetupPaymentMigrationWebhookWithManager(mgr); err != nil {
			return fmt.Errorf("registering the approval webhook: %w", err)
		}
		// Every replica serves the webhook (it needs no leadership); one is
		// ready, and in the webhook Service's endpoints, once it does.
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return fmt.Errorf("adding the webhook's ready check: %w", err)
		}
	} else {
		ctrl.Log.WithName("setup").Info("the approval webhook is disabled (--webhook-port=0): approvals are recorded with an unknown approver")
	}
	ctrl.Log.WithName("setup").Info("starting manager", "defaultRegion", defaultRegion, "leaderElection", leaderElect,
		"metricsBindAddress", metricsOpts.BindAddress, "metricsSecure", metricsOpts.Secure, "webhookPort", webhookOpts.Port)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
