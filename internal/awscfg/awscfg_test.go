package awscfg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// slowServer answers every request with an empty JSON document after delay.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	return awstest.SlowServer(t, delay, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		fmt.Fprint(w, `{}`)
	})
}

// listMetrics makes one call through the SDK's whole client stack and says
// how long it took.
func listMetrics(ctx context.Context, t *testing.T, cfg aws.Config, optFns ...func(*cloudwatch.Options)) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	_, err := cloudwatch.NewFromConfig(cfg, append([]func(*cloudwatch.Options){CloudWatchJSON}, optFns...)...).
		ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	return time.Since(start), err
}

func TestEveryCallIsCutAtTheCallTimeout(t *testing.T) {
	srv := slowServer(t, 5*time.Second)
	for _, attempts := range []int{1, 3} {
		t.Run(fmt.Sprintf("MaxAttempts_%d", attempts), func(t *testing.T) {
			awstest.Isolate(t, srv.URL)
			const timeout = 300 * time.Millisecond
			cfg, err := NewProvider(Options{MaxAttempts: attempts, CallTimeout: timeout}).Config(context.Background(), "eu-west-1")
			if err != nil {
				t.Fatal(err)
			}
			took, err := listMetrics(context.Background(), t, cfg)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ListMetrics against a server slower than the timeout: %v, want a deadline exceeded", err)
			}
			// The retries are inside the bound: the whole call ends at it.
			if took < timeout || took > timeout+time.Second {
				t.Errorf("the call ended after %s, want about the %s timeout", took, timeout)
			}
		})
	}
}

func TestACallerDeadlineShorterThanTheTimeoutStands(t *testing.T) {
	srv := slowServer(t, 5*time.Second)
	awstest.Isolate(t, srv.URL)
	cfg, err := NewProvider(Options{MaxAttempts: 1, CallTimeout: time.Minute}).Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	took, err := listMetrics(ctx, t, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Errorf("ListMetrics = %v after %s, want a deadline exceeded after the caller's 200ms", err, took)
	}
}

func TestACallWithinTheTimeoutSucceeds(t *testing.T) {
	srv := slowServer(t, 100*time.Millisecond)
	awstest.Isolate(t, srv.URL)
	p := NewProvider(Options{MaxAttempts: 1, CallTimeout: 5 * time.Second})
	cfg, err := p.Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listMetrics(context.Background(), t, cfg); err != nil {
		t.Errorf("ListMetrics: %v", err)
	}
}

func TestAClientCanTakeALongerTimeout(t *testing.T) {
	srv := slowServer(t, 400*time.Millisecond)
	awstest.Isolate(t, srv.URL)
	cfg, err := NewProvider(Options{MaxAttempts: 1, CallTimeout: 100 * time.Millisecond}).Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listMetrics(context.Background(), t, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the configuration's timeout: %v, want a deadline exceeded", err)
	}
	longer := func(o *cloudwatch.Options) { o.APIOptions = append(o.APIOptions, CallTimeout(5*time.Second)) }
	if _, err := listMetrics(context.Background(), t, cfg, longer); err != nil {
		t.Errorf("with a client's longer timeout: %v", err)
	}
	// The longer timeout replaced the configuration's, it did not add to it:
	// the client still has one bound, and a slower server still cuts it.
	slower := slowServer(t, 5*time.Second)
	awstest.Isolate(t, slower.URL)
	cfg, err = NewProvider(Options{MaxAttempts: 1, CallTimeout: 100 * time.Millisecond}).Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	shorter := func(o *cloudwatch.Options) { o.APIOptions = append(o.APIOptions, CallTimeout(300*time.Millisecond)) }
	if took, err := listMetrics(context.Background(), t, cfg, longer, shorter); !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Errorf("with the last of two client timeouts (300ms): %v after %s, want a deadline exceeded at it", err, took)
	}
}

func TestCallTimeoutDefaults(t *testing.T) {
	if got := NewProvider(Options{}).CallTimeout(); got != DefaultCallTimeout {
		t.Errorf("CallTimeout() = %s, want the default %s", got, DefaultCallTimeout)
	}
	if got := NewProvider(Options{CallTimeout: time.Second}).CallTimeout(); got != time.Second {
		t.Errorf("CallTimeout() = %s, want 1s", got)
	}
}

// An API option put first in the initialize step, as the metrics' counters
// are, wraps the timeout: it sees the caller's context and the timeout's error.
func TestTheTimeoutSitsInsideTheOtherAPIOptions(t *testing.T) {
	srv := slowServer(t, 5*time.Second)
	awstest.Isolate(t, srv.URL)
	var sawDeadline bool
	var sawErr error
	outer := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("outer",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				_, sawDeadline = ctx.Deadline()
				out, md, err := next.HandleInitialize(ctx, in)
				sawErr = err
				return out, md, err
			}), middleware.Before)
	}
	cfg, err := NewProvider(Options{MaxAttempts: 1, CallTimeout: 100 * time.Millisecond, APIOptions: []func(*middleware.Stack) error{outer}}).
		Config(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listMetrics(context.Background(), t, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ListMetrics: %v, want a deadline exceeded", err)
	}
	if sawDeadline || !errors.Is(sawErr, context.DeadlineExceeded) {
		t.Errorf("the outer option saw a deadline: %t, and the error %v; want the caller's context and the timeout's error", sawDeadline, sawErr)
	}
}
