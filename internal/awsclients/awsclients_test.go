package awsclients

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/awstest"
	"github.com/tapstack/payment-migration-operator/internal/replication"
)

func TestReplicationClientIsSharedPerRegion(t *testing.T) {
	awstest.Isolate(t, "http://127.0.0.1:1")
	f := &Factory{Provider: awscfg.NewProvider(awscfg.Options{})}
	ctx := context.Background()
	get := func(region string) *Set {
		t.Helper()
		set, err := f.For(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		if set.Replication == nil {
			t.Fatalf("the %s set has no replication client", region)
		}
		return set
	}
	a, b, other := get("eu-west-1"), get("eu-west-1"), get("us-east-1")
	if a.Replication != b.Replication {
		t.Error("two migrations of one region got distinct replication clients: their reads cannot be batched")
	}
	if a.Replication == other.Replication {
		t.Error("two regions share a replication client")
	}
}

// The emulator speaks CloudWatch's JSON protocol, not the SDK's default CBOR.
func TestReplicationReadsCloudWatchOverJSON(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Content-Type")+" "+r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		fmt.Fprint(w, `{"MetricDataResults":[{"Id":"src0","Timestamps":[1767225600],"Values":[7],"StatusCode":"Complete"}]}`)
	}))
	defer srv.Close()
	awstest.Isolate(t, srv.URL)
	f := &Factory{Provider: awscfg.NewProvider(awscfg.Options{MaxAttempts: 1})}
	set, err := f.For(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	lag, err := set.Replication.Lag(context.Background(), "ri", "TASK")
	if err != nil {
		t.Fatal(err)
	}
	if lag.Source == nil || *lag.Source != 7 || lag.Target != nil {
		t.Errorf("Lag = %+v, want source 7 and no target", lag)
	}
	want := "application/x-amz-json-1.0 GraniteServiceVersion20100801.GetMetricData"
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("requests %q, want one %q", seen, want)
	}
}

// slowServer answers after delay: an empty listing to S3's ListObjectVersions,
// an empty JSON document otherwise.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	return awstest.SlowServer(t, delay, func(w http.ResponseWriter, r *http.Request) {
		if _, versions := r.URL.Query()["versions"]; versions {
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListVersionsResult>`)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{}`)
	})
}

// Every adapter's calls go through the SDK clients' timeout middleware, with
// the Provider's timeout; the bucket emptier's through one of twice that.
func TestEveryClientIsBoundedByTheCallTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := slowServer(t, timeout*3/2) // past the timeout, within twice it
	awstest.Isolate(t, srv.URL)
	f := &Factory{Provider: awscfg.NewProvider(awscfg.Options{MaxAttempts: 1, CallTimeout: timeout, S3PathStyle: true})}
	set, err := f.For(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:dms:eu-west-1:123456789012:task:TASK"
	calls := map[string]func(ctx context.Context) error{
		"CloudFormation DescribeStacks": func(ctx context.Context) error { _, err := set.Stacks.Observe(ctx, "TapStackx"); return err },
		"STS GetCallerIdentity (staging)": func(ctx context.Context) error {
			_, err := set.Stacks.Stager.Stage(ctx, "TapStackx", "sha256:00", []byte("{}"))
			return err
		},
		"DMS DescribeReplicationTasks (batched)": func(ctx context.Context) error { _, err := set.Replication.Task(ctx, arn); return err },
		"DMS DescribeReplicationTasks (deletion)": func(ctx context.Context) error {
			_, err := set.Replication.StopIfRunning(ctx, arn)
			return err
		},
		"DMS DescribeTableStatistics": func(ctx context.Context) error { _, err := set.Replication.TableStatistics(ctx, arn); return err },
		"CloudWatch GetMetricData":    func(ctx context.Context) error { _, err := set.Replication.Lag(ctx, "ri", "TASK"); return err },
		"RDS DescribeDBInstances": func(ctx context.Context) error {
			_, err := set.Replication.Preflight(ctx, replication.PreflightTargets{SourceDBInstanceID: "db"})
			return err
		},
		"IAM GetRole": func(ctx context.Context) error {
			_, err := set.Replication.Preflight(ctx, replication.PreflightTargets{RoleNames: []string{"role"}})
			return err
		},
		"EC2 DescribeManagedPrefixLists": func(ctx context.Context) error {
			_, err := set.PrefixLists.Route53HealthChecks(ctx)
			return err
		},
		"ECS DescribeTasks (in-VPC SQL runner)": func(ctx context.Context) error {
			_, err := set.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: []string{"t"}})
			return err
		},
		"CloudWatch Logs GetLogEvents (in-VPC SQL runner)": func(ctx context.Context) error {
			_, err := set.Logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
			return err
		},
		"Secrets Manager GetSecretValue": func(ctx context.Context) error {
			_, err := set.SQL.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("secret")})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call(context.Background())
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("a call to a server slower than the %s timeout: %v, want a deadline exceeded", timeout, err)
			}
			if took > timeout+time.Second {
				t.Errorf("the call ended after %s, want about the %s timeout", took, timeout)
			}
		})
	}
	t.Run("S3 ListObjectVersions (emptying, twice the timeout)", func(t *testing.T) {
		if _, err := set.Buckets.API.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String("b")}); err != nil {
			t.Errorf("a call within twice the timeout: %v", err)
		}
	})
}
