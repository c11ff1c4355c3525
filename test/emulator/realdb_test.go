package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// The tests here prove that the emulated RDS instances are real PostgreSQL
// servers and the emulated DMS task real logical replication: through the AWS
// SDK for the control plane and SQL (pgx) on both databases.

// startTask starts the task (start-replication, resume-processing or
// reload-target) and waits until it runs with its full load done.
func (s *replicationStack) startTask(t testing.TB, kind dmstypes.StartReplicationTaskTypeValue) replication.Task {
	t.Helper()
	ctx := context.Background()
	if _, err := s.dms.StartReplicationTask(ctx, &dms.StartReplicationTaskInput{
		ReplicationTaskArn: aws.String(s.taskARN()), StartReplicationTaskType: kind,
	}); err != nil {
		t.Fatal(err)
	}
	return poll(t, "task running with its full load done", func() (replication.Task, error) { return s.rc.Task(ctx, s.taskARN()) },
		func(tk replication.Task) bool {
			if tk.Status == "failed" {
				t.Fatalf("task failed: %s", tk.LastFailureMessage)
			}
			return tk.Status == "running" && replication.FullLoadDone(tk)
		})
}

func (s *replicationStack) stopTask(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := s.rc.StopTask(ctx, s.taskARN()); err != nil {
		t.Fatal(err)
	}
	poll(t, "task stopped", func() (replication.Task, error) { return s.rc.Task(ctx, s.taskARN()) },
		func(tk replication.Task) bool { return tk.Status == "stopped" })
}

// tableStats is DescribeTableStatistics for one table.
func (s *replicationStack) tableStats(t *testing.T, table string) dmstypes.TableStatistics {
	t.Helper()
	out, err := s.dms.DescribeTableStatistics(context.Background(), &dms.DescribeTableStatisticsInput{
		ReplicationTaskArn: aws.String(s.taskARN()),
		Filters:            []dmstypes.Filter{{Name: aws.String("table-name"), Values: []string{table}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TableStatistics) != 1 {
		t.Fatalf("statistics of %s: %+v", table, out.TableStatistics)
	}
	return out.TableStatistics[0]
}

func waitRows(t *testing.T, conn *pgx.Conn, what, sql string, want int64) time.Duration {
	t.Helper()
	began := time.Now()
	eventually(t, what, func() (bool, string) {
		n := queryInt(t, conn, sql)
		return n == want, fmt.Sprintf("%d, want %d", n, want)
	})
	return time.Since(began)
}

// TestReplicationMovesRows: the full load copies the rows, CDC streams
// changes, the statistics count them, stop/resume does not reload and
// reload-target does; DO_NOTHING keeps the target table the operator made.
func TestReplicationMovesRows(t *testing.T) {
	s := deployReplicationStack(t)
	src, dst := s.db(t, "source"), s.db(t, "target")
	createPaymentTables(t, src)
	// The operator creates the target schema itself (DO_NOTHING): with its
	// unique constraint and defaults.
	execSQL(t, dst, `CREATE TABLE payments (id bigint PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,
		amount_cents bigint NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'new', note text)`)

	began := time.Now()
	tk := s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)
	t.Logf("running with the full load done after %s: %+v", time.Since(began).Round(time.Millisecond), tk)
	if n := queryInt(t, dst, "select count(*) from payments"); n != 3 {
		t.Errorf("target payments after the full load: %d rows, want 3", n)
	}
	if n := queryInt(t, dst, "select count(*) from pg_constraint where conrelid = 'payments'::regclass and contype = 'u'"); n != 1 {
		t.Errorf("DO_NOTHING: target payments has %d unique constraints, want the operator's 1", n)
	}
	if d := queryText(t, dst, "select column_default from information_schema.columns where table_name = 'payments' and column_name = 'status'"); d != "'new'::text" {
		t.Errorf("DO_NOTHING: status default %q, want 'new'::text", d)
	}
	// A table DO_NOTHING had to create: columns and key only, like DMS.
	if n := queryInt(t, dst, "select count(*) from pg_constraint where conrelid = 'transactions'::regclass and contype = 'f'"); n != 0 {
		t.Errorf("created transactions table has %d foreign keys, want none", n)
	}

	// CDC: a row inserted on the source appears on the target.
	execSQL(t, src, "INSERT INTO payments (idempotency_key, amount_cents) VALUES ('cdc-1', 1), ('cdc-2', 2)")
	d := waitRows(t, dst, "CDC insert", "select count(*) from payments", 5)
	t.Logf("CDC: inserted rows visible on the target after %s", d.Round(time.Millisecond))
	execSQL(t, src, "UPDATE payments SET status = 'settled' WHERE idempotency_key = 'k1'")
	execSQL(t, src, "DELETE FROM payments WHERE idempotency_key = 'cdc-2'")
	waitRows(t, dst, "CDC update", "select count(*) from payments where status = 'settled'", 1)
	waitRows(t, dst, "CDC delete", "select count(*) from payments where idempotency_key = 'cdc-2'", 0)
	eventually(t, "applied-change counts", func() (bool, string) {
		st := s.tableStats(t, "payments")
		return st.Inserts == 2 && st.Updates == 1 && st.Deletes == 1 && st.FullLoadRows == 3,
			fmt.Sprintf("inserts %d updates %d deletes %d full-load rows %d", st.Inserts, st.Updates, st.Deletes, st.FullLoadRows)
	})

	// Stop: changes wait on the source; resume applies them without a reload.
	s.stopTask(t)
	execSQL(t, dst, "INSERT INTO payment_02 VALUES (100, 'only on the target')")
	execSQL(t, src, "INSERT INTO payment_01 VALUES (3, 'while stopped')")
	time.Sleep(1500 * time.Millisecond)
	if n := queryInt(t, dst, "select count(*) from payment_01"); n != 2 {
		t.Errorf("stopped task applied a change: payment_01 has %d rows on the target, want 2", n)
	}
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueResumeProcessing)
	waitRows(t, dst, "change made while stopped, after resume", "select count(*) from payment_01", 3)
	if n := queryInt(t, dst, "select count(*) from payment_02 where id = 100"); n != 1 {
		t.Error("resume-processing reloaded the target: the target-only row is gone")
	}
	if st := s.tableStats(t, "payment_01"); aws.ToBool(st.FullLoadReloaded) {
		t.Errorf("after resume: %+v, want not reloaded", st)
	}

	// Reload: the target tables are truncated and copied again.
	s.stopTask(t)
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueReloadTarget)
	waitRows(t, dst, "reloaded payment_02", "select count(*) from payment_02", 1)
	if n := queryInt(t, dst, "select count(*) from payment_02 where id = 100"); n != 0 {
		t.Error("reload-target kept the target-only row")
	}
	if n := queryInt(t, dst, "select count(*) from payments"); n != 4 {
		t.Errorf("after the reload the target has %d payments, want the source's 4", n)
	}
	eventually(t, "reloaded statistics", func() (bool, string) {
		st := s.tableStats(t, "payment_02")
		return aws.ToBool(st.FullLoadReloaded) && st.FullLoadRows == 1, fmt.Sprintf("%+v", st)
	})
}

// TestDropAndCreateLosesConstraints: DROP_AND_CREATE re-creates the target
// table with its primary key only, losing the unique constraint and defaults.
func TestDropAndCreateLosesConstraints(t *testing.T) {
	s := deployReplicationStackWith(t, map[string]string{"TargetTablePrepMode": "DROP_AND_CREATE"})
	src, dst := s.db(t, "source"), s.db(t, "target")
	createPaymentTables(t, src)
	execSQL(t, dst, `CREATE TABLE payments (id bigint PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,
		amount_cents bigint NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'new', note text)`)
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)
	if n := queryInt(t, dst, "select count(*) from pg_constraint where conrelid = 'payments'::regclass and contype = 'u'"); n != 0 {
		t.Errorf("DROP_AND_CREATE: %d unique constraints left, want none", n)
	}
	if n := queryInt(t, dst, "select count(*) from pg_constraint where conrelid = 'payments'::regclass and contype = 'p'"); n != 1 {
		t.Errorf("DROP_AND_CREATE: %d primary keys, want 1", n)
	}
	if d := queryText(t, dst, "select column_default from information_schema.columns where table_name = 'payments' and column_name = 'status'"); d != "<null>" {
		t.Errorf("DROP_AND_CREATE: status default %q, want none", d)
	}
	if n := queryInt(t, dst, "select count(*) from payments"); n != 3 {
		t.Errorf("target payments: %d rows, want 3", n)
	}
}

// TestValidationFailsOnlyForRealMismatches: a row changed by hand on the
// target ends as a validation failure, while a table that a workload writes
// to at about 1000 rows/s only shows pending records.
func TestValidationFailsOnlyForRealMismatches(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	if err := s.e.SetSampling(ctx, 500*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	src, dst := s.db(t, "source"), s.db(t, "target")
	createPaymentTables(t, src)
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)
	poll(t, "validated", func() ([]replication.TableStats, error) { return s.rc.TableStatistics(ctx, s.taskARN()) },
		func(st []replication.TableStats) bool { return replication.AggregateValidation(st, true).Validated })

	execSQL(t, dst, "UPDATE payments SET amount_cents = amount_cents + 1 WHERE idempotency_key = 'k3'")

	// The workload: ~1000 rows/s into payment_01 for 8 s, bounded.
	workload := s.db(t, "source")
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(8 * time.Second)
		for id := 1000; time.Now().Before(deadline); id += 50 {
			tick := time.Now()
			if _, err := workload.Exec(ctx, "INSERT INTO payment_01 SELECT g, 'w' FROM generate_series($1::int, $1::int + 49) g", id); err != nil {
				done <- err
				return
			}
			written.Add(50)
			time.Sleep(50*time.Millisecond - time.Since(tick))
		}
		done <- nil
	}()
	sawPending, mismatched := false, false
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		case <-time.After(300 * time.Millisecond):
		}
		pay, part := s.tableStats(t, "payments"), s.tableStats(t, "payment_01")
		if part.ValidationFailedRecords > 0 || aws.ToString(part.ValidationState) == "Mismatched records" {
			t.Fatalf("workload table reported failures: %s failed %d pending %d", aws.ToString(part.ValidationState), part.ValidationFailedRecords, part.ValidationPendingRecords)
		}
		if part.ValidationPendingRecords > 0 {
			sawPending = true
		}
		if aws.ToString(pay.ValidationState) == "Mismatched records" && pay.ValidationFailedRecords == 1 {
			mismatched = true
		}
	}
	t.Logf("workload wrote %d rows; pending seen on its table: %v; hand-changed row failed during it: %v", written.Load(), sawPending, mismatched)
	eventually(t, "hand-changed row as a validation failure", func() (bool, string) {
		st := s.tableStats(t, "payments")
		return aws.ToString(st.ValidationState) == "Mismatched records" && st.ValidationFailedRecords == 1,
			fmt.Sprintf("%s failed %d pending %d", aws.ToString(st.ValidationState), st.ValidationFailedRecords, st.ValidationPendingRecords)
	})
	eventually(t, "workload table validated once the workload stopped", func() (bool, string) {
		st := s.tableStats(t, "payment_01")
		return aws.ToString(st.ValidationState) == "Validated", fmt.Sprintf("%s pending %d failed %d", aws.ToString(st.ValidationState), st.ValidationPendingRecords, st.ValidationFailedRecords)
	})
	if !sawPending {
		t.Log("note: the workload's rows never showed as pending (replication kept up between rounds)")
	}
}

// TestLOBModes: limited LOB mode truncates a value over LobMaxSize, full LOB
// mode keeps it whole.
func TestLOBModes(t *testing.T) {
	for _, mode := range []struct {
		full string
		want int64
	}{{"false", 1024}, {"true", 5000}} {
		t.Run("FullLobMode="+mode.full, func(t *testing.T) {
			s := deployReplicationStackWith(t, map[string]string{"FullLobMode": mode.full, "LobMaxSize": "1"})
			src, dst := s.db(t, "source"), s.db(t, "target")
			createPaymentTables(t, src)
			execSQL(t, src, "UPDATE payments SET note = repeat('x', 5000) WHERE idempotency_key = 'k1'")
			s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)
			if n := queryInt(t, dst, "select length(note) from payments where idempotency_key = 'k1'"); n != mode.want {
				t.Errorf("full-load value: %d characters on the target, want %d", n, mode.want)
			}
			execSQL(t, src, "INSERT INTO payments (idempotency_key, note) VALUES ('lob', repeat('y', 5000))")
			waitRows(t, dst, "CDC row with a LOB", "select count(*) from payments where idempotency_key = 'lob'", 1)
			if n := queryInt(t, dst, "select length(note) from payments where idempotency_key = 'lob'"); n != mode.want {
				t.Errorf("CDC value: %d characters on the target, want %d", n, mode.want)
			}
		})
	}
}

// TestUnmatchedPatternFailsTask: a selection rule whose pattern matches no
// source table fails the task with a message naming it.
func TestUnmatchedPatternFailsTask(t *testing.T) {
	mappings := `{"rules":[{"rule-type":"selection","rule-id":"1","rule-name":"payments","object-locator":{"schema-name":"public","table-name":"payments"},"rule-action":"include"},` +
		`{"rule-type":"selection","rule-id":"2","rule-name":"ledgers","object-locator":{"schema-name":"public","table-name":"ledger_%"},"rule-action":"include"}]}`
	s := deployReplicationStackWith(t, map[string]string{"TableMappings": mappings})
	createPaymentTables(t, s.db(t, "source"))
	ctx := context.Background()
	if err := s.rc.StartTask(ctx, s.taskARN(), replication.StartReplication); err != nil {
		t.Fatal(err)
	}
	tk := poll(t, "task failed", func() (replication.Task, error) { return s.rc.Task(ctx, s.taskARN()) },
		func(tk replication.Task) bool { return tk.Status == "failed" })
	if !strings.Contains(tk.LastFailureMessage, "ledger_%") || !strings.Contains(tk.LastFailureMessage, "No tables were found") {
		t.Errorf("LastFailureMessage %q, want no tables found naming ledger_%%", tk.LastFailureMessage)
	}
	t.Logf("failure: %s", tk.LastFailureMessage)
}

// TestConnectionTestConnects: a connection test really connects through the
// endpoint's secret, and fails with the real error when it cannot.
func TestConnectionTestConnects(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	target := s.out["DmsTargetEndpointArn"]
	if err := s.rc.TestConnection(ctx, s.instanceARN(), target); err != nil {
		t.Fatal(err)
	}
	status := func() (dmstypes.Connection, error) {
		out, err := s.dms.DescribeConnections(ctx, &dms.DescribeConnectionsInput{
			Filters: []dmstypes.Filter{{Name: aws.String("endpoint-arn"), Values: []string{target}}},
		})
		if err != nil || len(out.Connections) != 1 {
			return dmstypes.Connection{}, fmt.Errorf("%+v %v", out, err)
		}
		return out.Connections[0], nil
	}
	c := poll(t, "connection test", status, func(c dmstypes.Connection) bool { return aws.ToString(c.Status) != "testing" })
	if aws.ToString(c.Status) != "successful" {
		t.Fatalf("connection test of a reachable target: %s %s", aws.ToString(c.Status), aws.ToString(c.LastFailureMessage))
	}
	// Wrong password in the secret: the real authentication error.
	sec := s.secret(t, "target")
	sec.Password = "wrong"
	value, _ := json.Marshal(map[string]any{"username": sec.Username, "password": sec.Password, "host": sec.Host, "port": sec.Port, "dbname": sec.DBName})
	if _, err := s.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.out["TargetSecretArn"]), SecretString: aws.String(string(value))}); err != nil {
		t.Fatal(err)
	}
	if err := s.rc.TestConnection(ctx, s.instanceARN(), target); err != nil {
		t.Fatal(err)
	}
	c = poll(t, "failing connection test", status, func(c dmstypes.Connection) bool { return aws.ToString(c.Status) != "testing" })
	if aws.ToString(c.Status) != "failed" || !strings.Contains(aws.ToString(c.LastFailureMessage), "password authentication failed") {
		t.Errorf("connection test with a wrong password: %s %q, want failed with the server's message", aws.ToString(c.Status), aws.ToString(c.LastFailureMessage))
	}
}

// TestServersGoWithTheStackAndTheEmulator: deleting the stack stops the
// servers and removes their directories; so does Close.
func TestServersGoWithTheStackAndTheEmulator(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	servers, err := s.e.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 2 {
		t.Fatalf("servers = %+v, want source and target", servers)
	}
	for _, srv := range servers {
		t.Logf("server %s: %s:%d, wal_level %s, created in %.2fs, data %s", srv.DBInstanceIdentifier, srv.Host, srv.Port, srv.WalLevel, srv.StartupSeconds, srv.DataDir)
		if _, err := os.Stat(srv.DataDir); err != nil || !srv.Running || !listening(srv.Host, srv.Port) {
			t.Errorf("server %+v: data dir %v, listening %v", srv, err, listening(srv.Host, srv.Port))
		}
	}
	want := map[string]string{"rds-source-repl": "logical", "rds-target-repl": "replica"}
	for _, srv := range servers {
		if srv.WalLevel != want[srv.DBInstanceIdentifier] || !srv.ForceSSL {
			t.Errorf("server %s: wal_level %s forceSsl %v, want %s and TLS forced", srv.DBInstanceIdentifier, srv.WalLevel, srv.ForceSSL, want[srv.DBInstanceIdentifier])
		}
	}
	// Started and running, so the task has a subscription to drop.
	createPaymentTables(t, s.db(t, "source"))
	s.startTask(t, dmstypes.StartReplicationTaskTypeValueStartReplication)

	if _, err := s.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("TapStackrepl")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "servers gone after the stack deletion", func() (bool, string) {
		left, err := s.e.Servers(ctx)
		return err == nil && len(left) == 0, fmt.Sprintf("%+v %v", left, err)
	})
	for _, srv := range servers {
		if _, err := os.Stat(srv.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: data dir still there (%v)", srv.DBInstanceIdentifier, err)
		}
		if listening(srv.Host, srv.Port) {
			t.Errorf("%s: port %d still listening", srv.DBInstanceIdentifier, srv.Port)
		}
	}

	// Close: a second emulator with its servers running.
	e, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	body, err := os.ReadFile("testdata/replication.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfn := cloudformation.NewFromConfig(sdkConfig(e))
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("TapStackclose"), TemplateBody: aws.String(string(body)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	servers, err = e.Servers(ctx)
	if err != nil || len(servers) != 2 {
		t.Fatalf("second emulator's servers: %+v %v", servers, err)
	}
	pid, root := e.Pid(), e.DatabaseRoot()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Close (kill -0: %v)", pid, err)
	}
	for _, srv := range servers {
		if listening(srv.Host, srv.Port) {
			t.Errorf("%s: port %d still listening after Close", srv.DBInstanceIdentifier, srv.Port)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database root %s still there after Close (%v)", root, err)
	}
}

func listening(host string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// TestBadParameterFailsCreate: a server that cannot start (an invalid
// parameter value) fails the instance with a reason naming it and the cause.
func TestBadParameterFailsCreate(t *testing.T) {
	requireCLI(t)
	e := StartT(t)
	const template = `{"Resources":{
	  "Params":{"Type":"AWS::RDS::DBParameterGroup","Properties":{"Description":"bad","Family":"postgres14",
	    "Parameters":{"max_connections":"lots"}}},
	  "Db":{"Type":"AWS::RDS::DBInstance","Properties":{"DBInstanceIdentifier":"rds-bad","Engine":"postgres",
	    "EngineVersion":"14.12","DBInstanceClass":"db.r5.large","AllocatedStorage":"20","DBName":"payments",
	    "MasterUsername":"admin1","MasterUserPassword":"secret-pw-123","DBParameterGroupName":{"Ref":"Params"}}}}}`
	run(t, e, nil, "cloudformation", "create-stack", "--stack-name", "TapStackbad", "--template-body", template)
	waitStack(t, e, "TapStackbad", "ROLLBACK_COMPLETE")
	var events []struct{ LogicalResourceId, ResourceStatus, ResourceStatusReason string }
	run(t, e, &events, "cloudformation", "describe-stack-events", "--stack-name", "TapStackbad", "--query", "StackEvents")
	reason := ""
	for _, ev := range events {
		if ev.LogicalResourceId == "Db" && ev.ResourceStatus == "CREATE_FAILED" {
			reason = ev.ResourceStatusReason
		}
	}
	if !strings.Contains(reason, "rds-bad") || !strings.Contains(reason, "max_connections") {
		t.Errorf("CREATE_FAILED reason %q, want the instance and the bad parameter named", reason)
	}
	t.Logf("CREATE_FAILED reason: %s", reason)
	if servers, err := e.Servers(context.Background()); err != nil || len(servers) != 0 {
		t.Errorf("servers after the failed create: %+v %v", servers, err)
	}
	expectCount(t, e, 0, "rds", "describe-db-instances", "--query", "DBInstances")
}

// TestStaticParameterUpdatePendsReboot: a stack update that changes a static
// parameter of the source's group makes the instance pending-reboot, the
// server keeps what it booted with, and the reboot applies the new value.
func TestStaticParameterUpdatePendsReboot(t *testing.T) {
	s := deployReplicationStack(t)
	ctx := context.Background()
	src := s.db(t, "source")
	if v := queryText(t, src, "select current_setting('max_wal_senders')"); v != "20" {
		t.Errorf("max_wal_senders = %s, want RDS's default 20", v)
	}
	body, err := os.ReadFile("testdata/replication.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const old = `        rds.logical_replication: "1"` + "\n"
	updated := strings.Replace(string(body), old, old+`        max_wal_senders: "25"`+"\n", 1)
	if updated == string(body) {
		t.Fatal("template has no rds.logical_replication line to extend")
	}
	if _, err := s.cfn.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String("TapStackrepl"),
		TemplateBody: aws.String(updated), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatal(err)
	}
	waiter := cloudformation.NewStackUpdateCompleteWaiter(s.cfn, func(o *cloudformation.StackUpdateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	if err := waiter.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("TapStackrepl")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	obs, err := s.rc.Preflight(ctx, s.targets())
	if err != nil {
		t.Fatal(err)
	}
	if obs.ParameterApplyStatus != "pending-reboot" {
		t.Errorf("after the update the apply status is %q, want pending-reboot", obs.ParameterApplyStatus)
	}
	if v := queryText(t, src, "select current_setting('max_wal_senders')"); v != "20" {
		t.Errorf("max_wal_senders before the reboot = %s, want still 20", v)
	}
	if err := s.rc.RebootDB(ctx, s.out["DbInstanceId"]); err != nil {
		t.Fatal(err)
	}
	poll(t, "reboot", func() (replication.PreflightObservation, error) { return s.rc.Preflight(ctx, s.targets()) },
		func(o replication.PreflightObservation) bool {
			return o.SourceDBStatus == "available" && o.ParameterApplyStatus == "in-sync"
		})
	if v := queryText(t, s.db(t, "source"), "select current_setting('max_wal_senders')"); v != "25" {
		t.Errorf("max_wal_senders after the reboot = %s, want 25", v)
	}
}
