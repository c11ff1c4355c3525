package emulator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// The cutover's reverse path on real databases: a CDC-only task from the
// target back to the source that reads a test_decoding slot the operator
// created on the target, from the slot's LSN on.

// enableTargetLogicalReplication turns on rds.logical_replication in the
// target's parameter group and reboots it, as the preflight has it done.
func (s *replicationStack) enableTargetLogicalReplication(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	id := s.out["TargetDbInstanceId"]
	describe := func() (rdstypes.DBInstance, error) {
		out, err := s.rc.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil || len(out.DBInstances) != 1 {
			return rdstypes.DBInstance{}, fmt.Errorf("DescribeDBInstances %s: %+v %v", id, out, err)
		}
		return out.DBInstances[0], nil
	}
	db, err := describe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rds.NewFromConfig(sdkConfig(s.e)).ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{
		DBParameterGroupName: db.DBParameterGroups[0].DBParameterGroupName,
		Parameters: []rdstypes.Parameter{{ParameterName: aws.String("rds.logical_replication"),
			ParameterValue: aws.String("1"), ApplyMethod: rdstypes.ApplyMethodPendingReboot}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.rc.RebootDB(ctx, id); err != nil {
		t.Fatal(err)
	}
	poll(t, "target rebooted", describe, func(db rdstypes.DBInstance) bool { return aws.ToString(db.DBInstanceStatus) == "available" })
	if srv, err := s.e.Server(ctx, id); err != nil || srv.WalLevel != "logical" {
		t.Fatalf("target server after the reboot: %+v %v, want wal_level logical", srv, err)
	}
}

// createEndpoint makes a DMS endpoint on one side's database through its
// secret; slot names the source endpoint's replication slot (PluginName
// test_decoding), as the stack's reverse source endpoint has it.
func (s *replicationStack) createEndpoint(t *testing.T, id, side string, kind dmstypes.ReplicationEndpointTypeValue, slot string) string {
	t.Helper()
	settings := &dmstypes.PostgreSQLSettings{
		SecretsManagerSecretId: aws.String(s.out[map[string]string{"source": "SourceSecretArn", "target": "TargetSecretArn"}[side]]),
	}
	if slot != "" {
		settings.SlotName, settings.PluginName = aws.String(slot), dmstypes.PluginNameValueTestDecoding
	}
	out, err := s.dms.CreateEndpoint(context.Background(), &dms.CreateEndpointInput{
		EndpointIdentifier: aws.String(id), EndpointType: kind, EngineName: aws.String("postgres"),
		DatabaseName: aws.String("payments"), SslMode: dmstypes.DmsSslModeValueRequire, PostgreSQLSettings: settings,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Endpoint.EndpointArn)
}

// createReverseTask makes a CDC-only task (DO_NOTHING, the forward task's
// table mappings) from sourceEndpoint to targetEndpoint and waits until it is
// ready.
func (s *replicationStack) createReverseTask(t *testing.T, id, sourceEndpoint, targetEndpoint string) string {
	t.Helper()
	ctx := context.Background()
	forward := s.describeTask(t, s.taskARN())
	out, err := s.dms.CreateReplicationTask(ctx, &dms.CreateReplicationTaskInput{
		ReplicationTaskIdentifier: aws.String(id),
		MigrationType:             dmstypes.MigrationTypeValueCdc,
		ReplicationInstanceArn:    aws.String(s.instanceARN()),
		SourceEndpointArn:         aws.String(sourceEndpoint),
		TargetEndpointArn:         aws.String(targetEndpoint),
		TableMappings:             forward.TableMappings,
		ReplicationTaskSettings:   aws.String(`{"Logging":{"EnableLogging":true},"FullLoadSettings":{"TargetTablePrepMode":"DO_NOTHING"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ReplicationTask.ReplicationTaskArn)
	poll(t, id+" ready", func() (replication.Task, error) { return s.rc.Task(ctx, arn) },
		func(tk replication.Task) bool { return tk.Status == "ready" })
	return arn
}

func (s *replicationStack) describeTask(t *testing.T, arn string) dmstypes.ReplicationTask {
	t.Helper()
	out, err := s.dms.DescribeReplicationTasks(context.Background(), &dms.DescribeReplicationTasksInput{
		Filters: []dmstypes.Filter{{Name: aws.String("replication-task-arn"), Values: []string{arn}}},
	})
	if err != nil || len(out.ReplicationTasks) != 1 {
		t.Fatalf("DescribeReplicationTasks %s: %+v %v", arn, out, err)
	}
	return out.ReplicationTasks[0]
}

// startFrom starts a task with start-replication from this LSN and returns it
// once it left starting (running or failed).
func (s *replicationStack) startFrom(t *testing.T, arn, lsn string) replication.Task {
	t.Helper()
	ctx := context.Background()
	if _, err := s.dms.StartReplicationTask(ctx, &dms.StartReplicationTaskInput{
		ReplicationTaskArn:       aws.String(arn),
		StartReplicationTaskType: dmstypes.StartReplicationTaskTypeValueStartReplication,
		CdcStartPosition:         aws.String(lsn),
	}); err != nil {
		t.Fatal(err)
	}
	return poll(t, "task started", func() (replication.Task, error) { return s.rc.Task(ctx, arn) },
		func(tk replication.Task) bool { return tk.Status != "starting" })
}

func (s *replicationStack) waitStatus(t *testing.T, arn, status string) replication.Task {
	t.Helper()
	ctx := context.Background()
	return poll(t, "task "+status, func() (replication.Task, error) { return s.rc.Task(ctx, arn) },
		func(tk replication.Task) bool { return tk.Status == status })
}

func slotNames(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	return queryText(t, conn, "select coalesce(string_agg(slot_name, ',' order by slot_name), '') from pg_replication_slots")
}

// TestReverseReplicationFromSlot: the forward task runs, the operator creates
// a test_decoding slot on the target and writes there, the forward task stops
// and the reverse task starts from the slot's LSN: every target write after
// the slot reaches the source exactly once, none before it; a missing slot,
// and a slot older than the publication the emulation reads it through, fail
// the task with a message naming them.
func TestReverseReplicationFromSlot(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	s.enableTargetLogicalReplication(t)
	src, dst := s.db(t, "source"), s.db(t, "target")
	createPaymentTables(t, src)
	// The operator's copy of the schema on the target (no id default: the
	// writes there below name their ids).
	execSQL(t, dst, `CREATE TABLE payments (id bigint PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,
		amount_cents bigint NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'new', note text)`)

	toSource := s.createEndpoint(t, "dms-reverse-endpoint-source-repl", "source", dmstypes.ReplicationEndpointTypeValueTarget, "")
	const slot = "tapstack_reverse_repl"
	reverse := s.createReverseTask(t, "dms-reverse-task-repl",
		s.createEndpoint(t, "dms-reverse-endpoint-target-repl", "target", dmstypes.ReplicationEndpointTypeValueSource, slot), toSource)
	const early = "tapstack_reverse_early"
	earlyTask := s.createReverseTask(t, "dms-reverse-task-early",
		s.createEndpoint(t, "dms-reverse-endpoint-early", "target", dmstypes.ReplicationEndpointTypeValueSource, early), toSource)

	// A slot made before anything published the target's tables, and a write
	// after it: the failure the publication made by the forward task avoids.
	earlyLSN := queryText(t, dst, fmt.Sprintf("SELECT lsn::text FROM pg_create_logical_replication_slot('%s', 'test_decoding')", early))
	execSQL(t, dst, "INSERT INTO payments (id, idempotency_key) VALUES (900, 'before the publication')")

	// Forward: full load, then CDC.
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)
	execSQL(t, src, "INSERT INTO payments (idempotency_key, amount_cents) VALUES ('fwd-1', 10)")
	waitRows(t, dst, "forward CDC", "select count(*) from payments where idempotency_key = 'fwd-1'", 1)
	// The forward task keeps its own publication on the source; its tables
	// are also published on the target, for a slot made there later.
	if n := queryInt(t, src, `select count(*) from pg_publication_tables where pubname like 'dms\_%'`); n != int64(len(paymentTables)) {
		t.Errorf("forward publication on the source has %d tables, want %d", n, len(paymentTables))
	}
	if n := queryInt(t, dst, "select count(*) from pg_publication_tables where pubname = 'tapstack_dms_cdc'"); n != int64(len(paymentTables)) {
		t.Errorf("CDC publication on the target has %d tables, want %d", n, len(paymentTables))
	}

	// What pgoutput does with the early slot: the publication is younger.
	execSQL(t, dst, fmt.Sprintf("SELECT pg_copy_logical_replication_slot('%s', 'probe', false, 'pgoutput')", early))
	_, err := dst.Exec(ctx, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('probe', NULL, NULL, 'proto_version', '1', 'publication_names', 'tapstack_dms_cdc')")
	if err == nil || !strings.Contains(err.Error(), `publication "tapstack_dms_cdc" does not exist`) {
		t.Errorf("decoding the early slot through the later publication: %v, want publication does not exist", err)
	}
	execSQL(t, dst, "SELECT pg_drop_replication_slot('probe')")
	// The emulated task refuses that slot up front, naming the tables.
	tk := s.startFrom(t, earlyTask, earlyLSN)
	if tk.Status != "failed" || !strings.Contains(tk.LastFailureMessage, early) || !strings.Contains(tk.LastFailureMessage, "public.payments") ||
		!strings.Contains(tk.LastFailureMessage, "were not published") {
		t.Errorf("task on a slot older than the publication: %+v, want failed naming the slot and the tables", tk)
	}
	t.Logf("slot older than the publication: %s", tk.LastFailureMessage)
	if _, err := s.dms.DeleteReplicationTask(ctx, &dms.DeleteReplicationTaskInput{ReplicationTaskArn: aws.String(earlyTask)}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, dst, fmt.Sprintf("SELECT pg_drop_replication_slot('%s')", early))

	// The slot does not exist yet: the task fails naming it.
	tk = s.startFrom(t, reverse, queryText(t, dst, "select pg_current_wal_lsn()::text"))
	if tk.Status != "failed" || !strings.Contains(tk.LastFailureMessage, "'"+slot+"' does not exist") {
		t.Errorf("reverse task without its slot: %+v, want failed naming %s", tk, slot)
	}
	t.Logf("missing slot: %s", tk.LastFailureMessage)

	// A row only the target has, before the slot; then the flip point.
	execSQL(t, dst, "INSERT INTO payments (id, idempotency_key) VALUES (1000, 'before the slot')")
	lsn := queryText(t, dst, fmt.Sprintf("SELECT lsn::text FROM pg_create_logical_replication_slot('%s', 'test_decoding')", slot))
	t.Logf("slot %s at %s", slot, lsn)
	// Target writes after the slot, before the reverse task starts.
	execSQL(t, dst, `INSERT INTO payments (id, idempotency_key, amount_cents) VALUES (2001, 'rev-1', 1), (2002, 'rev-2', 2);
		UPDATE payments SET note = 'changed after the slot' WHERE idempotency_key = 'k1';
		DELETE FROM payments WHERE idempotency_key = 'k3'`)
	s.stopTask(t)

	began := time.Now()
	tk = s.startFrom(t, reverse, lsn)
	if tk.Status != "running" {
		t.Fatalf("reverse task: %+v, want running", tk)
	}
	t.Logf("reverse task running after %s", time.Since(began).Round(time.Millisecond))
	if got := aws.ToString(s.describeTask(t, reverse).CdcStartPosition); got != lsn {
		t.Errorf("CdcStartPosition = %q, want %q", got, lsn)
	}
	execSQL(t, dst, "INSERT INTO payments (id, idempotency_key, amount_cents) VALUES (2003, 'rev-3', 3)")

	waitRows(t, src, "target writes on the source", "select count(*) from payments where idempotency_key like 'rev-%'", 3)
	waitRows(t, src, "update after the slot", "select count(*) from payments where note = 'changed after the slot'", 1)
	waitRows(t, src, "delete after the slot", "select count(*) from payments where idempotency_key = 'k3'", 0)
	if n := queryInt(t, src, "select count(*) from payments where id in (900, 1000)"); n != 0 {
		t.Errorf("%d rows written on the target before the slot reached the source", n)
	}
	if n := queryInt(t, src, "select count(*) from payments"); n != 6 {
		t.Errorf("source holds %d payments, want 6 (k1, k2, fwd-1, rev-1..3)", n)
	}
	// Exactly once: a change applied twice would be a unique violation.
	if n := queryInt(t, src, "select coalesce(sum(apply_error_count + sync_error_count), 0) from pg_stat_subscription_stats"); n != 0 {
		t.Errorf("the reverse subscription had %d apply errors", n)
	}

	// Statistics and CDC latency as for the forward task.
	eventually(t, "reverse table statistics", func() (bool, string) {
		out, err := s.dms.DescribeTableStatistics(ctx, &dms.DescribeTableStatisticsInput{ReplicationTaskArn: aws.String(reverse),
			Filters: []dmstypes.Filter{{Name: aws.String("table-name"), Values: []string{"payments"}}}})
		if err != nil || len(out.TableStatistics) != 1 {
			return false, fmt.Sprintf("%+v %v", out, err)
		}
		st := out.TableStatistics[0]
		return aws.ToString(st.TableState) == "Table completed" && st.Inserts == 3 && st.Updates == 1 && st.Deletes == 1 && st.FullLoadRows == 0,
			fmt.Sprintf("%s inserts %d updates %d deletes %d full-load rows %d", aws.ToString(st.TableState), st.Inserts, st.Updates, st.Deletes, st.FullLoadRows)
	})
	if tk, err = s.rc.Task(ctx, reverse); err != nil || tk.Status != "running" || !replication.FullLoadDone(tk) {
		t.Errorf("reverse task = %+v, %v; want running with every table completed", tk, err)
	}
	taskID := reverse[strings.LastIndex(reverse, ":")+1:]
	lag := poll(t, "reverse lag", func() (replication.LagSample, error) { return s.rc.Lag(ctx, "dms-instance-repl", taskID) },
		func(l replication.LagSample) bool { return l.Source != nil && l.Target != nil })
	if *lag.Source < 0 || *lag.Source > 5 || *lag.Target < 0 || *lag.Target > 5 {
		t.Errorf("reverse lag = %v/%v, want a few seconds at most", *lag.Source, *lag.Target)
	}
	// The operator's slot is read as DMS reads it: its position moves on.
	eventually(t, "slot confirmed past the flip point", func() (bool, string) {
		n := queryInt(t, dst, "select count(*) from pg_replication_slots where slot_name = $1 and confirmed_flush_lsn > $2::pg_lsn", slot, lsn)
		return n == 1, slotNames(t, dst)
	})

	// Stop and resume: the subscription is disabled, then enabled again.
	if err := s.rc.StopTask(ctx, reverse); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, reverse, "stopped")
	execSQL(t, dst, "INSERT INTO payments (id, idempotency_key) VALUES (2004, 'rev-4')")
	time.Sleep(1500 * time.Millisecond)
	if n := queryInt(t, src, "select count(*) from payments where idempotency_key = 'rev-4'"); n != 0 {
		t.Error("the stopped reverse task applied a change")
	}
	if err := s.rc.StartTask(ctx, reverse, replication.ResumeProcessing); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, reverse, "running")
	waitRows(t, src, "change made while stopped, after resume", "select count(*) from payments where idempotency_key = 'rev-4'", 1)

	// Deleting the task drops the emulation's copy of the slot, not the operator's.
	if err := s.rc.StopTask(ctx, reverse); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, reverse, "stopped")
	if _, err := s.dms.DeleteReplicationTask(ctx, &dms.DeleteReplicationTaskInput{ReplicationTaskArn: aws.String(reverse)}); err != nil {
		t.Fatal(err)
	}
	if got := slotNames(t, dst); got != slot {
		t.Errorf("slots on the target after the reverse task's deletion: %q, want only %s", got, slot)
	}
	if n := queryInt(t, src, "select count(*) from pg_subscription where subname like 'dms_dms_reverse%'"); n != 0 {
		t.Errorf("%d reverse subscriptions left on the source", n)
	}
}
