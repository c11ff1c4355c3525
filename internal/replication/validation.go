package replication

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// TableStats is one table's DMS statistics (DescribeTableStatistics).
type TableStats struct {
	Schema, Table   string
	TableState      string
	ValidationState string
	Failed          int64
	Pending         int64
	Suspended       int64
}

// Validation is the aggregate over the payment tables.
type Validation struct {
	State                      string
	Failed, Pending, Suspended int64
	// Validated is the DataValidated condition.
	Validated bool
	Known     bool
	Reason    string
	Message   string
}

// DMS validation states (TableStatistics.ValidationState), worst first: the
// aggregate state is the worst state of any table.
var validationSeverity = []string{
	"Mismatched records", "Table error", "Error", "No primary key", "Suspended records",
	"Not enabled", "Pending records", "Pending revalidation", "Pending validation", "Preparing table", "Validated",
}

// AggregateValidation folds per-table validation into the DataValidated
// condition: true only when every table is Validated with no failed, pending or
// suspended record.
func AggregateValidation(tables []TableStats, validationEnabled bool) Validation {
	if !validationEnabled {
		return Validation{State: "Not enabled", Known: true, Reason: "ValidationDisabled", Message: "spec.replication.validation is off"}
	}
	if len(tables) == 0 {
		return Validation{Reason: "NoTableStatistics", Message: "DMS reports no table statistics yet"}
	}
	v := Validation{Known: true}
	worst := len(validationSeverity)
	var bad []string
	for _, t := range tables {
		v.Failed += t.Failed
		v.Pending += t.Pending
		v.Suspended += t.Suspended
		rank := severity(t.ValidationState)
		if rank < worst {
			worst = rank
		}
		if t.ValidationState != "Validated" || t.Failed+t.Pending+t.Suspended > 0 {
			bad = append(bad, fmt.Sprintf("%s.%s: %s", t.Schema, t.Table, orUnknown(t.ValidationState)))
		}
	}
	if worst < len(validationSeverity) {
		v.State = validationSeverity[worst]
	} else {
		v.State = "Unknown"
	}
	sort.Strings(bad)
	switch {
	case v.Failed > 0 || v.State == "Mismatched records":
		v.Reason = "MismatchedRecords"
	case v.Suspended > 0 || v.State == "Suspended records":
		v.Reason = "SuspendedRecords"
	case v.State == "Table error" || v.State == "Error" || v.State == "No primary key" || v.State == "Not enabled":
		v.Reason = "ValidationError"
	case len(bad) > 0 || v.Pending > 0:
		v.Reason = "ValidationPending"
	default:
		v.Validated, v.Reason = true, "Validated"
		v.Message = fmt.Sprintf("all %d tables validated", len(tables))
		return v
	}
	v.Message = fmt.Sprintf("%d failed, %d pending, %d suspended records; %s", v.Failed, v.Pending, v.Suspended, strings.Join(bad, "; "))
	return v
}

func severity(state string) int {
	for i, s := range validationSeverity {
		if strings.EqualFold(s, state) {
			return i
		}
	}
	return 0 // an unknown state is treated as the worst
}

// SettledValidationFactor is how many times longer table statistics wait
// once validation has settled. DescribeTableStatistics reads one task per call
// and cannot be batched across migrations, so at scale it is most of the
// operator's DMS calls; a settled migration is read every 30 min (with the
// 5-min default), one still validating every 5 min.
const SettledValidationFactor = 6

// ValidationReadInterval is how long after the last read of the table
// statistics the next one is due, given the reason of the DataValidated
// condition that read set: settled (every table Validated with nothing
// failed, pending or suspended, or validation off, which nothing changes)
// waits SettledValidationFactor times longer. A mismatch that appears after
// settling is then reported up to that much later; the cutover must read the
// statistics afresh before it moves traffic, not rely on this condition.
func ValidationReadInterval(lastReason string, every time.Duration) time.Duration {
	switch lastReason {
	case "Validated", "ValidationDisabled":
		return every * SettledValidationFactor
	}
	return every
}
