package existingsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithy "github.com/aws/smithy-go"
)

// The AWS calls of a resolution, each one request (the clients carry the
// operator's per-call timeout).
type (
	RDSAPI interface {
		DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, optFns ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	}
	S3API interface {
		GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	}
	SecretsAPI interface {
		GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	}
)

// Reader reads what FromAWS and CheckSecret judge.
type Reader struct {
	RDS     RDSAPI
	S3      S3API
	Secrets SecretsAPI
}

// Instance is the DB instance id, or nil when the region has none of that id.
func (r *Reader) Instance(ctx context.Context, id string) (*Instance, error) {
	out, err := r.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var notFound *rdstypes.DBInstanceNotFoundFault
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing DB instance %s: %w", id, err)
	}
	if len(out.DBInstances) == 0 {
		return nil, nil
	}
	db := out.DBInstances[0]
	inst := &Instance{ID: aws.ToString(db.DBInstanceIdentifier), ARN: aws.ToString(db.DBInstanceArn),
		Engine: aws.ToString(db.Engine), Status: aws.ToString(db.DBInstanceStatus)}
	if db.Endpoint != nil {
		inst.Address, inst.Port = aws.ToString(db.Endpoint.Address), int64(aws.ToInt32(db.Endpoint.Port))
	}
	for _, g := range db.VpcSecurityGroups {
		inst.SecurityGroups = append(inst.SecurityGroups, aws.ToString(g.VpcSecurityGroupId))
	}
	if len(db.DBParameterGroups) > 0 {
		inst.ParameterGroup = aws.ToString(db.DBParameterGroups[0].DBParameterGroupName)
	}
	return inst, nil
}

// BucketRegion is the region of bucket name, "" when there is no such bucket.
func (r *Reader) BucketRegion(ctx context.Context, name string) (string, error) {
	out, err := r.S3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(name)})
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "NoSuchBucket" || api.ErrorCode() == "NotFound") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("locating bucket %s: %w", name, err)
	}
	if out.LocationConstraint == "" {
		return "us-east-1", nil // S3's encoding of the first region
	}
	return string(out.LocationConstraint), nil
}

// SecretKeys reads secret arn's JSON: the user name as it is, every other
// key only as "set", so that no password leaves this function.
func (r *Reader) SecretKeys(ctx context.Context, arn string) (map[string]string, error) {
	out, err := r.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", arn, err)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &fields); err != nil {
		return nil, fmt.Errorf("secret %s is not a JSON object", arn)
	}
	keys := map[string]string{}
	for k, v := range fields {
		switch s, _ := v.(string); {
		case k == "username":
			keys[k] = s
		case v != nil && v != "":
			keys[k] = "set"
		}
	}
	return keys, nil
}
