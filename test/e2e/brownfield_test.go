package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/existingsource"
	"github.com/tapstack/payment-migration-operator/internal/workload"
)

// production is a source that exists before the migration: an RDS instance
// made with plain RDS calls (a real PostgreSQL server behind the emulator),
// its master secret as RDS manages it (user name and password only), the
// current service's own role and secret, a security group and a bucket.
type production struct {
	id, address, masterSecret, appSecret, appPassword, group, bucket string
	port                                                             int
	db                                                               *database
}

func createProduction(t *testing.T, id string) production {
	t.Helper()
	ctx := callCtx(t)
	rdsc, ec2c, sm := rds.NewFromConfig(awsCfg), ec2.NewFromConfig(awsCfg), secretsmanager.NewFromConfig(awsCfg)
	const master, masterPassword = "prodadmin", "prod-master-pw-1"
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("no VPC for the production database: %v", err)
	}
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(id + "-db"),
		Description: aws.String("production payments database"), VpcId: vpcs.Vpcs[0].VpcId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rdsc.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String(id + "-pg14"),
		DBParameterGroupFamily: aws.String("postgres14"), Description: aws.String("production")}); err != nil {
		t.Fatal(err)
	}
	if _, err := rdsc.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String(id + "-pg14"),
		Parameters: []rdstypes.Parameter{{ParameterName: aws.String("rds.logical_replication"), ParameterValue: aws.String("1"), ApplyMethod: rdstypes.ApplyMethodPendingReboot}}}); err != nil {
		t.Fatal(err)
	}
	inst, err := rdsc.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
		EngineVersion: aws.String("14"), DBInstanceClass: aws.String("db.r5.large"), AllocatedStorage: aws.Int32(100), DBName: aws.String("payments"),
		MasterUsername: aws.String(master), MasterUserPassword: aws.String(masterPassword), DBParameterGroupName: aws.String(id + "-pg14"),
		VpcSecurityGroupIds: []string{aws.ToString(sg.GroupId)}})
	if err != nil {
		t.Fatal(err)
	}
	p := production{id: id, group: aws.ToString(sg.GroupId), bucket: id + "-logs", appPassword: "prod-app-pw-1",
		address: aws.ToString(inst.DBInstance.Endpoint.Address), port: int(aws.ToInt32(inst.DBInstance.Endpoint.Port))}
	t.Cleanup(func() {
		_, _ = rdsc.DeleteDBInstance(callCtx(t), &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
	})
	secret := func(name string, fields map[string]any) string {
		b, _ := json.Marshal(fields)
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	p.masterSecret = secret("rds!db-"+id, map[string]any{"username": master, "password": masterPassword})
	p.appSecret = secret(id+"-app", map[string]any{"username": "payments_app", "password": p.appPassword, "host": p.address, "port": p.port})
	if _, err := s3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
		t.Fatal(err)
	}

	// The production schema and data, and the role the current service
	// writes as.
	p.db = &database{conn: workload.Conn{Host: p.address, Port: p.port, User: master, Password: masterPassword, Database: "payments", SSLMode: "require"}}
	if p.db.pool, err = workload.OpenPool(ctx, p.db.conn, 4); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.db.pool.Close)
	return p
}

// ackObjects are what the ACK controllers would show for the production
// database and bucket.
func ackObjects(t *testing.T, p production, name string) {
	t.Helper()
	for _, o := range []struct {
		gvk          schema.GroupVersionKind
		name         string
		spec, status map[string]any
	}{
		{existingsource.DBInstanceGVK, name + "-db", map[string]any{"dbInstanceIdentifier": p.id, "engine": "postgres", "dbInstanceClass": "db.r5.large"},
			map[string]any{
				"ackResourceMetadata": map[string]any{"arn": "arn:aws:rds:" + region + ":123456789012:db:" + p.id, "region": region, "ownerAccountID": "123456789012"},
				"endpoint":            map[string]any{"address": p.address, "port": int64(p.port)},
				"masterUserSecret":    map[string]any{"secretARN": p.masterSecret, "secretStatus": "active"},
				"vpcSecurityGroups":   []any{map[string]any{"vpcSecurityGroupID": p.group, "status": "active"}},
				"dbParameterGroups":   []any{map[string]any{"dbParameterGroupName": p.id + "-pg14", "parameterApplyStatus": "in-sync"}},
				"dbInstanceStatus":    "available",
				"conditions":          []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}},
			}},
		{existingsource.BucketGVK, name + "-logs", map[string]any{"name": p.bucket}, map[string]any{
			"ackResourceMetadata": map[string]any{"region": region, "ownerAccountID": "123456789012"},
			"conditions":          []any{map[string]any{"type": "ACK.ResourceSynced", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}},
		}},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": o.spec}}
		u.SetGroupVersionKind(o.gvk)
		u.SetNamespace("default")
		u.SetName(o.name)
		if err := k8s.Create(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(callCtx(t), u) })
		u.Object["status"] = o.status
		if err := k8s.Status().Update(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
}

// TestABrownfieldCutoverFromAnACKSource migrates a database the operator did
// not make: an ACK DBInstance whose endpoint is a real PostgreSQL server
// with production data and the current service writing to it as its own
// role. The stack creates only the target side; the cutover fences the
// production role; deleting the migration leaves the source as it was.
func TestABrownfieldCutoverFromAnACKSource(t *testing.T) {
	brownfieldCutover(t, "prodpayments", "brown1", paymentsv1alpha1.SQLRunnerDirect)
}

// TestABrownfieldCutoverThroughTheInVPCRunner is the same migration with the
// operator's SQL in one-off ECS tasks: the runner reaches the existing
// source at the address the operator resolved, with the user name and
// password of its RDS-managed secret.
func TestABrownfieldCutoverThroughTheInVPCRunner(t *testing.T) {
	brownfieldCutover(t, "prodinvpc", "brown2", paymentsv1alpha1.SQLRunnerInVPC)
}

func brownfieldCutover(t *testing.T, id, suffix string, runner paymentsv1alpha1.SQLRunnerMode) {
	p := createProduction(t, id)
	seeded, err := workload.Seed(callCtx(t), p.db.pool, workload.SeedOptions{Rows: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE ROLE payments_app LOGIN PASSWORD '" + p.appPassword + "'",
		"GRANT USAGE ON SCHEMA public TO payments_app",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO payments_app",
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO payments_app",
	} {
		p.db.exec(t, stmt)
	}
	ackObjects(t, p, id)

	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "brownfield-" + suffix, Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: suffix}}
	pm.Spec.SQLRunner.Mode = runner
	pm.Spec.Source = paymentsv1alpha1.SourceSpec{Type: paymentsv1alpha1.SourceACK, ApplicationSecretARN: p.appSecret, Port: int32(p.port),
		ACK: &paymentsv1alpha1.ACKSource{DBInstance: paymentsv1alpha1.ACKReference{Name: id + "-db"}, Bucket: paymentsv1alpha1.ACKReference{Name: id + "-logs"}}}
	pm.Spec.Traffic.RecordTTLSeconds = 1
	pm.Spec.Cutover.StepIntervalSeconds = 3
	pm.Spec.Cutover.Steps = []int32{50, 100}
	pm.Spec.Cutover.Gates.ConsecutiveLagSamples = 1
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	pm = waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
	})
	t.Logf("SourceReady: %s", findCond(pm, paymentsv1alpha1.ConditionSourceReady))
	out := pm.Status.Stack.Outputs
	if out["SourceDbInstanceId"] != p.id || out["SourceBucketName"] != p.bucket || out["SourceDbSecretArn"] != p.masterSecret {
		t.Errorf("the stack's source outputs %s, %s, %s are not the production instance, bucket and secret", out["SourceDbInstanceId"], out["SourceBucketName"], out["SourceDbSecretArn"])
	}
	target := openDatabase(t, out["TargetDbSecretArn"])
	waitFor(t, key, stackTimout, "Replicating with the gates passing", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return pm.Status.Phase == paymentsv1alpha1.PhaseReplicating && condStatus(pm, paymentsv1alpha1.ConditionCutoverReady) == metav1.ConditionTrue
	})

	// The current service: its own role and password, through the writer
	// record (the stack's service reads the same secret).
	conn := workload.Conn{Host: strings.TrimSuffix(out["WriterRecordName"], "."), Port: 5432, User: "payments_app", Password: p.appPassword,
		Database: "payments", SSLMode: "require", Resolver: writerResolver(t, out["HostedZoneId"], out["WriterRecordName"])}
	payments := startAppWorkload(t, conn, 200)
	time.Sleep(3 * time.Second)
	pm = approveUntilCompleted(t, key)
	time.Sleep(3 * time.Second)
	report := payments.stop(t)
	c := pm.Status.Cutover
	drain := "under 1ms"
	if c.Ledger.DrainMillis != nil {
		drain = fmt.Sprintf("%dms", *c.Ledger.DrainMillis)
	}
	t.Logf("brownfield (%s runner) freeze %dms; drain %s; write-unavailable window seen by the workload at 200/s: %s",
		runner, *c.FreezeMillis, drain, report.LongestUnavailable.Duration())
	ledger := seeded.Ledger
	ledger.Merge(report.Ledger)
	checkLedger(t, "target after the brownfield cutover", target, ledger)

	// The production role was fenced on the source, never replaced.
	var readOnly string
	if err := p.db.pool.QueryRow(callCtx(t), `SELECT coalesce((SELECT setting FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) setting
		WHERE s.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'payments_app') AND setting LIKE 'default_transaction_read_only%'), '')`).Scan(&readOnly); err != nil {
		t.Fatal(err)
	}
	if readOnly != "default_transaction_read_only=on" {
		t.Errorf("the production role on the source after the cutover: %q, want fenced", readOnly)
	}
	prodConn, err := pgx.Connect(callCtx(t), fmt.Sprintf("postgres://payments_app:%s@%s:%d/payments?sslmode=require", p.appPassword, p.address, p.port))
	if err != nil {
		t.Errorf("the production role no longer logs in with its own password: %v", err)
	} else {
		_ = prodConn.Close(callCtx(t))
	}

	// Deleting the migration (deletionPolicy Delete) leaves the source.
	deleteAndWait(t, key)
	if _, err := rds.NewFromConfig(awsCfg).DescribeDBInstances(callCtx(t), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(p.id)}); err != nil {
		t.Errorf("the production instance is gone after the migration's deletion: %v", err)
	}
	if n := p.db.count(t, "payments"); n < seeded.Seeded {
		t.Errorf("the production database holds %d payments after the deletion, %d were seeded", n, seeded.Seeded)
	}
	if _, err := s3Client().HeadBucket(callCtx(t), &s3.HeadBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
		t.Errorf("the production bucket is gone: %v", err)
	}
	if _, err := secretsmanager.NewFromConfig(awsCfg).DescribeSecret(callCtx(t), &secretsmanager.DescribeSecretInput{SecretId: aws.String(p.masterSecret)}); err != nil {
		t.Errorf("the production master secret is gone: %v", err)
	}
}

func findCond(pm *paymentsv1alpha1.PaymentMigration, condType string) string {
	for _, c := range pm.Status.Conditions {
		if c.Type == condType {
			return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		}
	}
	return "none"
}

// TestAPlainAWSSource: the same kind of production source, given by its AWS
// identifiers. Wrong identifiers create nothing and name the field; once
// they are right, the stack takes the instance, secret, group and bucket
// as its parameters.
func TestAPlainAWSSource(t *testing.T) {
	p := createProduction(t, "prodledger")
	p.db.exec(t, "CREATE ROLE payments_app LOGIN PASSWORD '"+p.appPassword+"'")
	pm := &paymentsv1alpha1.PaymentMigration{ObjectMeta: metav1.ObjectMeta{Name: "plainaws", Namespace: "default"},
		Spec: paymentsv1alpha1.PaymentMigrationSpec{EnvironmentSuffix: "plainaws"}}
	pm.Spec.Source = paymentsv1alpha1.SourceSpec{Type: paymentsv1alpha1.SourceAWS, ApplicationSecretARN: p.appSecret, Port: int32(p.port),
		AWS: &paymentsv1alpha1.AWSSource{DBInstanceIdentifier: p.id, MasterSecretARN: p.masterSecret, SecurityGroupID: "sg-0123456789abcdef0", BucketName: p.bucket}}
	if err := k8s.Create(t.Context(), pm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pm)
	t.Cleanup(func() { deleteAndWait(t, key) })
	pm = waitFor(t, key, time.Minute, "SourceReady False for the security group", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return strings.HasPrefix(findCond(pm, paymentsv1alpha1.ConditionSourceReady), "False SecurityGroupNotAttached: spec.source.aws.securityGroupID: ")
	})
	t.Logf("SourceReady: %s", findCond(pm, paymentsv1alpha1.ConditionSourceReady))
	if pm.Status.Stack != nil && pm.Status.Stack.ID != "" {
		t.Errorf("a stack was created for a source that is not usable: %s", pm.Status.Stack.ID)
	}

	mutate(t, key, func(pm *paymentsv1alpha1.PaymentMigration) { pm.Spec.Source.AWS.SecurityGroupID = p.group })
	pm = waitFor(t, key, stackTimout, "StackReady", func(pm *paymentsv1alpha1.PaymentMigration) bool {
		return condStatus(pm, paymentsv1alpha1.ConditionStackReady) == metav1.ConditionTrue
	})
	t.Logf("SourceReady: %s", findCond(pm, paymentsv1alpha1.ConditionSourceReady))
	out := pm.Status.Stack.Outputs
	if out["SourceDbInstanceId"] != p.id || out["SourceDbEndpoint"] != p.address || out["SourceBucketName"] != p.bucket || out["AppDbSecretArn"] != p.appSecret {
		t.Errorf("source outputs %v", out)
	}
	groups, err := ec2.NewFromConfig(awsCfg).DescribeSecurityGroups(callCtx(t), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{p.group}})
	if err != nil {
		t.Fatal(err)
	}
	var admitted []string
	for _, perm := range groups.SecurityGroups[0].IpPermissions {
		if aws.ToInt32(perm.FromPort) == int32(p.port) {
			for _, g := range perm.UserIdGroupPairs {
				admitted = append(admitted, aws.ToString(g.GroupId))
			}
		}
	}
	if len(admitted) != 2 {
		t.Errorf("the production group admits %v on port %d, want the stack's DMS and service groups", admitted, p.port)
	}
}
