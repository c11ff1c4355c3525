// Package awscfg loads AWS SDK configuration per region. The endpoint and the
// credentials come from the SDK's standard sources (AWS_ENDPOINT_URL,
// AWS_PROFILE, web identity, IMDS...), so the same binary runs against AWS or an
// emulator, and nothing secret passes through our code. Retries use the SDK's
// standard retryer (backoff, throttling handling) with the operator's attempt
// count, which takes the place of AWS_MAX_ATTEMPTS. Every call of every client
// built from the configuration is bounded by the operator's call timeout,
// from inside the SDK's middleware stack (see CallTimeout).
package awscfg

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/aws/smithy-go/traits"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// DefaultCallTimeout bounds every single AWS call when Options.CallTimeout is 0.
const DefaultCallTimeout = 30 * time.Second

// callTimeoutID names the timeout middleware in a client's stack, where a
// client that needs a longer bound replaces it (see CallTimeout).
const callTimeoutID = "PaymentMigrationCallTimeout"

// Options tune the configurations a Provider hands out.
type Options struct {
	// MaxAttempts of the SDK's standard retryer, which backs off on throttling
	// and transient errors. 0 means the SDK default (3).
	MaxAttempts int
	// S3PathStyle addresses buckets as https://endpoint/bucket, which emulators
	// and S3-compatible endpoints need; AWS itself uses virtual hosts.
	S3PathStyle bool
	// APIOptions are added to every client's middleware stack, e.g. the API
	// call counters of awsmetrics: instrumenting the configuration reaches
	// every client built from it.
	APIOptions []func(*middleware.Stack) error
	// CallTimeout bounds each API call of every client, the SDK's retries
	// included; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
}

// Provider loads one aws.Config per region and caches it: loading reads files
// and the environment and should not happen on every reconcile.
type Provider struct {
	opts Options

	mu      sync.Mutex
	configs map[string]aws.Config
}

// NewProvider returns a Provider.
func NewProvider(opts Options) *Provider {
	return &Provider{opts: opts, configs: map[string]aws.Config{}}
}

// S3PathStyle reports whether S3 clients must use path-style addressing.
func (p *Provider) S3PathStyle() bool { return p.opts.S3PathStyle }

// CallTimeout is the bound the configurations put on each API call.
func (p *Provider) CallTimeout() time.Duration {
	if p.opts.CallTimeout > 0 {
		return p.opts.CallTimeout
	}
	return DefaultCallTimeout
}

// Config returns the configuration of region.
func (p *Provider) Config(ctx context.Context, region string) (aws.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cfg, ok := p.configs[region]; ok {
		return cfg, nil
	}
	loadCtx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	// The timeout goes in first, so that the options after it (the metrics'
	// counters, added in front) see what it cut.
	apiOptions := append([]func(*middleware.Stack) error{CallTimeout(p.CallTimeout())}, p.opts.APIOptions...)
	cfg, err := config.LoadDefaultConfig(loadCtx,
		config.WithRegion(region),
		config.WithAPIOptions(apiOptions),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if p.opts.MaxAttempts > 0 {
					o.MaxAttempts = p.opts.MaxAttempts
				}
			})
		}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration for %s: %w", region, err)
	}
	p.configs[region] = cfg
	return cfg, nil
}

// CallTimeout returns an APIOptions entry that bounds each API call by d: the
// whole call, the retryer's attempts and back-off included, as one caller's
// call. A caller whose context ends sooner keeps its own, shorter deadline.
//
// Every configuration of a Provider carries it with Options.CallTimeout. A
// client whose calls legitimately take longer appends another to its own
// options, which replaces the configuration's, e.g.
//
//	s3.NewFromConfig(cfg, func(o *s3.Options) { o.APIOptions = append(o.APIOptions, awscfg.CallTimeout(2*d)) })
//
// The deadline ends when the call returns, so an operation whose output
// streams its body to the caller (S3 GetObject) cannot be read past it; the
// operator calls none.
func CallTimeout(d time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		bound := middleware.InitializeMiddlewareFunc(callTimeoutID,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			})
		if _, present := stack.Initialize.Get(callTimeoutID); present {
			_, err := stack.Initialize.Swap(callTimeoutID, bound)
			return err
		}
		return stack.Initialize.Add(bound, middleware.Before)
	}
}

// CloudWatchJSON makes a CloudWatch client speak AWS JSON 1.0, one of the three
// protocols CloudWatch serves (with Smithy RPC v2 CBOR, the SDK's default, and
// the query protocol). JSON is readable on the wire and understood by every
// CloudWatch emulator we test against, which CBOR is not yet.
func CloudWatchJSON(o *cloudwatch.Options) {
	o.Protocol = awsjson.New10(smithy.NewServiceSchema(
		smithy.NewSchema(smithy.ShapeID{Namespace: "com.amazonaws.cloudwatch", Name: "GraniteServiceVersion20100801"},
			smithy.ShapeTypeService, 0, &traits.AWSQueryCompatible{}),
		"2010-08-01"))
}
