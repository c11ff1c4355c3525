package migration

import "testing"

func TestOnlyRecordsInFlight(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"0 failed, 2688 pending, 0 suspended records; public.payments: Pending records; public.transactions: Pending records", true},
		{"0 failed, 10 pending, 0 suspended records; public.payments: Pending records; public.refunds: Pending validation", false},
		{"0 failed, 0 pending, 0 suspended records; public.payments: Preparing table", false},
		{"DMS reports no table statistics yet", false},
		{"", false},
	} {
		if got := onlyRecordsInFlight(tc.msg); got != tc.want {
			t.Errorf("onlyRecordsInFlight(%q) = %t, want %t", tc.msg, got, tc.want)
		}
	}
}
