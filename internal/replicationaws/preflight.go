package replicationaws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	dmstypes "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// logicalReplicationParameter is the RDS PostgreSQL parameter DMS CDC needs at 1.
const logicalReplicationParameter = "rds.logical_replication"

// Preflight gathers what the preflight checks read. Something absent (the
// database, the group, a role, the instance, a connection record) is an
// observation, left empty for the checks to report, not an error.
func (c *Client) Preflight(ctx context.Context, in replication.PreflightTargets) (replication.PreflightObservation, error) {
	obs := replication.PreflightObservation{ParameterGroup: in.ParameterGroup}
	var err error
	if obs.SourceDBStatus, obs.ParameterApplyStatus, err = c.sourceDB(ctx, in.SourceDBInstanceID, in.ParameterGroup); err != nil {
		return obs, err
	}
	if obs.LogicalReplication, err = c.parameter(ctx, in.ParameterGroup, logicalReplicationParameter); err != nil {
		return obs, err
	}
	for _, name := range in.RoleNames {
		role, err := c.role(ctx, name)
		if err != nil {
			return obs, err
		}
		obs.Roles = append(obs.Roles, role)
	}
	if obs.InstanceStatus, err = c.instanceStatus(ctx, in.InstanceARN); err != nil {
		return obs, err
	}
	if obs.Connections, err = c.connections(ctx, in.InstanceARN, in.Endpoints); err != nil {
		return obs, err
	}
	return obs, nil
}

// sourceDB returns the status of the instance and the apply status of the
// named parameter group on it.
func (c *Client) sourceDB(ctx context.Context, id, group string) (status, applyStatus string, err error) {
	if id == "" {
		return "", "", nil
	}
	out, err := c.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var notFound *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &notFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("describing DB instance %s: %w", id, err)
	}
	for _, db := range out.DBInstances {
		if !strings.EqualFold(aws.ToString(db.DBInstanceIdentifier), id) {
			continue
		}
		status = aws.ToString(db.DBInstanceStatus)
		for _, g := range db.DBParameterGroups {
			if aws.ToString(g.DBParameterGroupName) == group {
				applyStatus = aws.ToString(g.ParameterApplyStatus)
			}
		}
	}
	return status, applyStatus, nil
}

// parameter returns the value of a parameter in a DB parameter group. RDS does
// not filter DescribeDBParameters by name, so it pages until it finds it.
func (c *Client) parameter(ctx context.Context, group, name string) (string, error) {
	if group == "" {
		return "", nil
	}
	pages := rds.NewDescribeDBParametersPaginator(c.RDS, &rds.DescribeDBParametersInput{
		DBParameterGroupName: aws.String(group),
		MaxRecords:           aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		var notFound *rdstypes.DBParameterGroupNotFoundFault
		if errors.As(err, &notFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("describing parameters of DB parameter group %s: %w", group, err)
		}
		for _, p := range page.Parameters {
			if aws.ToString(p.ParameterName) == name {
				return aws.ToString(p.ParameterValue), nil
			}
		}
	}
	return "", nil
}

func (c *Client) role(ctx context.Context, name string) (replication.RoleCheck, error) {
	check := replication.RoleCheck{Name: name}
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var noSuch *iamtypes.NoSuchEntityException
	if errors.As(err, &noSuch) {
		return check, nil
	}
	if err != nil {
		return check, fmt.Errorf("reading IAM role %s: %w", name, err)
	}
	check.Exists = out.Role != nil
	if out.Role != nil {
		check.TrustsDMS = trustsService(aws.ToString(out.Role.AssumeRolePolicyDocument), dmsPrincipal)
	}
	return check, nil
}

func (c *Client) instanceStatus(ctx context.Context, arn string) (string, error) {
	if arn == "" {
		return "", nil
	}
	out, err := c.DMS.DescribeReplicationInstances(ctx, &dms.DescribeReplicationInstancesInput{
		Filters: []dmstypes.Filter{{Name: aws.String("replication-instance-arn"), Values: []string{arn}}},
	})
	var notFound *dmstypes.ResourceNotFoundFault
	if errors.As(err, &notFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describing replication instance %s: %w", arn, err)
	}
	for _, ri := range out.ReplicationInstances {
		if aws.ToString(ri.ReplicationInstanceArn) == arn {
			return aws.ToString(ri.ReplicationInstanceStatus), nil
		}
	}
	return "", nil
}

// connections returns one Connection per endpoint. An endpoint may have been
// tested from several replication instances; the test from ours is the one
// that counts, another instance's only when ours has none.
func (c *Client) connections(ctx context.Context, instanceARN string, endpoints []replication.EndpointRef) ([]replication.Connection, error) {
	if len(endpoints) == 0 {
		return nil, nil
	}
	arns := make([]string, 0, len(endpoints))
	for _, e := range endpoints {
		arns = append(arns, e.ARN)
	}
	found := map[string]dmstypes.Connection{}
	pages := dms.NewDescribeConnectionsPaginator(c.DMS, &dms.DescribeConnectionsInput{
		Filters:    []dmstypes.Filter{{Name: aws.String("endpoint-arn"), Values: arns}},
		MaxRecords: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		var notFound *dmstypes.ResourceNotFoundFault
		if errors.As(err, &notFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("describing DMS connections of %d endpoints: %w", len(arns), err)
		}
		for _, conn := range page.Connections {
			arn := aws.ToString(conn.EndpointArn)
			if _, seen := found[arn]; !seen || aws.ToString(conn.ReplicationInstanceArn) == instanceARN {
				found[arn] = conn
			}
		}
	}
	out := make([]replication.Connection, 0, len(endpoints))
	for _, e := range endpoints {
		conn := found[e.ARN]
		out = append(out, replication.Connection{
			Side:        e.Side,
			EndpointARN: e.ARN,
			Status:      aws.ToString(conn.Status),
			Message:     aws.ToString(conn.LastFailureMessage),
		})
	}
	return out, nil
}

// TestConnection starts a connection test from the instance to an endpoint. A
// test already running is what the caller wants, so DMS refusing a second one
// is not an error.
func (c *Client) TestConnection(ctx context.Context, instanceARN, endpointARN string) error {
	_, err := c.DMS.TestConnection(ctx, &dms.TestConnectionInput{
		ReplicationInstanceArn: aws.String(instanceARN),
		EndpointArn:            aws.String(endpointARN),
	})
	if err == nil || testAlreadyRunning(err) {
		return nil
	}
	return fmt.Errorf("testing the connection from %s to %s: %w", instanceARN, endpointARN, err)
}

// testAlreadyRunning recognises DMS refusing a test because one is in
// progress. DMS signals it with InvalidResourceStateFault, which it also uses
// for real problems (an instance not available), so the message decides; its
// wording is not documented, hence the loose match.
func testAlreadyRunning(err error) bool {
	var state *dmstypes.InvalidResourceStateFault
	if !errors.As(err, &state) {
		return false
	}
	msg := strings.ToLower(state.ErrorMessage())
	if !strings.Contains(msg, "test") {
		return false
	}
	for _, hint := range []string{"already", "in progress", "being tested", "currently testing"} {
		if strings.Contains(msg, hint) {
			return true
		}
	}
	return false
}

// RebootDB reboots an RDS instance, to apply a parameter pending a reboot.
func (c *Client) RebootDB(ctx context.Context, dbInstanceID string) error {
	if _, err := c.RDS.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(dbInstanceID)}); err != nil {
		return fmt.Errorf("rebooting DB instance %s: %w", dbInstanceID, err)
	}
	return nil
}
