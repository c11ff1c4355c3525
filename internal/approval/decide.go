package approval

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
)

// Object is what the decision reads of a PaymentMigration.
type Object struct {
	// Approved is spec.cutover.approved.
	Approved    bool
	Annotations map[string]string
}

// Request is one create or update as the admission webhook receives it.
type Request struct {
	// Old is the stored object; nil on create.
	Old *Object
	// New is the object the request would store.
	New Object
	// User is the requesting user as the API server authenticated it
	// (the impersonated user when the client impersonates: the audit log
	// names who impersonated).
	User authenticationv1.UserInfo
	Now  time.Time
}

// Decision is the webhook's answer to one request.
type Decision struct {
	// Denied, when not empty, refuses the request with this message.
	Denied string
	// Patch (RFC 6902) rewrites the request's stamp annotations into the ones
	// to record and touches nothing else; empty when they already are.
	Patch []jsonpatch.Operation
	// Stamp is the approval this request records; nil when it approves nothing.
	Stamp *Stamp
	// Warnings tell the client that values it sent under Keys were not kept.
	Warnings []string
}

// Decide computes the stamp annotations of the object a request stores. The
// result depends only on the stored object, whether the request approves,
// who sends it and when, never on the values the request carries under
// Keys:
//   - spec.cutover.approved turns true (true on create, false or absent
//     before an update): a new stamp names the requesting user, whatever the
//     request wrote there itself. Approving, withdrawing and approving again
//     stamps the second approver.
//   - it stays true: the stored stamp stands (none if it was approved before
//     the webhook was installed), so no later edit, apply or replace can
//     change or remove who approved.
//   - it is false: no stamp, so that none can be read as a current
//     approval; status.cutover and history keep who approved each attempt.
//
// An approval whose requesting user has no name is refused rather than
// recorded without an approver.
func Decide(r Request) Decision {
	stored := map[string]string{}
	if r.Old != nil {
		stored = owned(r.Old.Annotations)
	}
	var d Decision
	var want map[string]string
	switch {
	case r.New.Approved && (r.Old == nil || !r.Old.Approved):
		if r.User.Username == "" {
			return Decision{Denied: "spec.cutover.approved: the request has no authenticated user name, so the approval cannot be recorded with its approver (annotation " + AnnotationApprovedBy + ")"}
		}
		s := Stamp{By: r.User.Username, UID: r.User.UID, At: r.Now.UTC().Truncate(time.Second)}
		d.Stamp = &s
		want = s.Annotations()
	case r.New.Approved:
		want = stored
	default:
		want = map[string]string{}
	}
	sent := owned(r.New.Annotations)
	d.Patch = patch(r.New.Annotations, sent, want)
	// A client that left the stamp as stored is not told anything; one that
	// wrote, changed or removed it is told that it did not stick. (Sent equal
	// to want is a reinvocation after this webhook's own patch, or a client
	// that removed a stamp while withdrawing the approval.)
	if !maps.Equal(sent, stored) && !maps.Equal(sent, want) {
		d.Warnings = []string{fmt.Sprintf("metadata.annotations %s: written only by the admission webhook, from the authenticated user who sets spec.cutover.approved to true; the values in this request were not kept",
			strings.Join(changedKeys(sent, want), ", "))}
	}
	return d
}

// patch turns the stamp annotations sent (the Keys part of all, the
// request's whole annotations) into want, touching no other annotation.
func patch(all, sent, want map[string]string) []jsonpatch.Operation {
	if all == nil {
		// No annotations at all (absent or null): add the map whole, since
		// a JSON patch cannot add a member to a missing object.
		if len(want) == 0 {
			return nil
		}
		return []jsonpatch.Operation{{Operation: "add", Path: "/metadata/annotations", Value: want}}
	}
	var ops []jsonpatch.Operation
	for _, k := range Keys {
		w, inWant := want[k]
		s, inSent := sent[k]
		path := "/metadata/annotations/" + pointerEscaper.Replace(k)
		switch {
		case inWant && !inSent:
			ops = append(ops, jsonpatch.Operation{Operation: "add", Path: path, Value: w})
		case inWant && s != w:
			ops = append(ops, jsonpatch.Operation{Operation: "replace", Path: path, Value: w})
		case !inWant && inSent:
			ops = append(ops, jsonpatch.Operation{Operation: "remove", Path: path})
		}
	}
	return ops
}

// pointerEscaper escapes a key into a JSON pointer token (RFC 6901): every
// stamp key holds a "/".
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func changedKeys(sent, want map[string]string) []string {
	var keys []string
	for _, k := range Keys {
		s, inSent := sent[k]
		w, inWant := want[k]
		if inSent != inWant || s != w {
			keys = append(keys, k)
		}
	}
	return keys
}
