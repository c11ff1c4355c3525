package controller_test

import (
	"context"
	"errors"
	"sync"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

// fakeSQL stands in for the migrations' databases, by secret ARN: every
// source holds a payments table, every target starts empty, and ApplyDDL
// "creates" the source's tables on a target.
type fakeSQL struct {
	mu        sync.Mutex
	created   map[string]bool  // target secret ARN -> tables created
	applied   map[string]int   // target secret ARN -> ApplyDDL calls
	sourceErr map[string]error // source secret ARN -> what Inspect returns
	dbs       map[string]*fakeDB
	stuck     map[string]bool // secret ARN -> watermarks do not arrive there
	// slots overrides the logical slots a database shows (secret ARN ->
	// slots); by default one active, healthy slot.
	slots map[string][]sqlrunner.Slot
	// settings overrides a database's replication settings (secret ARN).
	settings map[string]pgcatalog.Settings
	log      []string
}

func newFakeSQL() *fakeSQL {
	return &fakeSQL{created: map[string]bool{}, applied: map[string]int{}, sourceErr: map[string]error{}, dbs: map[string]*fakeDB{}, stuck: map[string]bool{}, slots: map[string][]sqlrunner.Slot{}, settings: map[string]pgcatalog.Settings{}}
}

func sourceCatalog() pgcatalog.Catalog {
	return pgcatalog.Catalog{
		Schema:   "public",
		Settings: pgcatalog.Settings{WALLevel: "logical", MaxReplicationSlots: 20, MaxWALSenders: 20},
		Tables: []pgcatalog.Table{{
			Name: "payments",
			Columns: []pgcatalog.Column{
				{Name: "id", Type: "bigint", NotNull: true, MaxValueBytes: -1},
				{Name: "metadata", Type: "jsonb", MaxValueBytes: 2048},
			},
			Constraints: []pgcatalog.Constraint{{Name: "payments_pkey", Kind: pgcatalog.PrimaryKey, Definition: "PRIMARY KEY (id)"}},
		}},
	}
}

func (f *fakeSQL) Inspect(_ context.Context, db sqlrunner.Database, req sqlrunner.InspectRequest) (pgcatalog.Catalog, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if db.SecretARN == "" {
		return pgcatalog.Catalog{}, errors.New("no secret")
	}
	if db.Side == "source" {
		return sourceCatalog(), f.sourceErr[db.SecretARN]
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
	f.applied[db.SecretARN]++
	f.created[db.SecretARN] = true
	return nil
}

func (f *fakeSQL) failSource(secretARN string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sourceErr[secretARN] = err
}

func (f *fakeSQL) appliedTo(secretARN string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied[secretARN]
}
