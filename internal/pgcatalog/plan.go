package pgcatalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Problem is a reason the target cannot be prepared, naming the table.
type Problem struct {
	Table  string
	Reason string
}

func (p Problem) String() string { return p.Table + ": " + p.Reason }

// TargetPlan is what the target needs before the full load.
type TargetPlan struct {
	// Statements create the missing tables, in an order that runs in one
	// transaction: sequences, tables, their constraints and indexes, sequence
	// ownership, then foreign keys (whose referenced tables exist by then).
	Statements []string
	// Create lists the tables the statements create; Matching those already on
	// the target exactly as on the source.
	Create   []string
	Matching []string
	// Problems are the tables that cannot be replicated safely as they are.
	// When there is any, Statements is empty: nothing is half-created.
	Problems []Problem
}

// PlanTarget compares the selected source tables with the target and plans
// the DDL that makes the target match. A table already on the target must be
// identical (columns, defaults, constraints, indexes): the operator never
// alters a table that may hold data. Every source table needs a primary key
// (DMS cannot apply an update or a delete without one), and a foreign key may
// only reference a table that is replicated too.
func PlanTarget(source, target Catalog) TargetPlan {
	var plan TargetPlan
	selected := map[string]bool{}
	for _, t := range source.Tables {
		selected[qualified(source.Schema, t.Name)] = true
	}
	var create []Table
	for _, t := range source.Tables {
		if t.PrimaryKey() == nil {
			plan.Problems = append(plan.Problems, Problem{t.Name, "no primary key: DMS cannot apply updates or deletes of a table without one; add a primary key on the source"})
			continue
		}
		if bad := foreignOutside(t, selected); bad != "" {
			plan.Problems = append(plan.Problems, Problem{t.Name, bad})
			continue
		}
		existing := target.Table(t.Name)
		if existing == nil {
			create = append(create, t)
			plan.Create = append(plan.Create, t.Name)
			continue
		}
		if diffs := differences(t, *existing); len(diffs) > 0 {
			plan.Problems = append(plan.Problems, Problem{t.Name, "exists on the target and differs from the source: " + strings.Join(diffs, "; ") +
				"; drop it on the target (before the full load it holds no payments) or make it match"})
			continue
		}
		plan.Matching = append(plan.Matching, t.Name)
	}
	if len(plan.Problems) > 0 {
		plan.Create = nil
		return plan
	}
	plan.Statements = createStatements(source, target, create)
	return plan
}

func foreignOutside(t Table, selected map[string]bool) string {
	for _, c := range t.Constraints {
		if c.Kind == ForeignKey && !selected[c.References] {
			return fmt.Sprintf("foreign key %s references %s, which the task does not replicate; add it to spec.replication.tables", c.Name, c.References)
		}
	}
	return ""
}

// differences lists how the target table t2 differs from the source table t1.
func differences(t1, t2 Table) []string {
	var diffs []string
	cols2 := map[string]Column{}
	for _, c := range t2.Columns {
		cols2[c.Name] = c
	}
	for _, c1 := range t1.Columns {
		c2, ok := cols2[c1.Name]
		if !ok {
			diffs = append(diffs, "column "+c1.Name+" missing")
			continue
		}
		delete(cols2, c1.Name)
		if d := columnDiff(c1, c2); d != "" {
			diffs = append(diffs, "column "+c1.Name+" "+d)
		}
	}
	for _, name := range sortedKeys(cols2) {
		diffs = append(diffs, "column "+name+" is not on the source")
	}
	diffs = append(diffs, setDiff("constraint", constraintDefs(t1), constraintDefs(t2))...)
	diffs = append(diffs, setDiff("index", indexDefs(t1), indexDefs(t2))...)
	return diffs
}

func columnDiff(c1, c2 Column) string {
	switch {
	case c1.Type != c2.Type:
		return fmt.Sprintf("is %s on the source, %s on the target", c1.Type, c2.Type)
	case c1.NotNull != c2.NotNull:
		return fmt.Sprintf("is %s on the source, %s on the target", nullability(c1), nullability(c2))
	case c1.Identity != c2.Identity || c1.Generated != c2.Generated:
		return "is generated differently on the target"
	case c1.Default != c2.Default:
		return fmt.Sprintf("defaults to %s on the source, %s on the target", orNone(c1.Default), orNone(c2.Default))
	}
	return ""
}

// constraintDefs keys constraints by definition: a name differing between the
// two sides changes nothing about the data.
func constraintDefs(t Table) map[string]string {
	defs := map[string]string{}
	for _, c := range t.Constraints {
		defs[c.Definition] = kindName(c.Kind) + " " + c.Name
	}
	return defs
}

// indexDefs keys indexes by definition without their name.
func indexDefs(t Table) map[string]string {
	defs := map[string]string{}
	for _, i := range t.Indexes {
		defs[strings.Replace(i.Definition, " "+QuoteIdent(i.Name)+" ON ", " ON ", 1)] = i.Name
	}
	return defs
}

func setDiff(what string, source, target map[string]string) []string {
	var diffs []string
	for _, def := range sortedKeys(source) {
		if _, ok := target[def]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s missing (%s)", what, source[def], def))
		}
	}
	for _, def := range sortedKeys(target) {
		if _, ok := source[def]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s is not on the source (%s)", what, target[def], def))
		}
	}
	return diffs
}

func createStatements(source, target Catalog, tables []Table) []string {
	if len(tables) == 0 {
		return nil
	}
	schema := source.Schema
	var stmts, owned, foreign []string
	stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+QuoteIdent(schema))
	for _, seq := range usedSequences(source, tables) {
		if target.Sequence(seq.Name) != nil {
			continue // a sequence left behind; setval before the cutover sets it anyway
		}
		stmts = append(stmts, createSequence(schema, seq))
		if seq.OwnedBy != "" {
			owned = append(owned, fmt.Sprintf("ALTER SEQUENCE %s OWNED BY %s.%s", qualified(schema, seq.Name), QuoteIdent(schema), ownedByIdent(seq.OwnedBy)))
		}
	}
	for _, t := range tables {
		name := qualified(schema, t.Name)
		stmts = append(stmts, createTable(name, t))
		for _, c := range t.Constraints {
			stmt := fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", name, QuoteIdent(c.Name), c.Definition)
			if c.Kind == ForeignKey {
				foreign = append(foreign, stmt)
			} else {
				stmts = append(stmts, stmt)
			}
		}
		for _, i := range t.Indexes {
			stmts = append(stmts, i.Definition)
		}
	}
	stmts = append(stmts, owned...)
	return append(stmts, foreign...)
}

func createTable(name string, t Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		def := QuoteIdent(c.Name) + " " + c.Type
		switch {
		case c.Generated:
			def += " GENERATED ALWAYS AS (" + c.Default + ") STORED"
		case c.Identity == "a":
			def += " GENERATED ALWAYS AS IDENTITY"
		case c.Identity == "d":
			def += " GENERATED BY DEFAULT AS IDENTITY"
		case c.Default != "":
			def += " DEFAULT " + c.Default
		}
		if c.NotNull {
			def += " NOT NULL"
		}
		cols[i] = def
	}
	return fmt.Sprintf("CREATE TABLE %s (\n  %s\n)", name, strings.Join(cols, ",\n  "))
}

func createSequence(schema string, s Sequence) string {
	stmt := fmt.Sprintf("CREATE SEQUENCE %s AS %s INCREMENT BY %d MINVALUE %d MAXVALUE %d START WITH %d CACHE %d",
		qualified(schema, s.Name), s.DataType, s.Increment, s.Min, s.Max, s.Start, s.Cache)
	if s.Cycle {
		stmt += " CYCLE"
	}
	return stmt
}

// usedSequences are the source sequences that the created tables own or whose
// nextval their defaults call.
func usedSequences(source Catalog, tables []Table) []Sequence {
	var used []Sequence
	for _, seq := range source.Sequences {
		q := qualified(source.Schema, seq.Name)
		for _, t := range tables {
			if owner, _, _ := strings.Cut(seq.OwnedBy, "."); owner == t.Name || usesSequence(t, q) {
				used = append(used, seq)
				break
			}
		}
	}
	return used
}

func usesSequence(t Table, qualifiedSeq string) bool {
	return slices.ContainsFunc(t.Columns, func(c Column) bool {
		return strings.Contains(c.Default, "nextval('"+strings.ReplaceAll(qualifiedSeq, "'", "''")+"'")
	})
}

func ownedByIdent(tableColumn string) string {
	table, column, _ := strings.Cut(tableColumn, ".")
	return QuoteIdent(table) + "." + QuoteIdent(column)
}

// qualified is schema.name with each part quoted only where PostgreSQL
// needs it, which is how the catalog functions print names.
func qualified(schema, name string) string { return Qualified(schema, name) }

// Qualified is schema.name, each part quoted as quote_ident would.
func Qualified(schema, name string) string { return QuoteIdent(schema) + "." + QuoteIdent(name) }

// QuoteIdent quotes an identifier the way quote_ident does: only when it is
// not a plain lower-case name.
func QuoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain && !reserved[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reserved are the SQL key words quote_ident quotes that a table or column
// of a payment schema could plausibly be called.
var reserved = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true, "asc": true,
	"check": true, "column": true, "constraint": true, "create": true, "default": true, "desc": true, "distinct": true,
	"do": true, "else": true, "end": true, "except": true, "false": true, "for": true, "foreign": true, "from": true,
	"grant": true, "group": true, "having": true, "in": true, "into": true, "limit": true, "not": true, "null": true,
	"offset": true, "on": true, "only": true, "or": true, "order": true, "primary": true, "references": true,
	"select": true, "table": true, "then": true, "to": true, "true": true, "union": true, "unique": true, "user": true,
	"using": true, "when": true, "where": true, "with": true,
}

func kindName(kind string) string {
	switch kind {
	case PrimaryKey:
		return "primary key"
	case Unique:
		return "unique constraint"
	case ForeignKey:
		return "foreign key"
	case Check:
		return "check constraint"
	case Exclusion:
		return "exclusion constraint"
	}
	return "constraint"
}

func nullability(c Column) string {
	if c.NotNull {
		return "NOT NULL"
	}
	return "nullable"
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
