package pgcatalog

import (
	"slices"
	"testing"
)

func TestMatchFollowsDMSWildcards(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"payments", "payments", true},
		{"payments", "payments2", false},
		{"payment_%", "payment_methods", true},
		{"payment_%", "payment_", true},
		{"payment_%", "paymentXmethods", false}, // "_" is no wildcard in DMS
		{"payment_%", "payments", false},
		{"%", "anything", true},
		{"%", "", true},
		{"%_log", "audit_log", true},
		{"%_log", "auditlog", false},
		{"a%b%c", "axxbyyc", true},
		{"a%b%c", "acb", false},
		{"a%a", "a", false}, // prefix and suffix may not overlap
		{"a%a", "aa", true},
		{"%%", "x", true},
		{"Payments", "payments", false}, // names are case-sensitive, as in the catalog
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestSelectReportsPatternsThatMatchNothing(t *testing.T) {
	names := []string{"audit_log", "payment_methods", "payments", "refunds", "transactions"}
	selected, unmatched := Select(names, []string{"payments", "transactions", "refundz", "payment_%", "payments"})
	if !slices.Equal(selected, []string{"payment_methods", "payments", "transactions"}) {
		t.Errorf("selected %v", selected)
	}
	if !slices.Equal(unmatched, []string{"refundz"}) {
		t.Errorf("unmatched %v", unmatched)
	}
	if s, u := Select(nil, []string{"payments"}); s != nil || !slices.Equal(u, []string{"payments"}) {
		t.Errorf("empty schema: %v %v", s, u)
	}
}
