package awscfg

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/middleware"

	"github.com/tapstack/payment-migration-operator/internal/awstest"
)

func TestConfigIsLoadedOncePerRegion(t *testing.T) {
	awstest.Isolate(t, "http://emulator-a:5000")
	p := NewProvider(Options{})
	ctx := context.Background()
	first, err := p.Config(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	// A reload would pick the new endpoint up; a cached configuration keeps the old one.
	t.Setenv("AWS_ENDPOINT_URL", "http://emulator-b:5000")
	steps := []struct {
		region       string
		wantEndpoint string
		wantSame     bool // same credentials provider as the first configuration
	}{
		{"eu-west-1", "http://emulator-a:5000", true},
		{"us-east-1", "http://emulator-b:5000", false},
		{"eu-west-1", "http://emulator-a:5000", true},
	}
	for _, step := range steps {
		cfg, err := p.Config(ctx, step.region)
		if err != nil {
			t.Fatalf("Config(%s): %v", step.region, err)
		}
		if cfg.Region != step.region {
			t.Errorf("Config(%s).Region = %q", step.region, cfg.Region)
		}
		if got := deref(cfg.BaseEndpoint); got != step.wantEndpoint {
			t.Errorf("Config(%s).BaseEndpoint = %q, want %q", step.region, got, step.wantEndpoint)
		}
		if same := cfg.Credentials == first.Credentials; same != step.wantSame {
			t.Errorf("Config(%s) shares the first configuration's credentials: %t, want %t", step.region, same, step.wantSame)
		}
	}
}

func TestConfigIsLoadedOnceUnderConcurrentCalls(t *testing.T) {
	awstest.Isolate(t, "")
	p := NewProvider(Options{})
	var wg sync.WaitGroup
	creds := make([]any, 8)
	for i := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := p.Config(context.Background(), "eu-west-1")
			if err != nil {
				t.Error(err)
				return
			}
			creds[i] = cfg.Credentials
		}()
	}
	wg.Wait()
	for i := range creds {
		if creds[i] != creds[0] {
			t.Fatalf("concurrent calls loaded distinct configurations for one region")
		}
	}
}

func TestConfigTakesEndpointAndCredentialsFromTheEnvironment(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
	}{
		{name: "emulator endpoint", endpoint: "http://127.0.0.1:5000"},
		{name: "no endpoint: AWS itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			awstest.Isolate(t, tt.endpoint)
			cfg, err := NewProvider(Options{}).Config(context.Background(), "eu-central-1")
			if err != nil {
				t.Fatal(err)
			}
			if got := deref(cfg.BaseEndpoint); got != tt.endpoint {
				t.Errorf("BaseEndpoint = %q, want %q", got, tt.endpoint)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("retrieving credentials: %v", err)
			}
			if creds.AccessKeyID != "AKIATESTONLY00000000" {
				t.Errorf("AccessKeyID = %q, want the one from the environment", creds.AccessKeyID)
			}
		})
	}
}

func TestRetryerHonoursMaxAttempts(t *testing.T) {
	tests := []struct {
		maxAttempts int
		want        int
	}{
		{0, 3}, // the SDK default
		{1, 1},
		{5, 5},
		{12, 12},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("MaxAttempts_%d", tt.maxAttempts), func(t *testing.T) {
			awstest.Isolate(t, "")
			cfg, err := NewProvider(Options{MaxAttempts: tt.maxAttempts}).Config(context.Background(), "eu-west-1")
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Retryer == nil {
				t.Fatal("configuration has no retryer")
			}
			if got := cfg.Retryer().MaxAttempts(); got != tt.want {
				t.Errorf("retryer makes %d attempts, want %d", got, tt.want)
			}
		})
	}
}

func TestS3PathStyleIsReported(t *testing.T) {
	for _, want := range []bool{false, true} {
		if got := NewProvider(Options{S3PathStyle: want}).S3PathStyle(); got != want {
			t.Errorf("S3PathStyle() = %t, want %t", got, want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestAPIOptionsReachEveryClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	awstest.Isolate(t, srv.URL)
	var seen atomic.Int32
	count := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				seen.Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
	p := NewProvider(Options{MaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{count}})
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		cfg, err := p.Config(context.Background(), region)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cloudwatch.NewFromConfig(cfg, CloudWatchJSON).ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{}); err != nil {
			t.Fatalf("ListMetrics in %s: %v", region, err)
		}
	}
	if got := seen.Load(); got != 2 {
		t.Errorf("the API option ran in %d calls, want 2", got)
	}
}
