package awsclients

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/awstest"
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
