package controller_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/controllers"
	"github.com/tapstack/payment-migration-operator/internal/prefixlists"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// fakePrefixLists is EC2's AWS-managed prefix lists: every region has the
// Route 53 health checkers' list (an id derived from the region) unless a test
// removes it or gives it another id.
type fakePrefixLists struct {
	mu      sync.Mutex
	ids     map[string]string // region -> id, overriding the derived one
	missing map[string]bool
	lookups map[string]int
}

var prefixLists = &fakePrefixLists{ids: map[string]string{}, missing: map[string]bool{}, lookups: map[string]int{}}

func (p *fakePrefixLists) of(region string) controllers.PrefixLists {
	return regionPrefixLists{p, region}
}

func (p *fakePrefixLists) set(region, id string, missing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids[region], p.missing[region] = id, missing
}

func (p *fakePrefixLists) id(region string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id := p.ids[region]; id != "" {
		return id
	}
	sum := sha256.Sum256([]byte(region))
	return "pl-" + hex.EncodeToString(sum[:4])
}

type regionPrefixLists struct {
	p      *fakePrefixLists
	region string
}

func (r regionPrefixLists) Route53HealthChecks(context.Context) (string, error) {
	r.p.mu.Lock()
	r.p.lookups[r.region]++
	missing := r.p.missing[r.region]
	r.p.mu.Unlock()
	if missing {
		return "", &prefixlists.NotFoundError{Name: tapstack.Route53HealthChecksPrefixList(r.region), Region: r.region}
	}
	return r.p.id(r.region), nil
}

// The stack is created with the id of the region's Route 53 health checkers'
// prefix list as its template parameter.
func TestTheStackGetsTheRegionsRoute53HealthCheckPrefixList(t *testing.T) {
	const region = "ca-central-1"
	key := create(t, newMigration("prefixlist", "prefixlist", region))
	waitFor(t, key, "StackReady", stackReady)
	st, ok := cloud.stack("TapStackprefixlist")
	if !ok {
		t.Fatal("no stack")
	}
	want := prefixLists.id(region)
	// The other parameters render the cutover's resting routes: before any
	// cutover, everything on the source.
	if got := st.parameters[tapstack.ParamRoute53HealthCheckPrefixList]; got != want || len(st.parameters) != 4 ||
		st.parameters[tapstack.ParamSourceWeight] != "100" || st.parameters[tapstack.ParamTargetWeight] != "0" || st.parameters[tapstack.ParamWriterSide] != "source" {
		t.Errorf("stack parameters %v, want %s=%s", st.parameters, tapstack.ParamRoute53HealthCheckPrefixList, want)
	}
}

// A region without the prefix list: StackReady False naming it, and nothing is
// created; once it exists, the stack is created with it.
func TestAMissingPrefixListCreatesNothingAndSaysWhich(t *testing.T) {
	const region = "ap-east-2"
	prefixLists.set(region, "", true)
	key := create(t, newMigration("noprefixlist", "noprefixlist", region))
	pm := waitFor(t, key, "StackReady False for the prefix list", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condition(pm, paymentsv1alpha1.ConditionStackReady).Reason == "PrefixListNotFound"
	})
	c := condition(pm, paymentsv1alpha1.ConditionStackReady)
	if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "com.amazonaws.ap-east-2.route53-healthchecks") {
		t.Errorf("StackReady = %s %s %q, want False naming com.amazonaws.ap-east-2.route53-healthchecks", c.Status, c.Reason, c.Message)
	}
	if _, ok := cloud.stack("TapStacknoprefixlist"); ok {
		t.Error("a stack was created without the prefix list")
	}
	waitForEvent(t, "noprefixlist", "PrefixListNotFound")

	prefixLists.set(region, "pl-0a1b2c3d", false)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Annotations = map[string]string{"test/poke": "1"} })
	waitFor(t, key, "StackReady once the prefix list exists", stackReady)
	if st, _ := cloud.stack("TapStacknoprefixlist"); st.parameters[tapstack.ParamRoute53HealthCheckPrefixList] != "pl-0a1b2c3d" {
		t.Errorf("stack parameters %v, want the prefix list found", st.parameters)
	}
}

// Another prefix list id (the template unchanged) updates the stack through a
// change set, as a template change does.
func TestANewPrefixListIDUpdatesTheStack(t *testing.T) {
	const region = "sa-east-1"
	key := create(t, newMigration("newprefixlist", "newprefixlist", region))
	pm := waitFor(t, key, "StackReady", stackReady)
	oldHash := pm.Status.Stack.TemplateHash

	prefixLists.set(region, "pl-0ffff", false)
	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Annotations = map[string]string{"test/poke": "1"} })
	pm = waitFor(t, key, "the update with the new id", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Stack.TemplateHash != oldHash && pm.Status.Stack.Status == "UPDATE_COMPLETE" && stackReady(pm)
	})
	st, _ := cloud.stack("TapStacknewprefixlist")
	if st.parameters[tapstack.ParamRoute53HealthCheckPrefixList] != "pl-0ffff" || st.hash != pm.Status.Stack.TemplateHash {
		t.Errorf("stack parameters %v hash %s, want the new id and status's hash %s", st.parameters, st.hash, pm.Status.Stack.TemplateHash)
	}
}
