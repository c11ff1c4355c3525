package sqlrunner

import (
	"context"
	"fmt"
	"strings"
)

// EnsureAppRole through the in-VPC runner. The password is the task's
// APP_PASSWORD, from the application secret, which the manager never reads:
// the script hands it to the master session as a startup option (base64,
// so that no character of it needs escaping there), never in a statement,
// and the session computes the SCRAM-SHA-256 verifier from it in PL/pgSQL
// as psql's \password and Direct do, so that only the verifier reaches
// ALTER ROLE. A password outside printable ASCII is passed as it is, for the
// server to normalize (SASLprep), as Direct passes it.
func (v *InVPC) EnsureAppRole(ctx context.Context, db Database, role AppRole) error {
	if err := v.app(role.SecretARN); err != nil {
		return fmt.Errorf("%s database: application role %s: %w", db.Side, role.Name, err)
	}
	if role.Name == "" {
		return fmt.Errorf("%s database: application role: no name", db.Side)
	}
	if role.Schema == "" {
		return fmt.Errorf("%s database: application role %s: no schema", db.Side, role.Name)
	}
	if role.Existing {
		// The production role of an existing source: checked, never altered
		// (Direct's checkExistingRole).
		_, err := v.catalogCall(ctx, db, "application role "+role.Name, func(n *names, s *script, side string) {
			s.step("app-role-check", side, false, existingRoleSQL(n, role), stepOpts{})
		})
		return err
	}
	_, err := v.catalogCall(ctx, db, "application role "+role.Name, func(n *names, s *script, side string) {
		s.raw(`export PGOPTIONS="-c tapstack.app_user=$(printf %s "$APP_USER" | base64 | tr -d '\n') -c tapstack.app_password=$(printf %s "$APP_PASSWORD" | base64 | tr -d '\n')"` + "\n")
		s.step("app-role", side, false, appRoleSQL(n, role.Name), stepOpts{})
		s.raw("unset PGOPTIONS\n")
		s.step("app-grants", side, false, appGrantsSQL(n, role), stepOpts{})
	})
	return err
}

// existingRoleSQL is checkExistingRole in one DO block.
func existingRoleSQL(n *names, role AppRole) string {
	tables := make([]string, len(role.Tables))
	for i, t := range role.Tables {
		tables[i] = n.lit(n.ident(role.Schema, t))
	}
	return `DO ` + dollarTag + `
DECLARE
  r_name text := ` + n.lit(role.Name) + `;
  tables text[] := ARRAY[` + strings.Join(tables, ", ") + `]::text[];
  r record; cannot text[] := '{}';
BEGIN
  SELECT rolsuper, rolcanlogin INTO r FROM pg_catalog.pg_roles WHERE rolname = r_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'application role % (spec.source.applicationSecretARN): no such role on the existing source; the current service must write as it', r_name;
  END IF;
  IF r.rolsuper THEN
    RAISE EXCEPTION 'application role % (spec.source.applicationSecretARN): a superuser, which the fence (default_transaction_read_only) cannot stop', r_name;
  END IF;
  IF NOT r.rolcanlogin THEN
    RAISE EXCEPTION 'application role % (spec.source.applicationSecretARN): cannot log in, so it is not the role the current service writes as', r_name;
  END IF;
  FOR i IN 1 .. coalesce(array_length(tables, 1), 0) LOOP
    IF NOT (has_table_privilege(r_name, tables[i], 'INSERT') AND has_table_privilege(r_name, tables[i], 'UPDATE')) THEN
      cannot := cannot || tables[i];
    END IF;
  END LOOP;
  IF array_length(cannot, 1) > 0 THEN
    RAISE EXCEPTION 'application role % (spec.source.applicationSecretARN): cannot insert into or update %; the operator does not change grants on an existing source', r_name, array_to_string(cannot, ', ');
  END IF;
END ` + dollarTag + `;`
}

// appRoleSQL is ensureLoginRole in one DO block.
func appRoleSQL(n *names, role string) string {
	return `DO ` + dollarTag + `
DECLARE
  r_name text := ` + n.lit(role) + `;
  app_user text := convert_from(decode(current_setting('tapstack.app_user'), 'base64'), 'UTF8');
  pw text := convert_from(decode(current_setting('tapstack.app_password'), 'base64'), 'UTF8');
  secret text;
  k bytea; ipad bytea; opad bytea; u bytea; acc bit(256); salted bytea; salt bytea;
  client_key bytea; server_key bytea;
  rec record; attrs text := 'LOGIN';
BEGIN
  IF app_user <> r_name THEN
    RAISE EXCEPTION 'application role "%": its secret names user "%"', r_name, app_user;
  END IF;
  IF current_user = r_name THEN
    RAISE EXCEPTION 'application role % is the master user; the service needs a role of its own, which the fence can stop without stopping the operator and DMS', r_name;
  END IF;
  IF pw = '' THEN
    RAISE EXCEPTION 'application role %: the password from its secret is empty', r_name;
  END IF;
  IF pw ~ '^[ -~]+$' THEN
    -- SCRAM-SHA-256 (RFC 5802, 7677) with PostgreSQL's 4096 iterations:
    -- HMAC-SHA-256 from sha256() and the key's pads.
    salt := decode(replace(gen_random_uuid()::text, '-', ''), 'hex');
    k := convert_to(pw, 'UTF8');
    IF length(k) > 64 THEN k := sha256(k); END IF;
    k := k || decode(repeat('00', 64 - length(k)), 'hex');
    ipad := k; opad := k;
    FOR i IN 0..63 LOOP
      ipad := set_byte(ipad, i, get_byte(k, i) # 54);
      opad := set_byte(opad, i, get_byte(k, i) # 92);
    END LOOP;
    u := sha256(opad || sha256(ipad || salt || decode('00000001', 'hex')));
    acc := ('x' || encode(u, 'hex'))::bit(256);
    FOR i IN 2..4096 LOOP
      u := sha256(opad || sha256(ipad || u));
      acc := acc # ('x' || encode(u, 'hex'))::bit(256);
    END LOOP;
    salted := decode((SELECT string_agg(lpad(to_hex(substring(acc FROM 8 * b + 1 FOR 8)::int), 2, '0'), '' ORDER BY b) FROM generate_series(0, 31) b), 'hex');
    k := salted || decode(repeat('00', 32), 'hex');
    ipad := k; opad := k;
    FOR i IN 0..63 LOOP
      ipad := set_byte(ipad, i, get_byte(k, i) # 54);
      opad := set_byte(opad, i, get_byte(k, i) # 92);
    END LOOP;
    client_key := sha256(opad || sha256(ipad || convert_to('Client Key', 'UTF8')));
    server_key := sha256(opad || sha256(ipad || convert_to('Server Key', 'UTF8')));
    secret := 'SCRAM-SHA-256' || chr(36) || '4096:' || encode(salt, 'base64') || chr(36) || encode(sha256(client_key), 'base64') || ':' || encode(server_key, 'base64');
  ELSE
    secret := pw;
  END IF;
  SELECT rolsuper, rolreplication, rolcreaterole, rolcreatedb INTO rec FROM pg_catalog.pg_roles WHERE rolname = r_name;
  IF NOT FOUND THEN
    BEGIN
      -- The attributes left out are all off by default.
      EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', r_name, secret);
    EXCEPTION WHEN duplicate_object THEN NULL; -- created concurrently
    END;
  ELSE
    -- Only the attributes that are wrong are named: PostgreSQL 15 refuses
    -- even NOSUPERUSER from a non-superuser (the RDS master user).
    IF rec.rolsuper THEN attrs := attrs || ' NOSUPERUSER'; END IF;
    IF rec.rolreplication THEN attrs := attrs || ' NOREPLICATION'; END IF;
    IF rec.rolcreaterole THEN attrs := attrs || ' NOCREATEROLE'; END IF;
    IF rec.rolcreatedb THEN attrs := attrs || ' NOCREATEDB'; END IF;
  END IF;
  EXECUTE format('ALTER ROLE %I WITH %s PASSWORD %L', r_name, attrs, secret);
END
` + dollarTag + `;`
}

// appGrantsSQL is grantApp in one DO block (one transaction): USAGE on the
// schema, the DML on the tables, and USAGE, SELECT, UPDATE on the sequences
// the tables use (owned by their serial or identity columns, or called by
// their defaults).
func appGrantsSQL(n *names, role AppRole) string {
	grantee := n.ident(role.Name)
	tables := make([]string, len(role.Tables))
	lits := make([]string, len(role.Tables))
	for i, t := range role.Tables {
		tables[i] = n.ident(role.Schema, t)
		lits[i] = n.lit(t)
	}
	sql := `DO ` + dollarTag + `
DECLARE seqs text;
BEGIN
  EXECUTE 'GRANT USAGE ON SCHEMA ' || ` + n.lit(n.ident(role.Schema)) + ` || ' TO ' || ` + n.lit(grantee) + `;`
	if len(role.Tables) > 0 {
		sql += `
  EXECUTE ` + n.lit("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "+strings.Join(tables, ", ")+" TO "+grantee) + `;
  SELECT string_agg(format('%I.%I', nspname, relname), ', ' ORDER BY nspname, relname) INTO seqs FROM (` + tableSequencesSQL + `
    WHERE tn.nspname = ` + n.lit(role.Schema) + ` AND t.relname = ANY (ARRAY[` + strings.Join(lits, ", ") + `]::text[])) x;
  IF seqs IS NOT NULL THEN
    EXECUTE 'GRANT USAGE, SELECT, UPDATE ON SEQUENCE ' || seqs || ' TO ' || ` + n.lit(grantee) + `;
  END IF;`
	}
	return sql + `
END
` + dollarTag + `;`
}
