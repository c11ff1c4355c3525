package awsmetrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
)

// reply is one canned HTTP answer of the stand-in AWS endpoint.
type reply struct {
	status    int
	errorType string // __type of a JSON error body; "" for success
}

// endpoint answers requests with the replies in order, the last one forever.
func endpoint(t *testing.T, replies ...reply) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(replies)-1)
		rep := replies[i]
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(rep.status)
		if rep.errorType != "" {
			fmt.Fprintf(w, `{"__type":%q,"message":"canned"}`, rep.errorType)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func config(url string, attempts int, rec *Recorder) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(url),
		APIOptions:   []func(*middleware.Stack) error{rec.Middleware()},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.RateLimiter = ratelimit.None
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

const dmsService = "Database Migration Service"

func TestRecorderCountsCallsAndErrors(t *testing.T) {
	tests := []struct {
		name         string
		replies      []reply
		attempts     int
		wantErr      bool
		wantRequests int32
		wantCode     string // "" when no error is counted
	}{
		{name: "success", replies: []reply{{status: 200}}, attempts: 1, wantRequests: 1},
		{name: "API error", replies: []reply{{400, "ResourceNotFoundFault"}}, attempts: 1, wantErr: true, wantRequests: 1, wantCode: "ResourceNotFoundFault"},
		{name: "retried then succeeded counts once", replies: []reply{{400, "ThrottlingException"}, {503, "ServiceUnavailable"}, {status: 200}},
			attempts: 3, wantRequests: 3},
		{name: "retries exhausted count one error", replies: []reply{{400, "ThrottlingException"}}, attempts: 2, wantErr: true,
			wantRequests: 2, wantCode: "ThrottlingException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			rec := New(reg)
			srv, requests := endpoint(t, tt.replies...)
			client := dms.NewFromConfig(config(srv.URL, tt.attempts, rec))
			_, err := client.DescribeReplicationTasks(context.Background(), &dms.DescribeReplicationTasksInput{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("call error = %v, want error %t", err, tt.wantErr)
			}
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("%d HTTP requests, want %d", got, tt.wantRequests)
			}
			if got := testutil.ToFloat64(rec.calls.WithLabelValues(dmsService, "DescribeReplicationTasks")); got != 1 {
				t.Errorf("calls = %v, want 1", got)
			}
			wantErrors := 0
			if tt.wantCode != "" {
				wantErrors = 1
				if got := testutil.ToFloat64(rec.errors.WithLabelValues(dmsService, "DescribeReplicationTasks", tt.wantCode)); got != 1 {
					t.Errorf("errors{code=%s} = %v, want 1", tt.wantCode, got)
				}
			}
			if got := testutil.CollectAndCount(rec.errors); got != wantErrors {
				t.Errorf("%d error series, want %d", got, wantErrors)
			}
		})
	}
}

func TestRecorderLabelsEachServiceAndOperation(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := New(reg)
	srv, _ := endpoint(t, reply{status: 200})
	cfg := config(srv.URL, 1, rec)
	ctx := context.Background()
	d := dms.NewFromConfig(cfg)
	for range 2 {
		if _, err := d.DescribeReplicationTasks(ctx, &dms.DescribeReplicationTasksInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.DescribeConnections(ctx, &dms.DescribeConnectionsInput{}); err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(cfg, awscfg.CloudWatchJSON)
	now := time.Now()
	if _, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), Expression: aws.String("1")}},
	}); err != nil {
		t.Fatal(err)
	}
	// Refused by the SDK before it is sent: counted, as an error.
	if _, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{}); err == nil {
		t.Fatal("GetMetricData without its required fields succeeded")
	}
	want := `
# HELP payment_migration_aws_api_calls_total AWS API calls made by the operator, by service and operation. SDK retries of a call count once.
# TYPE payment_migration_aws_api_calls_total counter
payment_migration_aws_api_calls_total{operation="DescribeConnections",service="Database Migration Service"} 1
payment_migration_aws_api_calls_total{operation="DescribeReplicationTasks",service="Database Migration Service"} 2
payment_migration_aws_api_calls_total{operation="GetMetricData",service="CloudWatch"} 2
# HELP payment_migration_aws_api_errors_total AWS API calls that failed after the SDK's retries, by service, operation and AWS error code.
# TYPE payment_migration_aws_api_errors_total counter
payment_migration_aws_api_errors_total{code="InvalidParams",operation="GetMetricData",service="CloudWatch"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestRecorderCountsCallsThatGetNoAnswer(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := New(reg)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer slow.Close()
	defer close(release)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := dms.NewFromConfig(config(slow.URL, 1, rec)).DescribeConnections(ctx, &dms.DescribeConnectionsInput{}); err == nil {
		t.Fatal("a call past its deadline succeeded")
	}
	if _, err := dms.NewFromConfig(config(closed.URL, 1, rec)).DescribeConnections(context.Background(), &dms.DescribeConnectionsInput{}); err == nil {
		t.Fatal("a call to a closed endpoint succeeded")
	}
	for _, code := range []string{CodeTimeout, CodeSendError} {
		if got := testutil.ToFloat64(rec.errors.WithLabelValues(dmsService, "DescribeConnections", code)); got != 1 {
			t.Errorf("errors{code=%s} = %v, want 1", code, got)
		}
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&smithy.GenericAPIError{Code: "AccessDenied"}, "AccessDenied"},
		{fmt.Errorf("wrapped: %w", &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "Throttling"}}), "Throttling"},
		{fmt.Errorf("x: %w", context.Canceled), CodeCanceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), CodeTimeout},
		{errors.New("boom"), CodeUnknown},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
