package controllers

import (
	"context"

	paymentsv1alpha1 "github.com/tapstack/payment-migration-operator/api/v1alpha1"
	"github.com/tapstack/payment-migration-operator/internal/awsclients"
	"github.com/tapstack/payment-migration-operator/internal/tapstack"
)

// SynthesizeTapStack is the production Synthesizer.
func SynthesizeTapStack(spec paymentsv1alpha1.PaymentMigrationSpec, region string) (Rendered, error) {
	tpl, err := tapstack.Synthesize(spec, region)
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{Body: tpl.JSON(), Hash: tpl.Hash()}, nil
}

// AWSFromFactory adapts the real clients to the reconciler's interfaces.
func AWSFromFactory(f *awsclients.Factory) AWSFactory {
	return func(ctx context.Context, region string) (AWSClients, error) {
		set, err := f.For(ctx, region)
		if err != nil {
			return AWSClients{}, err
		}
		// One DMS client: the replication step and the deletion path share it.
		return AWSClients{Stacks: set.Stacks, Tasks: set.Replication, Buckets: set.Buckets, Replication: set.Replication, SQL: set.SQL,
			InVPC:       &InVPCClients{ECS: set.ECS, Logs: set.Logs, Poll: f.SQLRunnerPoll},
			PrefixLists: set.PrefixLists, Route53: set.Route53, Alarms: set.Alarms, Source: set.Source}, nil
	}
}
