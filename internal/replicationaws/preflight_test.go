package replicationaws_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

const (
	instanceARN = "arn:aws:dms:eu-west-1:123456789012:rep:INSTANCE"
	otherARN    = "arn:aws:dms:eu-west-1:123456789012:rep:OTHER"
	sourceEP    = "arn:aws:dms:eu-west-1:123456789012:endpoint:SOURCE"
	targetEP    = "arn:aws:dms:eu-west-1:123456789012:endpoint:TARGET"
)

var targets = replication.PreflightTargets{
	SourceDBInstanceID: "rds-source-pr1",
	ParameterGroup:     "pg-source-pr1",
	RoleNames:          []string{"dms-vpc-role", "dms-cloudwatch-logs-role"},
	InstanceARN:        instanceARN,
	Endpoints:          []replication.EndpointRef{{Side: "source", ARN: sourceEP}, {Side: "target", ARN: targetEP}},
}

const trustBoth = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["dms.amazonaws.com","dms.eu-west-1.amazonaws.com"]},"Action":"sts:AssumeRole"}]}`

func preflightFake(t *testing.T) *fakeAWS {
	f := newFake(t)
	f.dbs = map[string]rdstypes.DBInstance{"rds-source-pr1": {
		DBInstanceIdentifier: aws.String("rds-source-pr1"),
		DBInstanceStatus:     aws.String("available"),
		DBParameterGroups: []rdstypes.DBParameterGroupStatus{
			{DBParameterGroupName: aws.String("default.postgres14"), ParameterApplyStatus: aws.String("in-sync")},
			{DBParameterGroupName: aws.String("pg-source-pr1"), ParameterApplyStatus: aws.String("pending-reboot")},
		},
	}}
	// 150 parameters, ours on the second page: RDS cannot filter by name.
	var params []rdstypes.Parameter
	for i := range 150 {
		params = append(params, rdstypes.Parameter{ParameterName: aws.String(fmt.Sprintf("p%03d", i)), ParameterValue: aws.String("x")})
	}
	params[120] = rdstypes.Parameter{ParameterName: aws.String("rds.logical_replication"), ParameterValue: aws.String("1")}
	f.params = map[string][]rdstypes.Parameter{"pg-source-pr1": params}
	f.roles = map[string]string{"dms-vpc-role": url.QueryEscape(trustBoth), "dms-cloudwatch-logs-role": url.QueryEscape(trustBoth)}
	f.instances = map[string]string{instanceARN: "available"}
	f.connections = []dmstypes.Connection{
		{EndpointArn: aws.String(sourceEP), ReplicationInstanceArn: aws.String(otherARN), Status: aws.String("successful")},
		{EndpointArn: aws.String(sourceEP), ReplicationInstanceArn: aws.String(instanceARN), Status: aws.String("failed"), LastFailureMessage: aws.String("timeout")},
		{EndpointArn: aws.String(sourceEP), ReplicationInstanceArn: aws.String(otherARN), Status: aws.String("testing")},
	}
	return f
}

func TestPreflightMapsEveryField(t *testing.T) {
	f := preflightFake(t)
	got, err := f.client().Preflight(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	want := replication.PreflightObservation{
		SourceDBStatus:       "available",
		ParameterGroup:       "pg-source-pr1",
		ParameterApplyStatus: "pending-reboot",
		LogicalReplication:   "1",
		Roles: []replication.RoleCheck{
			{Name: "dms-vpc-role", Exists: true, TrustsDMS: true},
			{Name: "dms-cloudwatch-logs-role", Exists: true, TrustsDMS: true},
		},
		InstanceStatus: "available",
		Connections: []replication.Connection{
			// Our instance's test counts, whatever other instances found.
			{Side: "source", EndpointARN: sourceEP, Status: "failed", Message: "timeout"},
			{Side: "target", EndpointARN: targetEP},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Preflight =\n%+v\nwant\n%+v", got, want)
	}
	if f.paramsPages != 2 {
		t.Errorf("%d DescribeDBParameters pages, want 2", f.paramsPages)
	}
	if len(f.connFilters) != 1 || fmt.Sprint(f.connFilters[0]) != fmt.Sprint([]string{sourceEP, targetEP}) {
		t.Errorf("DescribeConnections filters %v, want one filter on both endpoints", f.connFilters)
	}
}

func TestPreflightAbsentThingsAreObservations(t *testing.T) {
	f := newFake(t)
	got, err := f.client().Preflight(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	want := replication.PreflightObservation{
		ParameterGroup: "pg-source-pr1",
		Roles:          []replication.RoleCheck{{Name: "dms-vpc-role"}, {Name: "dms-cloudwatch-logs-role"}},
		Connections: []replication.Connection{
			{Side: "source", EndpointARN: sourceEP},
			{Side: "target", EndpointARN: targetEP},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Preflight =\n%+v\nwant\n%+v", got, want)
	}
}

func TestPreflightTrustPolicies(t *testing.T) {
	stmt := func(principal, action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":` + action + `}]}`
	}
	tests := []struct {
		name   string
		doc    string // as IAM returns it
		exists bool
		trusts bool
	}{
		{"service as a string", url.QueryEscape(stmt(`{"Service":"dms.amazonaws.com"}`, `"sts:AssumeRole"`)), true, true},
		{"service as a list", url.QueryEscape(trustBoth), true, true},
		{"not URL-encoded", trustBoth, true, true},
		{"URL-encoded with %20", strings.ReplaceAll(url.QueryEscape(`{"Statement": {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": ["sts:AssumeRole"]}}`), "+", "%20"), true, true},
		{"single statement object", url.QueryEscape(`{"Statement":{"Effect":"Allow","Principal":{"Service":"dms.amazonaws.com"},"Action":"sts:AssumeRole"}}`), true, true},
		{"regional principal only", url.QueryEscape(stmt(`{"Service":"dms.eu-west-1.amazonaws.com"}`, `"sts:AssumeRole"`)), true, false},
		{"another service", url.QueryEscape(stmt(`{"Service":["ecs-tasks.amazonaws.com"]}`, `"sts:AssumeRole"`)), true, false},
		{"another action", url.QueryEscape(stmt(`{"Service":"dms.amazonaws.com"}`, `"sts:TagSession"`)), true, false},
		{"action list", url.QueryEscape(stmt(`{"Service":"dms.amazonaws.com"}`, `["sts:TagSession","sts:AssumeRole"]`)), true, true},
		{"an AWS principal", url.QueryEscape(stmt(`{"AWS":"arn:aws:iam::123456789012:root"}`, `"sts:AssumeRole"`)), true, false},
		{"denied", url.QueryEscape(`{"Statement":[` +
			`{"Effect":"Allow","Principal":{"Service":"dms.amazonaws.com"},"Action":"sts:AssumeRole"},` +
			`{"Effect":"Deny","Principal":{"Service":"dms.amazonaws.com"},"Action":"sts:AssumeRole"}]}`), true, false},
		{"not JSON", "%7Bnope", true, false},
		{"no such role", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.roles = map[string]string{}
			if tt.exists {
				f.roles["dms-vpc-role"] = tt.doc
			}
			in := replication.PreflightTargets{RoleNames: []string{"dms-vpc-role"}}
			got, err := f.client().Preflight(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			want := []replication.RoleCheck{{Name: "dms-vpc-role", Exists: tt.exists, TrustsDMS: tt.trusts}}
			if !reflect.DeepEqual(got.Roles, want) {
				t.Errorf("Roles = %+v, want %+v", got.Roles, want)
			}
		})
	}
}

// failingIAM denies every GetRole.
type failingIAM struct{ f *fakeAWS }

func (i failingIAM) GetRole(ctx context.Context, _ *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	i.f.record(ctx, "GetRole")
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform iam:GetRole"}
}

func TestPreflightErrorsAreWrapped(t *testing.T) {
	f := preflightFake(t)
	f.roles = nil
	c := f.client()
	c.IAM = failingIAM{f}
	_, err := c.Preflight(context.Background(), targets)
	if err == nil || !strings.Contains(err.Error(), "dms-vpc-role") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("Preflight error = %v, want the role and the cause", err)
	}
}

func TestTestConnection(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"started", nil, false},
		{"already testing", &dmstypes.InvalidResourceStateFault{Message: aws.String("Test connection is already in progress for the endpoint")}, false},
		{"being tested", &dmstypes.InvalidResourceStateFault{Message: aws.String("The connection is currently being tested")}, false},
		{"instance not available", &dmstypes.InvalidResourceStateFault{Message: aws.String("Replication instance is not in available state")}, true},
		{"no such endpoint", &dmstypes.ResourceNotFoundFault{Message: aws.String("Endpoint not found: test already gone")}, true},
		{"throttled", errors.New("ThrottlingException"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.testErr = tt.err
			err := f.client().TestConnection(context.Background(), instanceARN, sourceEP)
			if (err != nil) != tt.wantErr {
				t.Fatalf("TestConnection error = %v, want error %t", err, tt.wantErr)
			}
			if len(f.tested) != 1 || f.tested[0] != [2]string{instanceARN, sourceEP} {
				t.Errorf("TestConnection calls %v", f.tested)
			}
		})
	}
}

func TestRebootDB(t *testing.T) {
	f := newFake(t)
	if err := f.client().RebootDB(context.Background(), "rds-source-pr1"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.rebooted) != "[rds-source-pr1]" {
		t.Errorf("rebooted %v", f.rebooted)
	}
}
