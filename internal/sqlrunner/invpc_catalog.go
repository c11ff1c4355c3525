package sqlrunner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tapstack/payment-migration-operator/internal/pgcatalog"
)

// The preflight's calls through the in-VPC runner: the catalog reads come
// back as one JSON document, base64-encoded (no whitespace, so one result
// field) and cut into log lines of chunkSize characters, since a container
// log line longer than 16 KiB reaches CloudWatch Logs in pieces. The SQL is
// Direct's, read with the same empty search_path, so that both runners
// return the same catalog from the same server.

const chunkSize = 3000

// emitJSONSQL prints the JSON value of query (one row, one column) as the
// step's chunked "part=<n> data=<base64>" lines.
func emitJSONSQL(step, query string) string {
	return `SELECT 'TAPSTACK step=` + step + ` part=' || i || ' data=' || substr(b, i * ` + strconv.Itoa(chunkSize) + ` + 1, ` + strconv.Itoa(chunkSize) + `)
FROM (SELECT replace(encode(convert_to((` + query + `)::text, 'UTF8'), 'base64'), chr(10), '') AS b) x,
  generate_series(0, greatest(length(b) - 1, 0) / ` + strconv.Itoa(chunkSize) + `) i;`
}

// readJSON puts a step's chunks back together and decodes them into v.
func readJSON(r result, step string, v any) error {
	parts := map[int]string{}
	for _, f := range r.lines[step] {
		n, err := strconv.Atoi(f["part"])
		if err != nil {
			continue
		}
		parts[n] = f["data"]
	}
	if len(parts) == 0 {
		return fmt.Errorf("step %s printed no result", step)
	}
	var b strings.Builder
	for i := range len(parts) {
		p, ok := parts[i]
		if !ok {
			return fmt.Errorf("step %s: part %d of %d is missing from the log", step, i, len(parts))
		}
		b.WriteString(p)
	}
	raw, err := base64.StdEncoding.DecodeString(b.String())
	if err != nil {
		return fmt.Errorf("step %s: %w", step, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("step %s: %w", step, err)
	}
	return nil
}

// settingsJSON is settings() of inspect.go as one JSON object.
const settingsJSON = `json_build_object('serverversion', current_setting('server_version'), 'wallevel', current_setting('wal_level'),
    'maxreplicationslots', current_setting('max_replication_slots'), 'usedreplicationslots', (SELECT count(*) FROM pg_catalog.pg_replication_slots),
    'maxwalsenders', current_setting('max_wal_senders'), 'usedwalsenders', (SELECT count(*) FROM pg_catalog.pg_stat_replication))`

// wireSettings is pgcatalog.Settings as settingsJSON prints it: the maxima
// are settings (text), parsed as Direct parses them.
type wireSettings struct {
	ServerVersion, WALLevel              string
	MaxReplicationSlots, MaxWALSenders   string
	UsedReplicationSlots, UsedWALSenders int
}

func (w wireSettings) settings() pgcatalog.Settings {
	s := pgcatalog.Settings{ServerVersion: w.ServerVersion, WALLevel: w.WALLevel,
		UsedReplicationSlots: w.UsedReplicationSlots, UsedWALSenders: w.UsedWALSenders}
	s.MaxReplicationSlots, _ = strconv.Atoi(w.MaxReplicationSlots)
	s.MaxWALSenders, _ = strconv.Atoi(w.MaxWALSenders)
	return s
}

// ReplicationSettings reads the server's replication settings and their use.
func (v *InVPC) ReplicationSettings(ctx context.Context, db Database) (pgcatalog.Settings, error) {
	r, err := v.catalogCall(ctx, db, "reading the replication settings", func(n *names, s *script, side string) {
		s.step("settings", side, false, emitJSONSQL("settings", settingsJSON), stepOpts{})
	})
	if err != nil {
		return pgcatalog.Settings{}, err
	}
	var w wireSettings
	if err := readJSON(r, "settings", &w); err != nil {
		return pgcatalog.Settings{}, fmt.Errorf("%s database: reading the replication settings: %w", db.Side, err)
	}
	return w.settings(), nil
}

// catalogCall runs a script of steps on db's database.
func (v *InVPC) catalogCall(ctx context.Context, db Database, what string, build func(n *names, s *script, side string)) (result, error) {
	side, err := v.side(db)
	if err != nil {
		return result{}, err
	}
	n := &names{}
	s := newScript()
	build(n, s, side)
	if n.err != nil {
		return result{}, fmt.Errorf("%s database: %s: %w", db.Side, what, n.err)
	}
	r, _, err := v.run(ctx, db.Side+" database: "+what, s)
	return r, err
}

// likePattern is a DMS selection pattern as SQL LIKE: "%" the one wildcard,
// "_" and the escape character literal.
func likePattern(p string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`).Replace(p)
}

// isLOBSQL is pgcatalog.IsLOB over the format_type text l.t; Inspect checks
// that every column IsLOB names was measured.
const isLOBSQL = `(l.t IN ('text', 'bytea', 'json', 'jsonb', 'xml', 'character varying') OR l.t LIKE '%[]')`

// inspectSQL describes the schema's tables that the request may select (by
// LIKE over its patterns, or its exact names) as Direct does, lists every
// table name (the selection and the unmatched patterns are pgcatalog's, in
// Go, as Direct decides them), and with lobs measures the LOB columns of
// the described tables in one scan each (\gexec runs the query built per
// table).
func inspectSQL(n *names, req InspectRequest) string {
	schema := n.lit(req.Schema)
	var filter string
	if req.Tables != nil {
		lits := make([]string, len(req.Tables))
		for i, t := range req.Tables {
			lits[i] = n.lit(t)
		}
		filter = "c.relname = ANY (ARRAY[" + strings.Join(lits, ", ") + "]::text[])"
		if len(lits) == 0 {
			filter = "false"
		}
	} else {
		lits := make([]string, len(req.Patterns))
		for i, p := range req.Patterns {
			lits[i] = n.lit(likePattern(p))
		}
		filter = "c.relname LIKE ANY (ARRAY[" + strings.Join(lits, ", ") + "]::text[])"
		if len(lits) == 0 {
			filter = "false"
		}
	}
	tables := `SELECT c.oid, c.relname, c.reltuples FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
    WHERE ns.nspname = ` + schema + ` AND c.relkind IN ('r', 'p') AND NOT c.relispartition`
	selected := tables + ` AND ` + filter
	doc := `SELECT json_build_object(
  'settings', ` + settingsJSON + `,
  'names', (SELECT coalesce(json_agg(relname ORDER BY relname), '[]') FROM (` + tables + `) t),
  'tables', (SELECT coalesce(json_agg(json_build_object(
      'name', s.relname,
      'rows', greatest(0, trunc(s.reltuples))::int8,
      'columns', (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
            'notnull', a.attnotnull, 'default', coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), 'identity', a.attidentity::text,
            'generated', a.attgenerated <> '') ORDER BY a.attnum), '[]')
          FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped),
      'constraints', (SELECT coalesce(json_agg(json_build_object('name', conname, 'kind', contype::text, 'definition', pg_catalog.pg_get_constraintdef(oid),
            'references', coalesce(confrelid::regclass::text, '')) ORDER BY contype, conname), '[]')
          FROM pg_catalog.pg_constraint WHERE conrelid = s.oid AND contype IN ('p', 'u', 'f', 'c', 'x')),
      'indexes', (SELECT coalesce(json_agg(json_build_object('name', ic.relname, 'definition', pg_catalog.pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]')
          FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = s.oid
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid))
    ) ORDER BY s.relname), '[]') FROM (` + selected + `) s),
  'sequences', (SELECT coalesce(json_agg(json_build_object('name', c.relname, 'datatype', pg_catalog.format_type(s.seqtypid, NULL),
        'start', s.seqstart, 'increment', s.seqincrement, 'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle,
        'ownedby', coalesce((SELECT t.relname || '.' || a.attname
                 FROM pg_catalog.pg_depend dep
                 JOIN pg_catalog.pg_class t ON t.oid = dep.refobjid
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                 WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'a'
                 LIMIT 1), '')) ORDER BY c.relname), '[]')
      FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
      JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
      WHERE ns.nspname = ` + schema + `
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'i'))
)`
	sql := "SET search_path = '';\n" + emitJSONSQL("inspect", doc)
	if req.MeasureLOBs {
		// One query per described table with a LOB column; each prints its
		// sizes as a JSON object {column: bytes} (json_object takes arrays,
		// so no limit on the columns).
		sql += `
SELECT format('SELECT %L || replace(encode(convert_to(json_object(ARRAY[%s]::text[], ARRAY[%s]::text[])::text, %L), %L), chr(10), %L) FROM %I.%I',
    'TAPSTACK step=inspect-lob table=' || replace(encode(convert_to(s.relname, 'UTF8'), 'base64'), chr(10), '') || ' data=',
    string_agg(format('%L', l.attname), ', ' ORDER BY l.attnum),
    string_agg(format('coalesce(max(octet_length(%I%s)), 0)::text', l.attname, CASE WHEN l.t = 'bytea' THEN '' ELSE '::text' END), ', ' ORDER BY l.attnum),
    'UTF8', 'base64', '', ` + schema + `, s.relname)
FROM (` + selected + `) s
JOIN LATERAL (SELECT a.attname, a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod) AS t
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped) l ON true
WHERE ` + isLOBSQL + `
GROUP BY s.relname ORDER BY s.relname \gexec`
	}
	return sql
}

// wireCatalog is what inspectSQL prints.
type wireCatalog struct {
	Settings  wireSettings
	Names     []string
	Tables    []pgcatalog.Table
	Sequences []pgcatalog.Sequence
}

// Inspect describes the tables the request selects, in one task.
func (v *InVPC) Inspect(ctx context.Context, db Database, req InspectRequest) (pgcatalog.Catalog, error) {
	const what = "inspecting the catalog"
	r, err := v.catalogCall(ctx, db, what, func(n *names, s *script, side string) {
		s.step("inspect", side, false, inspectSQL(n, req), stepOpts{})
	})
	if err != nil {
		return pgcatalog.Catalog{}, err
	}
	fail := func(err error) (pgcatalog.Catalog, error) {
		return pgcatalog.Catalog{}, fmt.Errorf("%s database: %s: %w", db.Side, what, err)
	}
	var w wireCatalog
	if err := readJSON(r, "inspect", &w); err != nil {
		return fail(err)
	}
	cat := pgcatalog.Catalog{Schema: req.Schema, Settings: w.Settings.settings(), Sequences: w.Sequences}
	var selected []string
	if req.Tables != nil {
		for _, t := range req.Tables {
			if slices.Contains(w.Names, t) {
				selected = append(selected, t)
			}
		}
	} else {
		selected, cat.Unmatched = pgcatalog.Select(w.Names, req.Patterns)
	}
	lobs, err := lobSizes(r)
	if err != nil {
		return fail(err)
	}
	for _, name := range selected {
		i := slices.IndexFunc(w.Tables, func(t pgcatalog.Table) bool { return t.Name == name })
		if i < 0 {
			return fail(fmt.Errorf("table %s.%s is selected but was not described", req.Schema, name))
		}
		t := w.Tables[i]
		for c := range t.Constraints {
			if t.Constraints[c].References == "-" { // regclass of 0, as Direct reads it
				t.Constraints[c].References = ""
			}
		}
		for c := range t.Columns {
			t.Columns[c].MaxValueBytes = -1
			if !req.MeasureLOBs || !pgcatalog.IsLOB(t.Columns[c].Type) {
				continue
			}
			size, ok := lobs[name][t.Columns[c].Name]
			if !ok {
				return fail(fmt.Errorf("table %s.%s: LOB column %s was not measured", req.Schema, name, t.Columns[c].Name))
			}
			t.Columns[c].MaxValueBytes = size
		}
		cat.Tables = append(cat.Tables, t)
	}
	if cat.Sequences == nil {
		cat.Sequences = []pgcatalog.Sequence{}
	}
	return cat, nil
}

// lobSizes reads the inspect-lob lines: table -> column -> largest value.
func lobSizes(r result) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	for _, f := range r.lines["inspect-lob"] {
		table, err := base64.StdEncoding.DecodeString(f["table"])
		if err != nil {
			return nil, fmt.Errorf("step inspect-lob: table name: %w", err)
		}
		raw, err := base64.StdEncoding.DecodeString(f["data"])
		if err != nil {
			return nil, fmt.Errorf("step inspect-lob: %w", err)
		}
		var sizes map[string]string
		if err := json.Unmarshal(raw, &sizes); err != nil {
			return nil, fmt.Errorf("step inspect-lob: %w", err)
		}
		cols := map[string]int64{}
		for k, size := range sizes {
			n, err := strconv.ParseInt(size, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("step inspect-lob: table %s column %s: %w", table, k, err)
			}
			cols[k] = n
		}
		out[string(table)] = cols
	}
	return out, nil
}
