package awsclients

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/awstest"
)

// The region's set looks the Route 53 health checkers' prefix list up through
// EC2 in that region, by name, and asks once.
func TestPrefixListsAskEC2OfTheRegionOnce(t *testing.T) {
	var mu sync.Mutex
	var forms []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<DescribeManagedPrefixListsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><prefixListSet><item>`+
			`<prefixListId>pl-0c1d2e3f</prefixListId><prefixListName>com.amazonaws.eu-west-1.route53-healthchecks</prefixListName><ownerId>AWS</ownerId>`+
			`</item></prefixListSet></DescribeManagedPrefixListsResponse>`)
	}))
	defer srv.Close()
	awstest.Isolate(t, srv.URL)
	f := &Factory{Provider: awscfg.NewProvider(awscfg.Options{MaxAttempts: 1})}
	set, err := f.For(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		id, err := set.PrefixLists.Route53HealthChecks(context.Background())
		if err != nil || id != "pl-0c1d2e3f" {
			t.Fatalf("id %q, err %v", id, err)
		}
	}
	if len(forms) != 1 {
		t.Fatalf("%d EC2 requests, want 1", len(forms))
	}
	got := forms[0]
	if got.Get("Action") != "DescribeManagedPrefixLists" || got.Get("Filter.1.Name") != "prefix-list-name" ||
		got.Get("Filter.1.Value.1") != "com.amazonaws.eu-west-1.route53-healthchecks" {
		t.Errorf("request %v, want DescribeManagedPrefixLists filtered by the region's list name", got)
	}
}
