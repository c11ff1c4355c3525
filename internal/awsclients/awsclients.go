// Package awsclients builds the operator's external AWS clients for a region,
// once per region, from the SDK's standard configuration. Every call of every
// client is bounded by the Provider's call timeout (awscfg.CallTimeout).
package awsclients

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	dms "github.com/aws/aws-sdk-go-v2/service/databasemigrationservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tapstack/payment-migration-operator/internal/awscfg"
	"github.com/tapstack/payment-migration-operator/internal/buckets"
	"github.com/tapstack/payment-migration-operator/internal/cfnstack"
	"github.com/tapstack/payment-migration-operator/internal/existingsource"
	"github.com/tapstack/payment-migration-operator/internal/prefixlists"
	"github.com/tapstack/payment-migration-operator/internal/replicationaws"
	"github.com/tapstack/payment-migration-operator/internal/sqlrunner"
)

// Set holds the clients of one region.
type Set struct {
	Stacks  *cfnstack.Client
	Buckets *buckets.Emptier
	// Replication is the region's DMS client (with CloudWatch, RDS and IAM),
	// shared by every migration of the region, which is what lets it batch
	// their task and latency reads; the deletion path stops tasks through it.
	Replication *replicationaws.Client
	// SQL runs the operator's SQL on the migration's databases, with the
	// credentials from their secrets in this region.
	SQL *sqlrunner.Direct
	// ECS and Logs run the in-VPC SQL runner's one-off tasks and read their
	// logs, for the migrations whose spec.sqlRunner.mode is InVPC.
	ECS  *ecs.Client
	Logs *cloudwatchlogs.Client
	// PrefixLists finds the region's AWS-managed prefix lists (EC2), whose
	// ids are template parameters; an id found is remembered.
	PrefixLists *prefixlists.Resolver
	// Route53 moves the cutover's records and reads health checks.
	Route53 *route53.Client
	// Alarms reads the stack's alarms (the cutover's alarm gate).
	Alarms replicationaws.Alarms
	// Source reads an existing source's instance, bucket and secrets.
	Source *existingsource.Reader
}

// Factory hands out one Set per region.
type Factory struct {
	// Provider holds the configuration, the call timeout included.
	Provider *awscfg.Provider
	// DBSSLMode is the sslmode of the operator's database sessions.
	DBSSLMode string
	// SQLRunnerPoll is how often the in-VPC SQL runner reads the state of
	// its running task (its default when 0).
	SQLRunnerPoll time.Duration
	// Lifetime ends the clients' background work (batched reads shared by
	// the migrations of a region) when it is done: the manager's context.
	Lifetime context.Context

	mu   sync.Mutex
	sets map[string]*Set
}

// For returns the clients of region.
func (f *Factory) For(ctx context.Context, region string) (*Set, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if set, ok := f.sets[region]; ok {
		return set, nil
	}
	cfg, err := f.Provider.Config(ctx, region)
	if err != nil {
		return nil, err
	}
	timeout := f.Provider.CallTimeout()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = f.Provider.S3PathStyle() })
	// Emptying a bucket deletes up to 1000 versions per DeleteObjects call,
	// which S3 may take longer than other calls to answer: its client gets
	// twice the timeout, for the calls of the Emptier only.
	emptierS3 := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = f.Provider.S3PathStyle()
		o.APIOptions = append(o.APIOptions, awscfg.CallTimeout(2*timeout))
	})
	set := &Set{
		Stacks: &cfnstack.Client{
			API:    cloudformation.NewFromConfig(cfg),
			Stager: &cfnstack.BucketStager{S3: s3c, STS: sts.NewFromConfig(cfg), Region: region},
		},
		Buckets: &buckets.Emptier{API: emptierS3},
		Replication: replicationaws.New(dms.NewFromConfig(cfg),
			cloudwatch.NewFromConfig(cfg, awscfg.CloudWatchJSON),
			rds.NewFromConfig(cfg),
			iam.NewFromConfig(cfg)),
		SQL:         &sqlrunner.Direct{Secrets: secretsmanager.NewFromConfig(cfg), SSLMode: f.DBSSLMode},
		ECS:         ecs.NewFromConfig(cfg),
		Logs:        cloudwatchlogs.NewFromConfig(cfg),
		PrefixLists: &prefixlists.Resolver{API: ec2.NewFromConfig(cfg), Region: region},
		Route53:     route53.NewFromConfig(cfg),
		Alarms:      replicationaws.Alarms{API: cloudwatch.NewFromConfig(cfg, awscfg.CloudWatchJSON)},
		Source:      &existingsource.Reader{RDS: rds.NewFromConfig(cfg), S3: s3c, Secrets: secretsmanager.NewFromConfig(cfg)},
	}
	if f.Lifetime != nil {
		set.Replication.StopWith(f.Lifetime)
	}
	if f.sets == nil {
		f.sets = map[string]*Set{}
	}
	f.sets[region] = set
	return set, nil
}
