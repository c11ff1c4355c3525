package sqlrunner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

// Inspect describes the tables the request selects. It reads only the
// catalog, except with MeasureLOBs, which scans each table with a LOB column
// once (bounded by the statement timeout).
func (d *Direct) Inspect(ctx context.Context, db Database, req InspectRequest) (pgcatalog.Catalog, error) {
	var cat pgcatalog.Catalog
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		var err error
		if cat, err = inspect(ctx, conn, req); err != nil {
			return fmt.Errorf("%s database: %w", db.Side, err)
		}
		return nil
	})
	if err != nil {
		return pgcatalog.Catalog{}, err
	}
	return cat, nil
}

func inspect(ctx context.Context, conn *pgx.Conn, req InspectRequest) (pgcatalog.Catalog, error) {
	cat := pgcatalog.Catalog{Schema: req.Schema}
	var err error
	if cat.Settings, err = settings(ctx, conn); err != nil {
		return cat, err
	}
	names, err := tableNames(ctx, conn, req.Schema)
	if err != nil {
		return cat, err
	}
	var selected []string
	if req.Tables != nil {
		for _, t := range req.Tables {
			if slices.Contains(names, t) {
				selected = append(selected, t)
			}
		}
	} else {
		selected, cat.Unmatched = pgcatalog.Select(names, req.Patterns)
	}
	for _, name := range selected {
		t, err := describeTable(ctx, conn, req.Schema, name)
		if err != nil {
			return cat, fmt.Errorf("table %s.%s: %w", req.Schema, name, err)
		}
		if req.MeasureLOBs {
			if err := measureLOBs(ctx, conn, req.Schema, &t); err != nil {
				return cat, fmt.Errorf("table %s.%s: measuring LOB values: %w", req.Schema, name, err)
			}
		}
		cat.Tables = append(cat.Tables, t)
	}
	cat.Sequences, err = sequences(ctx, conn, req.Schema)
	return cat, err
}

// ReplicationSettings reads db's replication settings and their use, the
// part of Inspect the cutover's gates need on every reconcile.
func (d *Direct) ReplicationSettings(ctx context.Context, db Database) (pgcatalog.Settings, error) {
	var s pgcatalog.Settings
	err := d.withSession(ctx, db, func(conn *pgx.Conn) error {
		var err error
		if s, err = settings(ctx, conn); err != nil {
			return fmt.Errorf("%s database: %w", db.Side, err)
		}
		return nil
	})
	return s, err
}

func settings(ctx context.Context, conn *pgx.Conn) (pgcatalog.Settings, error) {
	var s pgcatalog.Settings
	var slots, senders string
	err := conn.QueryRow(ctx, `
		SELECT current_setting('server_version'), current_setting('wal_level'),
		       current_setting('max_replication_slots'), (SELECT count(*) FROM pg_catalog.pg_replication_slots),
		       current_setting('max_wal_senders'), (SELECT count(*) FROM pg_catalog.pg_stat_replication)`).
		Scan(&s.ServerVersion, &s.WALLevel, &slots, &s.UsedReplicationSlots, &senders, &s.UsedWALSenders)
	if err != nil {
		return s, fmt.Errorf("reading server settings: %w", err)
	}
	s.MaxReplicationSlots, _ = strconv.Atoi(slots)
	s.MaxWALSenders, _ = strconv.Atoi(senders)
	return s, nil
}

func tableNames(ctx context.Context, conn *pgx.Conn, schema string) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("listing the tables of schema %s: %w", schema, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func describeTable(ctx context.Context, conn *pgx.Conn, schema, name string) (pgcatalog.Table, error) {
	t := pgcatalog.Table{Name: name}
	rel := pgcatalog.Qualified(schema, name)
	var reltuples float64
	if err := conn.QueryRow(ctx, `SELECT reltuples FROM pg_catalog.pg_class WHERE oid = $1::regclass`, rel).Scan(&reltuples); err != nil {
		return t, err
	}
	t.Rows = max(0, int64(reltuples))
	rows, err := conn.Query(ctx, `
		SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated <> ''
		FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, rel)
	if err != nil {
		return t, err
	}
	t.Columns, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgcatalog.Column, error) {
		c := pgcatalog.Column{MaxValueBytes: -1}
		err := row.Scan(&c.Name, &c.Type, &c.NotNull, &c.Default, &c.Identity, &c.Generated)
		return c, err
	})
	if err != nil {
		return t, err
	}
	rows, err = conn.Query(ctx, `
		SELECT conname, contype::text, pg_catalog.pg_get_constraintdef(oid), coalesce(confrelid::regclass::text, '')
		FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f', 'c', 'x')
		ORDER BY contype, conname`, rel)
	if err != nil {
		return t, err
	}
	t.Constraints, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgcatalog.Constraint, error) {
		var c pgcatalog.Constraint
		err := row.Scan(&c.Name, &c.Kind, &c.Definition, &c.References)
		if c.References == "-" {
			c.References = ""
		}
		return c, err
	})
	if err != nil {
		return t, err
	}
	rows, err = conn.Query(ctx, `
		SELECT ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid)
		FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		WHERE i.indrelid = $1::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
		ORDER BY ic.relname`, rel)
	if err != nil {
		return t, err
	}
	t.Indexes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgcatalog.Index, error) {
		var i pgcatalog.Index
		err := row.Scan(&i.Name, &i.Definition)
		return i, err
	})
	return t, err
}

// measureLOBs reads the size of the largest value of each LOB column in one
// scan of the table.
func measureLOBs(ctx context.Context, conn *pgx.Conn, schema string, t *pgcatalog.Table) error {
	var exprs []string
	var cols []int
	for i, c := range t.Columns {
		if !pgcatalog.IsLOB(c.Type) {
			continue
		}
		col := pgcatalog.QuoteIdent(c.Name)
		if c.Type == "bytea" {
			exprs = append(exprs, "coalesce(max(octet_length("+col+")), 0)")
		} else {
			exprs = append(exprs, "coalesce(max(octet_length("+col+"::text)), 0)")
		}
		cols = append(cols, i)
	}
	if len(exprs) == 0 {
		return nil
	}
	sizes := make([]int64, len(exprs))
	dest := make([]any, len(exprs))
	for i := range sizes {
		dest[i] = &sizes[i]
	}
	query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + pgcatalog.Qualified(schema, t.Name)
	if err := conn.QueryRow(ctx, query).Scan(dest...); err != nil {
		return err
	}
	for i, col := range cols {
		t.Columns[col].MaxValueBytes = sizes[i]
	}
	return nil
}

func sequences(ctx context.Context, conn *pgx.Conn, schema string) ([]pgcatalog.Sequence, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
		       coalesce((SELECT t.relname || '.' || a.attname
		                 FROM pg_catalog.pg_depend dep
		                 JOIN pg_catalog.pg_class t ON t.oid = dep.refobjid
		                 JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
		                 WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'a'
		                 LIMIT 1), '')
		FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1
		  -- identity sequences belong to their column and are created with it
		  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'i')
		ORDER BY c.relname`, schema)
	if err != nil {
		return nil, fmt.Errorf("listing sequences: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgcatalog.Sequence, error) {
		var s pgcatalog.Sequence
		err := row.Scan(&s.Name, &s.DataType, &s.Start, &s.Increment, &s.Min, &s.Max, &s.Cache, &s.Cycle, &s.OwnedBy)
		return s, err
	})
}
