package replication

import (
	"strings"
	"testing"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

func paymentsTable() pgcatalog.Table {
	return pgcatalog.Table{
		Name: "payments",
		Columns: []pgcatalog.Column{
			{Name: "id", Type: "bigint", NotNull: true, MaxValueBytes: -1},
			{Name: "idempotency_key", Type: "text", NotNull: true, MaxValueBytes: 40},
			{Name: "metadata", Type: "jsonb", MaxValueBytes: 1900},
		},
		Constraints: []pgcatalog.Constraint{
			{Name: "payments_pkey", Kind: pgcatalog.PrimaryKey, Definition: "PRIMARY KEY (id)"},
			{Name: "payments_idempotency_key_key", Kind: pgcatalog.Unique, Definition: "UNIQUE (idempotency_key)"},
		},
	}
}

func healthyDatabases() *DatabaseObservation {
	settings := pgcatalog.Settings{WALLevel: "logical", MaxReplicationSlots: 20, MaxWALSenders: 20, UsedReplicationSlots: 1}
	return &DatabaseObservation{
		Source:        pgcatalog.Catalog{Schema: "public", Tables: []pgcatalog.Table{paymentsTable()}, Settings: settings},
		Target:        pgcatalog.Catalog{Schema: "public", Tables: []pgcatalog.Table{paymentsTable()}, Settings: settings},
		LOBMode:       "Limited",
		LOBMaxSizeKiB: 32,
	}
}

func TestDatabaseChecks(t *testing.T) {
	for _, c := range []struct {
		name       string
		mutate     func(*DatabaseObservation)
		nilDB      bool
		wantPassed bool
		wantReason string
		wantLines  []string // substrings, in order
		wantDDL    bool
	}{
		{name: "healthy", wantPassed: true, wantReason: "AllChecksPassed", wantLines: []string{
			"ok   mapped tables: payments (1 in public)",
			"ok   primary keys: every mapped table has one",
			"ok   target schema: payments as on the source",
			"ok   LOB sizes: the largest value, in payments.metadata, is 1.9 KiB, within the 32 KiB limit",
			"ok   source replication: wal_level=logical, 19 of 20 replication slots and 20 of 20 WAL senders free"}},
		{name: "not located", nilDB: true, wantReason: "DatabasesUnread", wantLines: []string{"FAIL databases: not read"}},
		{name: "source unreachable", mutate: func(d *DatabaseObservation) { d.SourceError = "source database 127.0.0.1:5432: connection refused" },
			wantReason: "SourceDatabaseUnreachable", wantLines: []string{"FAIL source database: source database 127.0.0.1:5432: connection refused"}},
		{name: "target unreachable", mutate: func(d *DatabaseObservation) { d.TargetError = "password authentication failed" },
			wantReason: "TargetDatabaseUnreachable", wantLines: []string{"FAIL target database: password authentication failed"}},
		{name: "a pattern matches nothing", mutate: func(d *DatabaseObservation) { d.Source.Unmatched = []string{"refundz", "payment_%"} },
			wantReason: "TablesNotFound", wantLines: []string{`FAIL mapped tables: "refundz", "payment_%" in schema public match no table on the source (spec.replication.tables)`}},
		{name: "no table at all", mutate: func(d *DatabaseObservation) { d.Source.Tables = nil },
			wantReason: "TablesNotFound", wantLines: []string{"FAIL mapped tables: no table of schema public matches"}},
		{name: "no primary key", mutate: func(d *DatabaseObservation) {
			d.Source.Tables[0].Constraints = d.Source.Tables[0].Constraints[1:]
		}, wantReason: "NoPrimaryKey", wantLines: []string{"FAIL primary keys: payments has no primary key; DMS cannot apply an update or a delete without one",
			"wait target schema: created once every mapped table has a primary key"}},
		{name: "target table missing: create it", mutate: func(d *DatabaseObservation) { d.Target.Tables = nil },
			wantReason: "CreatingTargetSchema", wantDDL: true, wantLines: []string{"wait target schema: creating payments from the source's schema"}},
		{name: "target table as DMS would create it", mutate: func(d *DatabaseObservation) {
			d.Target.Tables[0].Constraints = d.Target.Tables[0].Constraints[:1]
		}, wantReason: "TargetSchemaMismatch", wantLines: []string{"FAIL target schema: payments: exists on the target and differs from the source: constraint unique constraint payments_idempotency_key_key missing"}},
		{name: "a LOB over the limit", mutate: func(d *DatabaseObservation) { d.Source.Tables[0].Columns[2].MaxValueBytes = 40*1024 + 1 },
			wantReason: "LOBTooLarge", wantLines: []string{"FAIL LOB sizes: payments.metadata holds a value of 40.0 KiB, over the 32 KiB limit of limited LOB mode, which would truncate it on the target; set spec.replication.lobMaxSizeKiB to at least 41 or spec.replication.lobMode to Full"}},
		{name: "a LOB exactly at the limit", mutate: func(d *DatabaseObservation) { d.Source.Tables[0].Columns[2].MaxValueBytes = 32 * 1024 },
			wantPassed: true, wantReason: "AllChecksPassed", wantLines: []string{"ok   LOB sizes: the largest value, in payments.metadata, is 32.0 KiB, within the 32 KiB limit"}},
		{name: "full LOB mode takes any size", mutate: func(d *DatabaseObservation) {
			d.LOBMode = "Full"
			d.Source.Tables[0].Columns[2].MaxValueBytes = 1 << 30
		}, wantPassed: true, wantReason: "AllChecksPassed", wantLines: []string{"ok   LOB sizes: full LOB mode copies values of any size"}},
		{name: "no LOB column", mutate: func(d *DatabaseObservation) {
			for _, cat := range []*pgcatalog.Catalog{&d.Source, &d.Target} {
				cat.Tables[0].Columns = cat.Tables[0].Columns[:1]
				cat.Tables[0].Constraints = cat.Tables[0].Constraints[:1]
			}
		}, wantPassed: true, wantReason: "AllChecksPassed", wantLines: []string{"ok   LOB sizes: the mapped tables have no LOB column"}},
		{name: "wal_level replica", mutate: func(d *DatabaseObservation) { d.Source.Settings.WALLevel = "replica" },
			wantReason: "WALLevelNotLogical", wantLines: []string{"FAIL source replication: wal_level is replica on the source"}},
		{name: "every slot taken", mutate: func(d *DatabaseObservation) { d.Source.Settings.UsedReplicationSlots = 20 },
			wantReason: "NoReplicationSlot", wantLines: []string{"FAIL source replication: 20 of max_replication_slots=20 in use, the task needs 1 free"}},
		{name: "every WAL sender busy", mutate: func(d *DatabaseObservation) { d.Source.Settings.UsedWALSenders = 20 },
			wantReason: "NoWALSender", wantLines: []string{"FAIL source replication: 20 of max_wal_senders=20 in use"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs := healthyPreflight()
			if c.nilDB {
				obs.Databases = nil
			} else if c.mutate != nil {
				c.mutate(obs.Databases)
			}
			res := EvaluatePreflight(obs, false)
			if res.Passed != c.wantPassed || res.Reason != c.wantReason {
				t.Errorf("passed %v reason %s, want %v %s\n%s", res.Passed, res.Reason, c.wantPassed, c.wantReason, res.Message)
			}
			rest := res.Message
			for _, want := range c.wantLines {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("message lacks %q (in order):\n%s", want, res.Message)
					continue
				}
				rest = rest[i+len(want):]
			}
			if (len(res.TargetSchema) > 0) != c.wantDDL {
				t.Errorf("target schema DDL: %v", res.TargetSchema)
			}
		})
	}
}
