// Package sqlrunner is the one way the operator runs SQL on the migration's
// databases (SPEC 4.3): preflight reads the catalogs and creates the target
// schema through it, and the cutover's fence, watermark and sequence steps
// join it. The operator never issues SQL any other way, so a second
// implementation (a one-off task inside the VPC, for a manager that cannot
// reach the databases) can stand in for Direct without the reconciler knowing.
package sqlrunner

import (
	"context"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

// Database names one of the migration's databases by the Secrets Manager
// secret that holds its credentials, host, port and dbname (the stack's
// generated secret, which RDS's attachment completes).
type Database struct {
	Side      string // source or target, for messages
	SecretARN string
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
}
