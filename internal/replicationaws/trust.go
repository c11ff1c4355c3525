package replicationaws

import (
	"encoding/json"
	"net/url"
	"strings"
)

// dmsPrincipal is the service principal DMS assumes its service roles as. The
// regional form (dms.<region>.amazonaws.com) is accepted by the stack's roles
// too, but DMS itself requires the global one.
const dmsPrincipal = "dms.amazonaws.com"

// policyDocument is the part of an IAM policy document a trust check reads.
// IAM lets several fields be a single value or a list.
type policyDocument struct {
	Statement oneOrMany[statement]
}

type statement struct {
	Effect    string
	Action    oneOrMany[string]
	Principal principal
}

// principal is "*" or an object of principal types.
type principal struct {
	any     bool
	Service oneOrMany[string]
}

func (p *principal) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		p.any = s == "*"
		return nil
	}
	var obj struct{ Service oneOrMany[string] }
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	p.Service = obj.Service
	return nil
}

type oneOrMany[T any] []T

func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	var one T
	if json.Unmarshal(b, &one) == nil {
		*o = []T{one}
		return nil
	}
	var many []T
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*o = many
	return nil
}

// trustsService reports whether a role's trust policy lets the service
// principal assume it. IAM returns the document URL-encoded; an unparseable
// document trusts nobody, and a Deny naming the principal wins.
func trustsService(doc, service string) bool {
	if decoded, err := url.PathUnescape(doc); err == nil {
		doc = decoded
	}
	var p policyDocument
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return false
	}
	allowed := false
	for _, s := range p.Statement {
		if !s.assumesRole() || !s.Principal.names(service) {
			continue
		}
		switch {
		case strings.EqualFold(s.Effect, "Deny"):
			return false
		case strings.EqualFold(s.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed
}

func (s statement) assumesRole() bool {
	for _, a := range s.Action {
		switch strings.ToLower(a) {
		case "sts:assumerole", "sts:*", "*":
			return true
		}
	}
	return false
}

func (p principal) names(service string) bool {
	if p.any {
		return true
	}
	for _, s := range p.Service {
		if strings.EqualFold(s, service) {
			return true
		}
	}
	return false
}
