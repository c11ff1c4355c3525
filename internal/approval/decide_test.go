package approval

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
)

var (
	alice = authenticationv1.UserInfo{Username: "alice", UID: "uid-alice", Groups: []string{"payments-approvers"}}
	bob   = authenticationv1.UserInfo{Username: "bob", UID: "uid-bob"}
	// now is deliberately not UTC and not on a second: the stamp is both.
	now     = time.Date(2026, 3, 4, 13, 5, 6, 789_000_000, time.FixedZone("CET", 3600))
	nowText = "2026-03-04T12:05:06Z"
)

// aliceStamp is what the webhook wrote when alice approved earlier.
var aliceStamp = map[string]string{AnnotationApprovedBy: "alice", AnnotationApprovedByUID: "uid-alice", AnnotationApprovedAt: "2026-03-01T09:00:00Z"}

// with is a's annotations plus the given key/value pairs ("" value: removed).
func with(a map[string]string, kv ...string) map[string]string {
	out := map[string]string{"payments.tapstack.io/allow-replacement": "TargetBucket"}
	for k, v := range a {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func op(o, key string, value ...string) jsonpatch.Operation {
	p := jsonpatch.Operation{Operation: o, Path: "/metadata/annotations/" + strings.ReplaceAll(key, "/", "~1")}
	if len(value) > 0 {
		p.Value = value[0]
	}
	return p
}

func TestDecide(t *testing.T) {
	const (
		by, uid, at = AnnotationApprovedBy, AnnotationApprovedByUID, AnnotationApprovedAt
	)
	cases := []struct {
		name      string
		old       *Object
		new       Object
		user      authenticationv1.UserInfo
		patch     []jsonpatch.Operation
		stamp     *Stamp
		warns     bool
		denied    string
		resulting map[string]string // the request's annotations after the patch
	}{{
		name:      "created approved without annotations: the whole map is added",
		new:       Object{Approved: true},
		user:      alice,
		patch:     []jsonpatch.Operation{{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{by: "alice", uid: "uid-alice", at: nowText}}},
		stamp:     &Stamp{By: "alice", UID: "uid-alice", At: now.UTC().Truncate(time.Second)},
		resulting: map[string]string{by: "alice", uid: "uid-alice", at: nowText},
	}, {
		name:      "created approved with a forged approver: the creator is stamped",
		new:       Object{Approved: true, Annotations: with(nil, by, "bob")},
		user:      alice,
		patch:     []jsonpatch.Operation{op("replace", by, "alice"), op("add", uid, "uid-alice"), op("add", at, nowText)},
		stamp:     &Stamp{By: "alice", UID: "uid-alice", At: now.UTC().Truncate(time.Second)},
		warns:     true,
		resulting: with(nil, by, "alice", uid, "uid-alice", at, nowText),
	}, {
		name:      "created unapproved with a forged stamp: it is removed",
		new:       Object{Annotations: with(aliceStamp)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("remove", by), op("remove", uid), op("remove", at)},
		warns:     true,
		resulting: with(nil),
	}, {
		name:      "created unapproved without a stamp: nothing to do",
		new:       Object{Annotations: with(nil)},
		user:      bob,
		resulting: with(nil),
	}, {
		name:      "approved on update: stamped, other annotations untouched",
		old:       &Object{Annotations: with(nil)},
		new:       Object{Approved: true, Annotations: with(nil)},
		user:      alice,
		patch:     []jsonpatch.Operation{op("add", by, "alice"), op("add", uid, "uid-alice"), op("add", at, nowText)},
		stamp:     &Stamp{By: "alice", UID: "uid-alice", At: now.UTC().Truncate(time.Second)},
		resulting: with(nil, by, "alice", uid, "uid-alice", at, nowText),
	}, {
		name:      "approved and forged in one request: the real user's stamp wins",
		old:       &Object{Annotations: with(nil)},
		new:       Object{Approved: true, Annotations: with(nil, by, "carol", at, "2020-01-01T00:00:00Z")},
		user:      bob,
		patch:     []jsonpatch.Operation{op("replace", by, "bob"), op("add", uid, "uid-bob"), op("replace", at, nowText)},
		stamp:     &Stamp{By: "bob", UID: "uid-bob", At: now.UTC().Truncate(time.Second)},
		warns:     true,
		resulting: with(nil, by, "bob", uid, "uid-bob", at, nowText),
	}, {
		name:      "re-approved by someone else: a new stamp, without a stale UID",
		old:       &Object{Annotations: with(nil)},
		new:       Object{Approved: true, Annotations: with(nil, uid, "uid-alice")},
		user:      authenticationv1.UserInfo{Username: "system:serviceaccount:ops:approver"},
		patch:     []jsonpatch.Operation{op("add", by, "system:serviceaccount:ops:approver"), op("remove", uid), op("add", at, nowText)},
		stamp:     &Stamp{By: "system:serviceaccount:ops:approver", At: now.UTC().Truncate(time.Second)},
		warns:     true,
		resulting: with(nil, by, "system:serviceaccount:ops:approver", at, nowText),
	}, {
		name:      "re-approved while the old stamp was left (the webhook missed the withdrawal): replaced, no warning",
		old:       &Object{Annotations: with(aliceStamp)},
		new:       Object{Approved: true, Annotations: with(aliceStamp)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("replace", by, "bob"), op("replace", uid, "uid-bob"), op("replace", at, nowText)},
		stamp:     &Stamp{By: "bob", UID: "uid-bob", At: now.UTC().Truncate(time.Second)},
		resulting: with(nil, by, "bob", uid, "uid-bob", at, nowText),
	}, {
		name:      "reinvoked after its own patch: nothing more",
		old:       &Object{Annotations: with(nil)},
		new:       Object{Approved: true, Annotations: with(nil, by, "alice", uid, "uid-alice", at, nowText)},
		user:      alice,
		stamp:     &Stamp{By: "alice", UID: "uid-alice", At: now.UTC().Truncate(time.Second)},
		resulting: with(nil, by, "alice", uid, "uid-alice", at, nowText),
	}, {
		name:      "still approved, an unrelated change: the stamp stands",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Approved: true, Annotations: with(aliceStamp, "team", "payments")},
		user:      bob,
		resulting: with(aliceStamp, "team", "payments"),
	}, {
		name:      "still approved, another user rewrites the approver: restored",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Approved: true, Annotations: with(aliceStamp, by, "bob")},
		user:      bob,
		patch:     []jsonpatch.Operation{op("replace", by, "alice")},
		warns:     true,
		resulting: with(aliceStamp),
	}, {
		name:      "still approved, the stamp removed: put back",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Approved: true, Annotations: with(nil)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("add", by, "alice"), op("add", uid, "uid-alice"), op("add", at, "2026-03-01T09:00:00Z")},
		warns:     true,
		resulting: with(aliceStamp),
	}, {
		name:      "still approved, replaced without any annotations: the map is added back",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Approved: true},
		user:      bob,
		patch:     []jsonpatch.Operation{{Operation: "add", Path: "/metadata/annotations", Value: aliceStamp}},
		warns:     true,
		resulting: aliceStamp,
	}, {
		name:      "approved before the webhook, a stamp forged since: removed",
		old:       &Object{Approved: true, Annotations: with(nil)},
		new:       Object{Approved: true, Annotations: with(nil, by, "bob", at, nowText)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("remove", by), op("remove", at)},
		warns:     true,
		resulting: with(nil),
	}, {
		name:      "approval withdrawn: the stamp goes with it",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Annotations: with(aliceStamp)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("remove", by), op("remove", uid), op("remove", at)},
		resulting: with(nil),
	}, {
		name:      "approval withdrawn and the stamp removed by the client: nothing more",
		old:       &Object{Approved: true, Annotations: with(aliceStamp)},
		new:       Object{Annotations: with(nil)},
		user:      bob,
		resulting: with(nil),
	}, {
		name:      "not approved, a stamp forged: removed",
		old:       &Object{Annotations: with(nil)},
		new:       Object{Annotations: with(nil, by, "alice", at, nowText)},
		user:      bob,
		patch:     []jsonpatch.Operation{op("remove", by), op("remove", at)},
		warns:     true,
		resulting: with(nil),
	}, {
		name:   "an approval without a user name is refused",
		old:    &Object{},
		new:    Object{Approved: true},
		user:   authenticationv1.UserInfo{UID: "x"},
		denied: "no authenticated user name",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(Request{Old: c.old, New: c.new, User: c.user, Now: now})
			if c.denied != "" {
				if !strings.Contains(d.Denied, c.denied) || !strings.Contains(d.Denied, AnnotationApprovedBy) || d.Patch != nil {
					t.Fatalf("decision %+v, want refused with %q naming the annotation", d, c.denied)
				}
				return
			}
			if d.Denied != "" {
				t.Fatalf("refused: %s", d.Denied)
			}
			if !reflect.DeepEqual(d.Patch, c.patch) {
				t.Errorf("patch\n got %s\nwant %s", js(t, d.Patch), js(t, c.patch))
			}
			if !reflect.DeepEqual(d.Stamp, c.stamp) {
				t.Errorf("stamp %+v, want %+v", d.Stamp, c.stamp)
			}
			if got := len(d.Warnings) > 0; got != c.warns {
				t.Errorf("warnings %q, want some: %v", d.Warnings, c.warns)
			}
			for _, w := range d.Warnings {
				if !strings.Contains(w, "payments.tapstack.io/approved-") || !strings.Contains(w, "not kept") {
					t.Errorf("warning %q does not name the annotation and say it was not kept", w)
				}
			}
			if got := apply(t, c.new.Annotations, d.Patch); !reflect.DeepEqual(got, c.resulting) {
				t.Errorf("annotations after the patch %v, want %v", got, c.resulting)
			}
		})
	}
}

// The outcome never depends on what the request wrote under Keys: every
// forgery of every key ends in the same annotations as an honest request.
func TestDecideIgnoresEverythingSentUnderTheKeys(t *testing.T) {
	forgeries := []map[string]string{with(nil), with(aliceStamp), with(nil, AnnotationApprovedBy, "mallory"),
		with(nil, AnnotationApprovedAt, "not a time"), with(nil, AnnotationApprovedByUID, "uid-mallory")}
	olds := []*Object{nil, {Annotations: with(nil)}, {Approved: true, Annotations: with(aliceStamp)}, {Approved: true}}
	for _, old := range olds {
		for _, approved := range []bool{false, true} {
			honest := map[string]string{"payments.tapstack.io/allow-replacement": "TargetBucket"}
			if old != nil {
				for _, k := range Keys {
					if v, ok := old.Annotations[k]; ok {
						honest[k] = v
					}
				}
			}
			base := Decide(Request{Old: old, New: Object{Approved: approved, Annotations: honest}, User: bob, Now: now})
			want := apply(t, honest, base.Patch)
			for _, f := range forgeries {
				sent := with(f)
				d := Decide(Request{Old: old, New: Object{Approved: approved, Annotations: sent}, User: bob, Now: now})
				if got := apply(t, sent, d.Patch); !reflect.DeepEqual(got, want) {
					t.Errorf("old %+v approved %v sent %v: stored %v, an honest request stores %v", old, approved, sent, got, want)
				}
			}
		}
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apply applies the decision's patch to annotations the way the API server
// does: through the patch's JSON form.
func apply(t *testing.T, annotations map[string]string, ops []jsonpatch.Operation) map[string]string {
	t.Helper()
	var decoded []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value *any   `json:"value"`
	}
	if err := json.Unmarshal([]byte(js(t, ops)), &decoded); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range annotations {
		out[k] = v
	}
	present := annotations != nil
	for _, o := range decoded {
		if o.Path == "/metadata/annotations" {
			if o.Op != "add" || o.Value == nil {
				t.Fatalf("unexpected operation on the whole map: %+v", o)
			}
			out = map[string]string{}
			for k, v := range (*o.Value).(map[string]any) {
				out[k] = v.(string)
			}
			present = true
			continue
		}
		key, ok := strings.CutPrefix(o.Path, "/metadata/annotations/")
		if !ok || !present {
			t.Fatalf("operation %+v outside an existing annotations map", o)
		}
		key = strings.NewReplacer("~1", "/", "~0", "~").Replace(key)
		_, exists := out[key]
		switch o.Op {
		case "add":
			out[key] = (*o.Value).(string)
		case "replace", "remove":
			if !exists {
				t.Fatalf("%s of the missing member %q fails on the API server", o.Op, key)
			}
			if o.Op == "remove" {
				delete(out, key)
			} else {
				out[key] = (*o.Value).(string)
			}
		default:
			t.Fatalf("unexpected op %q", o.Op)
		}
	}
	if !present {
		return nil
	}
	return out
}
