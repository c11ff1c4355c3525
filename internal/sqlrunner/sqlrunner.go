// Package sqlrunner is the one way the operator runs SQL on the migration's
// databases (SPEC 4.3): preflight reads the catalogs and creates the target
// schema through it, and the cutover's fence, watermark and sequence steps
// join it. The operator never issues SQL any other way, so a second
// implementation (a one-off task inside the VPC, for a manager that cannot
// reach the databases) can stand in for Direct without the reconciler knowing.
package sqlrunner

import (
	"context"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

// Database names one of the migration's databases by the Secrets Manager
// secret that holds its credentials, host, port and dbname (the stack's
// generated secret, which RDS's attachment completes).
type Database struct {
	Side      string // source or target, for messages
	SecretARN string
	// Host, Port and DBName, when Host is set, are used instead of the
	// secret's: the secret RDS manages for an existing source holds only
	// the user name and password.
	Host   string
	Port   int
	DBName string
}

// InspectRequest says which tables of a schema to describe.
type InspectRequest struct {
	Schema string
	// Patterns are DMS selection patterns ("%" the only wildcard); the tables
	// they match are described and the patterns that match none reported.
	Patterns []string
	// Tables are exact names, used instead of Patterns when set (the target is
	// inspected for the tables the source's patterns selected).
	Tables []string
	// MeasureLOBs measures the largest value of every LOB column (one scan of
	// each table that has one).
	MeasureLOBs bool
}

// Runner runs the operator's SQL steps on one database at a time.
type Runner interface {
	// Inspect describes the requested tables, the sequences they use and the
	// server's replication settings.
	Inspect(ctx context.Context, db Database, req InspectRequest) (pgcatalog.Catalog, error)
	// ApplyDDL runs statements in one transaction: all of them or none.
	ApplyDDL(ctx context.Context, db Database, statements []string) error

	// EnsureAppRole creates (or updates the password of) the application's
	// LOGIN role on db with the password from its secret, and grants it USAGE
	// on the schema, SELECT, INSERT, UPDATE, DELETE on the tables and USAGE,
	// SELECT, UPDATE on the sequences those tables use; never SUPERUSER,
	// REPLICATION, CREATEROLE or CREATEDB.
	EnsureAppRole(ctx context.Context, db Database, role AppRole) error
	// EnsureWatermarkTable creates the drain control table
	// naming.WatermarkTable in schema.
	EnsureWatermarkTable(ctx context.Context, db Database, schema string) error
	// FenceState reports whether role has default_transaction_read_only=on
	// set on the role itself (ALTER ROLE ... SET, not IN DATABASE).
	FenceState(ctx context.Context, db Database, role string) (bool, error)
	// SetFence sets (on) or resets (off) default_transaction_read_only on the
	// role. Never on the database: a database-level setting also stops the
	// logical replication apply worker the reverse path needs (SPEC 4.2a).
	SetFence(ctx context.Context, db Database, role string, on bool) error
	// ConfirmFence opens a fresh session as the application role (host, port
	// and dbname from db's secret, credentials from appSecretARN) and reports
	// whether a new transaction there is read-only.
	ConfirmFence(ctx context.Context, db Database, appSecretARN string) (bool, error)
	// DrainSessions waits up to grace for the role's write transactions open
	// when it starts to end, then terminates every remaining client session
	// of the role, so pooled connections reconnect, resolve the writer record
	// again and pick up the fence.
	DrainSessions(ctx context.Context, db Database, role string, grace time.Duration) (DrainResult, error)
	// WriteWatermark inserts the row id into the watermark table from the
	// operator's own session, which the role fence does not cover; a second
	// call with the same id is a no-op.
	WriteWatermark(ctx context.Context, db Database, schema, id string) error
	// WaitWatermark polls db until the watermark row id is there or timeout
	// passes (found=false, err=nil on timeout).
	WaitWatermark(ctx context.Context, db Database, schema, id string, timeout time.Duration) (found bool, err error)
	// SyncSequences sets every sequence of schema on to past its value on
	// from (plus margin), so a write accepted on to never reuses an id issued
	// on from. It never moves a sequence backwards and returns how many
	// sequences it moved (0 when repeated).
	SyncSequences(ctx context.Context, from, to Database, schema string, margin int64) (int, error)
	// CreateSlot creates the logical replication slot name with the output
	// plugin and returns its consistent point LSN as text; if the slot exists
	// already it returns the slot's confirmed_flush_lsn (or restart_lsn).
	CreateSlot(ctx context.Context, db Database, name, plugin string) (lsn string, err error)
	// MarkFlipPoint returns db's WAL position now (text LSN), once the
	// logical slot name with the plugin exists (it is created if missing):
	// where the reverse task starts reading the slot.
	MarkFlipPoint(ctx context.Context, db Database, slot, plugin string) (lsn string, err error)
	// DropSlot drops the slot if it exists (an inactive slot holds WAL
	// forever).
	DropSlot(ctx context.Context, db Database, name string) error
	// SlotExists reports whether the replication slot name exists on db.
	SlotExists(ctx context.Context, db Database, name string) (bool, error)
	// LongestWriteTransaction is the age of the oldest open transaction that
	// holds an xid, among client backends other than the caller's; 0 when
	// there is none.
	LongestWriteTransaction(ctx context.Context, db Database) (time.Duration, error)
	// ReplicationSettings reads wal_level and the replication slots and WAL
	// senders configured and in use on db's server.
	ReplicationSettings(ctx context.Context, db Database) (pgcatalog.Settings, error)
	// LogicalSlots lists the logical replication slots of db's database (on
	// the source, the DMS task's).
	LogicalSlots(ctx context.Context, db Database) ([]Slot, error)
}

// Slot is a logical replication slot as pg_replication_slots reports it.
type Slot struct {
	Name   string
	Active bool // a walsender reads from it
	// WALStatus: reserved, extended, unreserved (about to lose WAL) or lost
	// (it did: its reader cannot go on).
	WALStatus string
	// RetainedBytes is the WAL the slot holds back from recycling.
	RetainedBytes int64
}

// AppRole is the role the payment service writes as
// (spec.database.applicationUsername), with its own secret. The secret's host
// is the writer record, which moves during the cutover, so only its username
// and password are used: host, port and dbname come from the side's master
// secret.
type AppRole struct {
	Name      string
	SecretARN string
	Schema    string
	Tables    []string // unqualified table names in Schema the service may write
	// Existing says the role is the production service's own, on an
	// existing source: it is checked (it exists, logs in, is no superuser,
	// can write the tables) and never altered.
	Existing bool
}

// DrainResult is what DrainSessions did.
type DrainResult struct {
	OpenWritesWaited   int           // write transactions of the role that were open when the wait began
	SessionsTerminated int           // the role's sessions ended with pg_terminate_backend
	Waited             time.Duration // how long the wait for open writes took
}
