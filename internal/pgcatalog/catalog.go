// Package pgcatalog describes the tables a migration copies as PostgreSQL's
// catalog sees them, and decides what the target needs before DMS may load
// them: which source tables the task's selection patterns match, and the DDL
// that recreates the source's schema on the target.
//
// DMS creates a missing target table with its primary key only: no unique
// constraint (so a payment's idempotency key could be stored twice), no
// defaults, no foreign keys, no other index. The operator therefore creates the
// target schema from the source before the full load and runs the task with
// TargetTablePrepMode DO_NOTHING. Everything here is pure; reading the catalog
// is the SQL runner's job (internal/sqlrunner).
package pgcatalog

import (
	"strings"
)

// Catalog is what one database says of the tables of one schema.
type Catalog struct {
	Schema    string
	Tables    []Table
	Sequences []Sequence
	// Unmatched lists the selection patterns that matched no table.
	Unmatched []string
	Settings  Settings
}

// Settings are the server settings logical replication depends on.
type Settings struct {
	ServerVersion        string
	WALLevel             string
	MaxReplicationSlots  int
	UsedReplicationSlots int
	MaxWALSenders        int
	UsedWALSenders       int
}

// Table is one table with everything needed to recreate it.
type Table struct {
	Name        string
	Columns     []Column
	Constraints []Constraint
	// Indexes are the indexes that do not back a constraint.
	Indexes []Index
	// Rows is the planner's estimate (pg_class.reltuples), for messages only.
	Rows int64
}

// Column is one column. Type, Default and the constraint and index
// definitions are the catalog's own text (format_type, pg_get_expr,
// pg_get_constraintdef, pg_get_indexdef) read with an empty search_path, so
// every name in them is schema-qualified and the two databases compare as text.
type Column struct {
	Name    string
	Type    string
	NotNull bool
	Default string // "" when none
	// Identity is "a" (GENERATED ALWAYS), "d" (BY DEFAULT) or "".
	Identity string
	// Generated is true for a stored generated column; Default holds its expression.
	Generated bool
	// MaxValueBytes is the size of the column's largest value, measured only
	// for the columns DMS handles as LOBs (see IsLOB); -1 when not measured.
	MaxValueBytes int64
}

// Constraint kinds, as pg_constraint.contype.
const (
	PrimaryKey = "p"
	Unique     = "u"
	ForeignKey = "f"
	Check      = "c"
	Exclusion  = "x"
)

// Constraint is a table constraint; NOT NULL lives on the column.
type Constraint struct {
	Name       string
	Kind       string // PrimaryKey, Unique, ForeignKey, Check, Exclusion
	Definition string // pg_get_constraintdef
	// References is the referenced table of a foreign key ("schema.table").
	References string
}

// Index is an index that backs no constraint.
type Index struct {
	Name       string
	Definition string // pg_get_indexdef: CREATE [UNIQUE] INDEX name ON schema.table ...
}

// Sequence is a sequence the tables' defaults use or own (serial columns).
type Sequence struct {
	Name      string
	DataType  string
	Start     int64
	Increment int64
	Min       int64
	Max       int64
	Cache     int64
	Cycle     bool
	// OwnedBy is "table.column" for a serial column's sequence, else "".
	OwnedBy string
}

// Table returns the table of that name, or nil.
func (c Catalog) Table(name string) *Table {
	for i := range c.Tables {
		if c.Tables[i].Name == name {
			return &c.Tables[i]
		}
	}
	return nil
}

// Sequence returns the sequence of that name, or nil.
func (c Catalog) Sequence(name string) *Sequence {
	for i := range c.Sequences {
		if c.Sequences[i].Name == name {
			return &c.Sequences[i]
		}
	}
	return nil
}

// TableNames lists the catalog's tables in order.
func (c Catalog) TableNames() []string {
	names := make([]string, len(c.Tables))
	for i, t := range c.Tables {
		names[i] = t.Name
	}
	return names
}

// PrimaryKey returns the table's primary key constraint, or nil.
func (t Table) PrimaryKey() *Constraint {
	for i := range t.Constraints {
		if t.Constraints[i].Kind == PrimaryKey {
			return &t.Constraints[i]
		}
	}
	return nil
}

// IsLOB says whether DMS handles a PostgreSQL type as a large object, which
// its limited LOB mode truncates at LobMaxSize: text, bytea, json, jsonb, xml,
// character varying without a length, and arrays (DMS maps them to NCLOB).
func IsLOB(typ string) bool {
	switch typ {
	case "text", "bytea", "json", "jsonb", "xml", "character varying":
		return true
	}
	return strings.HasSuffix(typ, "[]")
}
