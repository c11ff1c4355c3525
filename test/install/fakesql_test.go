package install_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

// fakeSQL is the migration's two databases, by secret ARN: the source holds
// a payments table, the target gets it from preflight's DDL, a fence holds
// until lifted, and a watermark written on one side is on the other at once
// (replication keeps up).
type fakeSQL struct {
	mu      sync.Mutex
	created map[string]bool // target secret ARN -> tables created
	fenced  map[string]bool
	marks   map[string]bool // secret ARN + "/" + watermark id
	slots   map[string]bool // secret ARN -> the reverse path's slot exists
}

func newFakeSQL() *fakeSQL {
	return &fakeSQL{created: map[string]bool{}, fenced: map[string]bool{}, marks: map[string]bool{}, slots: map[string]bool{}}
}

func sourceCatalog() pgcatalog.Catalog {
	return pgcatalog.Catalog{
		Schema:   "public",
		Settings: pgcatalog.Settings{WALLevel: "logical", MaxReplicationSlots: 20, MaxWALSenders: 20},
		Tables: []pgcatalog.Table{{
			Name: "payments",
			Columns: []pgcatalog.Column{
				{Name: "id", Type: "bigint", NotNull: true, MaxValueBytes: -1},
				{Name: "amount_cents", Type: "bigint", NotNull: true, MaxValueBytes: -1},
			},
			Constraints: []pgcatalog.Constraint{{Name: "payments_pkey", Kind: pgcatalog.PrimaryKey, Definition: "PRIMARY KEY (id)"}},
		}},
	}
}

// peer is the other database of the stack.
func peer(arn string) string {
	if strings.Contains(arn, ":rds-source-") {
		return strings.Replace(arn, ":rds-source-", ":rds-target-", 1)
	}
	return strings.Replace(arn, ":rds-target-", ":rds-source-", 1)
}

func (f *fakeSQL) Inspect(_ context.Context, db sqlrunner.Database, req sqlrunner.InspectRequest) (pgcatalog.Catalog, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if db.Side == "source" {
		return sourceCatalog(), nil
	}
	target := pgcatalog.Catalog{Schema: req.Schema, Settings: sourceCatalog().Settings}
	if f.created[db.SecretARN] {
		target.Tables = sourceCatalog().Tables
	}
	return target, nil
}

func (f *fakeSQL) ApplyDDL(_ context.Context, db sqlrunner.Database, statements []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if db.Side != "target" || len(statements) == 0 {
		return errors.New("DDL only ever goes to the target")
	}
	f.created[db.SecretARN] = true
	return nil
}

func (f *fakeSQL) EnsureAppRole(context.Context, sqlrunner.Database, sqlrunner.AppRole) error {
	return nil
}

func (f *fakeSQL) EnsureWatermarkTable(context.Context, sqlrunner.Database, string) error {
	return nil
}

// LongestWriteTransaction: no write transaction is open on the source.
func (f *fakeSQL) LongestWriteTransaction(context.Context, sqlrunner.Database) (time.Duration, error) {
	return 0, nil
}

func (f *fakeSQL) FenceState(_ context.Context, db sqlrunner.Database, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fenced[db.SecretARN], nil
}

func (f *fakeSQL) SetFence(_ context.Context, db sqlrunner.Database, _ string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fenced[db.SecretARN] = on
	return nil
}

func (f *fakeSQL) ConfirmFence(ctx context.Context, db sqlrunner.Database, _ string) (bool, error) {
	return f.FenceState(ctx, db, "")
}

func (f *fakeSQL) DrainSessions(context.Context, sqlrunner.Database, string, time.Duration) (sqlrunner.DrainResult, error) {
	return sqlrunner.DrainResult{SessionsTerminated: 1}, nil
}

func (f *fakeSQL) WriteWatermark(_ context.Context, db sqlrunner.Database, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks[db.SecretARN+"/"+id] = true
	f.marks[peer(db.SecretARN)+"/"+id] = true
	return nil
}

func (f *fakeSQL) WaitWatermark(_ context.Context, db sqlrunner.Database, _, id string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks[db.SecretARN+"/"+id], nil
}

func (f *fakeSQL) SyncSequences(context.Context, sqlrunner.Database, sqlrunner.Database, string, int64) (int, error) {
	return 1, nil
}

func (f *fakeSQL) CreateSlot(_ context.Context, db sqlrunner.Database, _, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slots[db.SecretARN] = true
	return "0/16B3748", nil
}

func (f *fakeSQL) MarkFlipPoint(ctx context.Context, db sqlrunner.Database, slot, plugin string) (string, error) {
	if _, err := f.CreateSlot(ctx, db, slot, plugin); err != nil {
		return "", err
	}
	return "0/16B3800", nil
}

func (f *fakeSQL) DropSlot(_ context.Context, db sqlrunner.Database, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.slots, db.SecretARN)
	return nil
}

func (f *fakeSQL) SlotExists(_ context.Context, db sqlrunner.Database, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slots[db.SecretARN], nil
}

// ReplicationSettings leave room for the reverse path's slot and task.
func (f *fakeSQL) ReplicationSettings(context.Context, sqlrunner.Database) (pgcatalog.Settings, error) {
	return sourceCatalog().Settings, nil
}

// LogicalSlots shows the forward task's slot on the source, healthy.
func (f *fakeSQL) LogicalSlots(context.Context, sqlrunner.Database) ([]sqlrunner.Slot, error) {
	return []sqlrunner.Slot{{Name: "dms_slot", Active: true, WALStatus: "reserved", RetainedBytes: 1 << 20}}, nil
}
