package replication

import (
	"fmt"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

// DatabaseObservation is what the SQL runner read of the two databases.
type DatabaseObservation struct {
	// Source describes the tables the task's patterns select, with their
	// largest LOB values; Target the same tables on the target.
	Source, Target pgcatalog.Catalog
	// SourceError and TargetError say why a database could not be read.
	SourceError, TargetError string
	// LOBMode and LOBMaxSizeKiB are the task's LOB settings (the spec's).
	LOBMode       string // Limited or Full
	LOBMaxSizeKiB int32
}

// replicationNeeds is what one DMS task takes of the source: a logical
// replication slot and the WAL sender that streams from it.
const replicationNeeds = 1

// databaseChecks are the checks on the databases themselves: the mapped
// tables exist and have primary keys, the target schema matches the source
// (the DDL that makes it so goes into res.TargetSchema), no LOB value would be
// truncated, and the source has room for the task's slot and WAL sender.
func databaseChecks(db *DatabaseObservation, res *PreflightResult) []check {
	if db == nil {
		return []check{{reason: "DatabasesUnread", line: "FAIL databases: not read (the stack has no database secret outputs)"}}
	}
	var checks []check
	if db.SourceError != "" {
		checks = append(checks, check{reason: "SourceDatabaseUnreachable", line: "FAIL source database: " + db.SourceError})
	}
	if db.TargetError != "" {
		checks = append(checks, check{reason: "TargetDatabaseUnreachable", line: "FAIL target database: " + db.TargetError})
	}
	if len(checks) > 0 {
		return checks
	}
	tables := tablesCheck(db.Source)
	if !tables.ok {
		return []check{tables}
	}
	plan := pgcatalog.PlanTarget(db.Source, db.Target)
	return []check{tables, primaryKeyCheck(plan), targetSchemaCheck(plan, res), lobCheck(db), capacityCheck(db.Source.Settings)}
}

func tablesCheck(source pgcatalog.Catalog) check {
	names := source.TableNames()
	switch {
	case len(source.Unmatched) > 0:
		return check{reason: "TablesNotFound", line: fmt.Sprintf("FAIL mapped tables: %s in schema %s match no table on the source (spec.replication.tables)",
			quoteList(source.Unmatched), source.Schema)}
	case len(names) == 0:
		return check{reason: "TablesNotFound", line: fmt.Sprintf("FAIL mapped tables: no table of schema %s matches spec.replication.tables", source.Schema)}
	}
	return check{ok: true, line: fmt.Sprintf("ok   mapped tables: %s (%d in %s)", strings.Join(names, ", "), len(names), source.Schema)}
}

func primaryKeyCheck(plan pgcatalog.TargetPlan) check {
	var missing []string
	for _, p := range plan.Problems {
		if strings.HasPrefix(p.Reason, "no primary key") {
			missing = append(missing, p.Table)
		}
	}
	if len(missing) > 0 {
		return check{reason: "NoPrimaryKey", line: fmt.Sprintf("FAIL primary keys: %s %s no primary key; DMS cannot apply an update or a delete without one",
			strings.Join(missing, ", "), plural(len(missing), "has", "have"))}
	}
	return check{ok: true, line: "ok   primary keys: every mapped table has one"}
}

func targetSchemaCheck(plan pgcatalog.TargetPlan, res *PreflightResult) check {
	var problems []string
	for _, p := range plan.Problems {
		if !strings.HasPrefix(p.Reason, "no primary key") {
			problems = append(problems, p.String())
		}
	}
	switch {
	case len(problems) > 0:
		return check{reason: "TargetSchemaMismatch", line: "FAIL target schema: " + strings.Join(problems, "; ")}
	case len(plan.Problems) > 0:
		return check{reason: "NoPrimaryKey", line: "wait target schema: created once every mapped table has a primary key"}
	case len(plan.Statements) > 0:
		res.TargetSchema = plan.Statements
		return check{reason: "CreatingTargetSchema", line: fmt.Sprintf("wait target schema: creating %s from the source's schema (keys, unique constraints, defaults, foreign keys, indexes)",
			strings.Join(plan.Create, ", "))}
	}
	return check{ok: true, line: fmt.Sprintf("ok   target schema: %s as on the source", strings.Join(plan.Matching, ", "))}
}

func lobCheck(db *DatabaseObservation) check {
	if db.LOBMode == "Full" {
		return check{ok: true, line: "ok   LOB sizes: full LOB mode copies values of any size"}
	}
	limit := int64(db.LOBMaxSizeKiB) * 1024
	var largest, over string
	var largestBytes, overBytes int64 = -1, -1
	for _, t := range db.Source.Tables {
		for _, c := range t.Columns {
			if c.MaxValueBytes > largestBytes {
				largest, largestBytes = t.Name+"."+c.Name, c.MaxValueBytes
			}
			if c.MaxValueBytes > limit && c.MaxValueBytes > overBytes {
				over, overBytes = t.Name+"."+c.Name, c.MaxValueBytes
			}
		}
	}
	switch {
	case over != "":
		need := (overBytes + 1023) / 1024
		return check{reason: "LOBTooLarge", line: fmt.Sprintf("FAIL LOB sizes: %s holds a value of %s, over the %d KiB limit of limited LOB mode, which would truncate it on the target; set spec.replication.lobMaxSizeKiB to at least %d or spec.replication.lobMode to Full",
			over, kib(overBytes), db.LOBMaxSizeKiB, need)}
	case largestBytes < 0:
		return check{ok: true, line: "ok   LOB sizes: the mapped tables have no LOB column"}
	}
	return check{ok: true, line: fmt.Sprintf("ok   LOB sizes: the largest value, in %s, is %s, within the %d KiB limit", largest, kib(largestBytes), db.LOBMaxSizeKiB)}
}

func capacityCheck(s pgcatalog.Settings) check {
	freeSlots, freeSenders := s.MaxReplicationSlots-s.UsedReplicationSlots, s.MaxWALSenders-s.UsedWALSenders
	switch {
	case s.WALLevel != "logical":
		return check{reason: "WALLevelNotLogical", line: fmt.Sprintf("FAIL source replication: wal_level is %s on the source, DMS CDC needs logical (rds.logical_replication=1, applied by a reboot)", orUnknown(s.WALLevel))}
	case freeSlots < replicationNeeds:
		return check{reason: "NoReplicationSlot", line: fmt.Sprintf("FAIL source replication: %d of max_replication_slots=%d in use, the task needs %d free; drop unused slots or raise max_replication_slots", s.UsedReplicationSlots, s.MaxReplicationSlots, replicationNeeds)}
	case freeSenders < replicationNeeds:
		return check{reason: "NoWALSender", line: fmt.Sprintf("FAIL source replication: %d of max_wal_senders=%d in use, the task needs %d free; raise max_wal_senders", s.UsedWALSenders, s.MaxWALSenders, replicationNeeds)}
	}
	return check{ok: true, line: fmt.Sprintf("ok   source replication: wal_level=logical, %d of %d replication slots and %d of %d WAL senders free",
		freeSlots, s.MaxReplicationSlots, freeSenders, s.MaxWALSenders)}
}

func kib(bytes int64) string {
	if bytes < 1024 {
		return fmt.Sprintf("%d bytes", bytes)
	}
	return fmt.Sprintf("%.1f KiB", float64(bytes)/1024)
}

func quoteList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(quoted, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
