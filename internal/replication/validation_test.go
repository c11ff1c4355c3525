package replication

import (
	"strings"
	"testing"
	"time"
)

func table(name, state string) TableStats {
	return TableStats{Schema: "public", Table: name, TableState: "Table completed", ValidationState: state}
}

func TestAggregateValidation_EveryDMSValidationStateOnItsOwn(t *testing.T) {
	cases := []struct {
		state         string
		wantValidated bool
		wantReason    string
	}{
		{"Mismatched records", false, "MismatchedRecords"},
		{"Table error", false, "ValidationError"},
		{"Error", false, "ValidationError"},
		{"No primary key", false, "ValidationError"},
		{"Suspended records", false, "SuspendedRecords"},
		{"Not enabled", false, "ValidationError"},
		{"Pending records", false, "ValidationPending"},
		{"Pending revalidation", false, "ValidationPending"},
		{"Pending validation", false, "ValidationPending"},
		{"Preparing table", false, "ValidationPending"},
		{"Validated", true, "Validated"},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.state] = true
		t.Run(c.state, func(t *testing.T) {
			v := AggregateValidation([]TableStats{table("payments", c.state)}, true)
			if !v.Known || v.Validated != c.wantValidated || v.Reason != c.wantReason || v.State != c.state {
				t.Errorf("AggregateValidation = %+v, want known, validated %v, reason %s, state %q", v, c.wantValidated, c.wantReason, c.state)
			}
			if !c.wantValidated && !strings.Contains(v.Message, "public.payments: "+c.state) {
				t.Errorf("message %q does not name the table and its state", v.Message)
			}
		})
	}
	for _, s := range validationSeverity {
		if !covered[s] {
			t.Errorf("validation state %q of validation.go has no case here", s)
		}
	}
}

func TestAggregateValidation_TheWorstTableStateWinsWhateverTheOrder(t *testing.T) {
	for _, c := range []struct {
		name       string
		states     []string
		wantState  string
		wantReason string
	}{
		{"validated and pending records is pending", []string{"Validated", "Pending records", "Validated"}, "Pending records", "ValidationPending"},
		{"validated and mismatched is mismatched", []string{"Validated", "Mismatched records"}, "Mismatched records", "MismatchedRecords"},
		{"pending validation and table error is table error", []string{"Pending validation", "Table error"}, "Table error", "ValidationError"},
		{"suspended beats pending", []string{"Pending records", "Suspended records", "Preparing table"}, "Suspended records", "SuspendedRecords"},
		{"mismatched beats every other state", []string{"Error", "No primary key", "Mismatched records", "Suspended records"}, "Mismatched records", "MismatchedRecords"},
		{"no primary key beats pending", []string{"Validated", "No primary key", "Pending revalidation"}, "No primary key", "ValidationError"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, reversed := range []bool{false, true} {
				var tables []TableStats
				for i, s := range c.states {
					tbl := table(string(rune('a'+i)), s)
					if reversed {
						tables = append([]TableStats{tbl}, tables...)
					} else {
						tables = append(tables, tbl)
					}
				}
				v := AggregateValidation(tables, true)
				if v.Validated || v.State != c.wantState || v.Reason != c.wantReason {
					t.Errorf("reversed=%v: state %q reason %q validated %v, want state %q reason %q not validated",
						reversed, v.State, v.Reason, v.Validated, c.wantState, c.wantReason)
				}
			}
		})
	}
}

func TestAggregateValidation_RecordCountsForceFalseEvenWhenEveryTableSaysValidated(t *testing.T) {
	for _, c := range []struct {
		name       string
		mutate     func(*TableStats)
		wantReason string
	}{
		{"a failed record", func(t *TableStats) { t.Failed = 1 }, "MismatchedRecords"},
		{"a suspended record", func(t *TableStats) { t.Suspended = 2 }, "SuspendedRecords"},
		{"a pending record", func(t *TableStats) { t.Pending = 3 }, "ValidationPending"},
		{"failed beats suspended", func(t *TableStats) { t.Failed, t.Suspended = 1, 1 }, "MismatchedRecords"},
	} {
		t.Run(c.name, func(t *testing.T) {
			refunds := table("refunds", "Validated")
			c.mutate(&refunds)
			v := AggregateValidation([]TableStats{table("payments", "Validated"), refunds}, true)
			if v.Validated || !v.Known || v.Reason != c.wantReason || v.State != "Validated" {
				t.Errorf("AggregateValidation = %+v, want known, not validated, reason %s, state Validated", v, c.wantReason)
			}
			if !strings.Contains(v.Message, "public.refunds") || strings.Contains(v.Message, "public.payments") {
				t.Errorf("message %q must name public.refunds, and only it", v.Message)
			}
		})
	}
}

func TestAggregateValidation_SumsTheRecordCountsOverTheTables(t *testing.T) {
	a := TableStats{Schema: "public", Table: "payments", ValidationState: "Pending records", Failed: 1, Pending: 10, Suspended: 100}
	b := TableStats{Schema: "public", Table: "refunds", ValidationState: "Mismatched records", Failed: 2, Pending: 20, Suspended: 200}
	v := AggregateValidation([]TableStats{a, b}, true)
	if v.Failed != 3 || v.Pending != 30 || v.Suspended != 300 {
		t.Errorf("counts = %d failed %d pending %d suspended, want 3 30 300", v.Failed, v.Pending, v.Suspended)
	}
	if !strings.HasPrefix(v.Message, "3 failed, 30 pending, 300 suspended records; ") {
		t.Errorf("message %q does not start with the totals", v.Message)
	}
}

func TestAggregateValidation_MessageNamesEveryBadTableInSortedOrder(t *testing.T) {
	tables := []TableStats{
		{Schema: "public", Table: "refunds", ValidationState: "Pending records", Pending: 4},
		{Schema: "public", Table: "accounts", ValidationState: "Validated"},
		{Schema: "public", Table: "payments", ValidationState: "Mismatched records", Failed: 2},
		{Schema: "audit", Table: "ledger", ValidationState: "Validated", Suspended: 1},
		{Schema: "public", Table: "chargebacks", ValidationState: "Validated", Pending: 1},
	}
	v := AggregateValidation(tables, true)
	want := "audit.ledger: Validated; public.chargebacks: Validated; public.payments: Mismatched records; public.refunds: Pending records"
	if !strings.HasSuffix(v.Message, "; "+want) {
		t.Errorf("message = %q, want it to end with %q", v.Message, want)
	}
	if strings.Contains(v.Message, "accounts") {
		t.Errorf("message %q names public.accounts, which is clean", v.Message)
	}
}

func TestAggregateValidation_AllTablesValidatedIsTrue(t *testing.T) {
	v := AggregateValidation([]TableStats{table("payments", "Validated"), table("refunds", "Validated"), table("accounts", "Validated")}, true)
	if !v.Validated || !v.Known || v.Reason != "Validated" || v.State != "Validated" || v.Message != "all 3 tables validated" {
		t.Errorf("AggregateValidation = %+v, want validated: all 3 tables validated", v)
	}
}

func TestAggregateValidation_DisabledValidationIsKnownFalseEvenWithCleanTables(t *testing.T) {
	v := AggregateValidation([]TableStats{table("payments", "Validated")}, false)
	if v.Validated || !v.Known || v.Reason != "ValidationDisabled" || v.State != "Not enabled" {
		t.Errorf("AggregateValidation(validation off) = %+v, want known false ValidationDisabled", v)
	}
}

func TestAggregateValidation_NoTablesIsUnknown(t *testing.T) {
	for _, tables := range [][]TableStats{nil, {}} {
		v := AggregateValidation(tables, true)
		if v.Known || v.Validated || v.Reason != "NoTableStatistics" {
			t.Errorf("AggregateValidation(%v) = %+v, want unknown NoTableStatistics", tables, v)
		}
	}
}

func TestAggregateValidation_AStateDMSDoesNotDocumentIsNeverValidated(t *testing.T) {
	for _, s := range []string{"", "Reticulating"} {
		v := AggregateValidation([]TableStats{table("payments", "Validated"), table("refunds", s)}, true)
		if v.Validated || !v.Known {
			t.Errorf("state %q: %+v, want known and not validated", s, v)
		}
		if !strings.Contains(v.Message, "public.refunds") {
			t.Errorf("state %q: message %q does not name the table", s, v.Message)
		}
	}
}

func TestAggregateValidation_ReasonsAreCamelCase(t *testing.T) {
	for _, s := range append(append([]string{}, validationSeverity...), "", "Reticulating") {
		for _, on := range []bool{true, false} {
			if v := AggregateValidation([]TableStats{table("payments", s)}, on); !camelCase.MatchString(v.Reason) {
				t.Errorf("state %q validation %v: reason %q is not CamelCase", s, on, v.Reason)
			}
		}
	}
	if v := AggregateValidation(nil, true); !camelCase.MatchString(v.Reason) {
		t.Errorf("no tables: reason %q is not CamelCase", v.Reason)
	}
}

func TestValidationReadInterval_SettledValidationIsReadLessOften(t *testing.T) {
	every := 5 * time.Minute
	for reason, want := range map[string]time.Duration{
		"Validated":          30 * time.Minute,
		"ValidationDisabled": 30 * time.Minute,
		"ValidationPending":  every,
		"MismatchedRecords":  every,
		"SuspendedRecords":   every,
		"ValidationError":    every,
		"NoTableStatistics":  every,
		"":                   every,
	} {
		if got := ValidationReadInterval(reason, every); got != want {
			t.Errorf("after %q: next read in %s, want %s", reason, got, want)
		}
	}
	if got := ValidationReadInterval("Validated", 0); got != 0 {
		t.Errorf("an interval of 0 (read every sample) stays 0, got %s", got)
	}
}
