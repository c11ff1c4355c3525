package pgcatalog

import (
	"slices"
	"strings"
	"testing"
)

func payments() Table {
	return Table{
		Name: "payments",
		Columns: []Column{
			{Name: "id", Type: "bigint", NotNull: true, Default: "nextval('public.payments_id_seq'::regclass)"},
			{Name: "idempotency_key", Type: "text", NotNull: true},
			{Name: "method_id", Type: "bigint"},
			{Name: "order", Type: "integer"},
		},
		Constraints: []Constraint{
			{Name: "payments_pkey", Kind: PrimaryKey, Definition: "PRIMARY KEY (id)"},
			{Name: "payments_idempotency_key_key", Kind: Unique, Definition: "UNIQUE (idempotency_key)"},
			{Name: "payments_method_id_fkey", Kind: ForeignKey, Definition: "FOREIGN KEY (method_id) REFERENCES public.payment_methods(id)", References: "public.payment_methods"},
		},
		Indexes: []Index{{Name: "payments_order_idx", Definition: `CREATE INDEX payments_order_idx ON public.payments USING btree ("order")`}},
	}
}

func methods() Table {
	return Table{
		Name: "payment_methods",
		Columns: []Column{
			{Name: "id", Type: "bigint", NotNull: true, Identity: "a"},
			{Name: "kind", Type: "text", NotNull: true},
			{Name: "kind_upper", Type: "text", Generated: true, Default: "upper(kind)"},
		},
		Constraints: []Constraint{{Name: "payment_methods_pkey", Kind: PrimaryKey, Definition: "PRIMARY KEY (id)"}},
	}
}

func source(tables ...Table) Catalog {
	return Catalog{Schema: "public", Tables: tables, Sequences: []Sequence{
		{Name: "payments_id_seq", DataType: "bigint", Start: 1, Increment: 1, Min: 1, Max: 9223372036854775807, Cache: 1, OwnedBy: "payments.id"},
		{Name: "unrelated_seq", DataType: "integer", Start: 1, Increment: 1, Min: 1, Max: 2147483647, Cache: 1},
	}}
}

func TestPlanCreatesMissingTablesInAnOrderThatRuns(t *testing.T) {
	plan := PlanTarget(source(payments(), methods()), Catalog{Schema: "public"})
	if len(plan.Problems) != 0 || !slices.Equal(plan.Create, []string{"payments", "payment_methods"}) {
		t.Fatalf("plan %+v", plan)
	}
	want := []string{
		"CREATE SCHEMA IF NOT EXISTS public",
		"CREATE SEQUENCE public.payments_id_seq AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1",
		"CREATE TABLE public.payments (\n  id bigint DEFAULT nextval('public.payments_id_seq'::regclass) NOT NULL,\n  idempotency_key text NOT NULL,\n  method_id bigint,\n  \"order\" integer\n)",
		"ALTER TABLE public.payments ADD CONSTRAINT payments_pkey PRIMARY KEY (id)",
		"ALTER TABLE public.payments ADD CONSTRAINT payments_idempotency_key_key UNIQUE (idempotency_key)",
		`CREATE INDEX payments_order_idx ON public.payments USING btree ("order")`,
		"CREATE TABLE public.payment_methods (\n  id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n  kind text NOT NULL,\n  kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED\n)",
		"ALTER TABLE public.payment_methods ADD CONSTRAINT payment_methods_pkey PRIMARY KEY (id)",
		// Ownership and foreign keys last: their tables exist by then.
		"ALTER SEQUENCE public.payments_id_seq OWNED BY public.payments.id",
		"ALTER TABLE public.payments ADD CONSTRAINT payments_method_id_fkey FOREIGN KEY (method_id) REFERENCES public.payment_methods(id)",
	}
	if !slices.Equal(plan.Statements, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(plan.Statements, ";\n"), strings.Join(want, ";\n"))
	}
}

func TestPlanKeepsMatchingTablesAndRefusesWhatCannotReplicate(t *testing.T) {
	noKey := Table{Name: "ledger_lines", Columns: []Column{{Name: "line", Type: "text"}}}
	orphan := payments()
	orphan.Name = "refunds"
	dmsCreated := payments() // what DMS creates: columns and the primary key only
	dmsCreated.Columns[0].Default = ""
	dmsCreated.Constraints = dmsCreated.Constraints[:1]
	dmsCreated.Indexes = nil
	extra := payments()
	extra.Columns = append(extra.Columns, Column{Name: "note", Type: "text"})
	extra.Indexes[0].Name = "renamed_idx" // a name alone is no difference
	extra.Indexes[0].Definition = strings.Replace(extra.Indexes[0].Definition, "payments_order_idx", "renamed_idx", 1)
	retyped := payments()
	retyped.Columns[1].Type = "character varying(64)"

	for _, tc := range []struct {
		name     string
		source   []Table
		target   []Table
		problems []string // table: reason substrings
		matching []string
	}{
		{name: "identical tables are left alone", source: []Table{payments(), methods()}, target: []Table{payments(), methods()}, matching: []string{"payments", "payment_methods"}},
		{name: "no primary key", source: []Table{methods(), noKey}, problems: []string{"ledger_lines: no primary key"}},
		{name: "foreign key to a table not replicated", source: []Table{orphan}, problems: []string{"refunds: foreign key payments_method_id_fkey references public.payment_methods, which the task does not replicate"}},
		{name: "a DMS-created table lost its unique key and default", source: []Table{payments(), methods()}, target: []Table{dmsCreated},
			problems: []string{"payments: exists on the target and differs from the source: column id defaults to nextval('public.payments_id_seq'::regclass) on the source, nothing on the target; constraint foreign key payments_method_id_fkey missing",
				"unique constraint payments_idempotency_key_key missing (UNIQUE (idempotency_key))", "index payments_order_idx missing"}},
		{name: "an extra column", source: []Table{payments(), methods()}, target: []Table{extra}, problems: []string{"payments: exists on the target and differs from the source: column note is not on the source; drop it"}},
		{name: "a changed type", source: []Table{payments(), methods()}, target: []Table{retyped}, problems: []string{"column idempotency_key is text on the source, character varying(64) on the target"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := PlanTarget(source(tc.source...), Catalog{Schema: "public", Tables: tc.target})
			var got []string
			for _, p := range plan.Problems {
				got = append(got, p.String())
			}
			all := strings.Join(got, "\n")
			for _, want := range tc.problems {
				if !strings.Contains(all, want) {
					t.Errorf("problems do not say %q:\n%s", want, all)
				}
			}
			if len(tc.problems) == 0 && len(got) > 0 {
				t.Errorf("unexpected problems:\n%s", all)
			}
			if len(tc.problems) > 0 && (len(plan.Statements) > 0 || len(plan.Create) > 0) {
				t.Errorf("a plan with problems creates nothing, got %v", plan.Statements)
			}
			if !slices.Equal(plan.Matching, tc.matching) {
				t.Errorf("matching %v, want %v", plan.Matching, tc.matching)
			}
		})
	}
}

func TestQuoteIdentQuotesOnlyWhatNeedsIt(t *testing.T) {
	for in, want := range map[string]string{
		"payments": "payments", "payment_methods": "payment_methods", "t1": "t1", "_x": "_x",
		"order": `"order"`, "Payments": `"Payments"`, "1st": `"1st"`, `we"ird`: `"we""ird"`, "": `""`, "with space": `"with space"`,
	} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestIsLOBFollowsDMSTypeMapping(t *testing.T) {
	for typ, want := range map[string]bool{"text": true, "bytea": true, "jsonb": true, "json": true, "xml": true, "character varying": true,
		"text[]": true, "character varying(64)": false, "bigint": false, "character(3)": false, "timestamp with time zone": false, "numeric": false} {
		if IsLOB(typ) != want {
			t.Errorf("IsLOB(%q) = %v", typ, !want)
		}
	}
}
