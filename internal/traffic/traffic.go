// Package traffic is the seam between the cutover and DNS, after Flagger's
// router interface: the cutover says where traffic and writes go (Routes) and
// reads where they go now; it never builds a Route 53 change itself. That keeps
// the invariants of the design in one place (the service tier never at 0 % on
// both sides, the writer record at exactly one database, a change applied as a
// whole or not at all) and lets the cutover be tested against a fake Router.
package traffic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// MaxWeight is the largest weight Route 53 accepts on a weighted record.
const MaxWeight = 255

// ErrInvalidRoutes marks Routes that must never be applied.
var ErrInvalidRoutes = errors.New("invalid routes")

// Routes is where traffic and writes go.
type Routes struct {
	// SourceWeight and TargetWeight are the weighted records of the service tier.
	SourceWeight, TargetWeight int32
	// Writer is where the writer record points.
	Writer naming.Side
}

// Validate refuses routes that Route 53 would reject or that break the design.
// With weight 0 on every record of a name Route 53 answers with all of them in
// equal proportion, so 0/0 is not "no traffic" but an even split that no step
// of the cutover asked for. The writer record points at exactly one of the two
// databases, never at anything else.
func (r Routes) Validate() error {
	for _, w := range []struct {
		side   naming.Side
		weight int32
	}{{naming.Source, r.SourceWeight}, {naming.Target, r.TargetWeight}} {
		if w.weight < 0 || w.weight > MaxWeight {
			return fmt.Errorf("%w: %s weight %d outside 0-%d", ErrInvalidRoutes, w.side, w.weight, MaxWeight)
		}
	}
	if r.SourceWeight == 0 && r.TargetWeight == 0 {
		return fmt.Errorf("%w: weight 0 on both sides (Route 53 would split the service tier evenly)", ErrInvalidRoutes)
	}
	if r.Writer != naming.Source && r.Writer != naming.Target {
		return fmt.Errorf("%w: writer %q is neither %s nor %s", ErrInvalidRoutes, r.Writer, naming.Source, naming.Target)
	}
	return nil
}

func (r Routes) String() string {
	return fmt.Sprintf("weights %s %d / %s %d, writer %s", naming.Source, r.SourceWeight, naming.Target, r.TargetWeight, r.Writer)
}

// Router moves traffic and writes.
type Router interface {
	// GetRoutes reads the records as Route 53 has them now.
	GetRoutes(ctx context.Context) (Routes, error)
	// SetRoutes changes weights and the writer record in ONE change batch (atomic in
	// Route 53: resolvers never see a half-applied state) and waits until the change
	// is INSYNC (GetChange), bounded by ctx. Only what differs is sent; a call with the
	// routes already in place sends nothing and returns nil (idempotent).
	SetRoutes(ctx context.Context, r Routes) error
}

// Health is the target health check as Route 53's checkers see it.
type Health struct {
	// Checkers is how many checkers reported, Healthy how many of them saw the
	// endpoint healthy.
	Checkers, Healthy int
	// Observed is the time of the most recent report.
	Observed time.Time
	// Message states the counts for a condition message or an Event.
	Message string
}

// Majority reports whether most of the checkers that reported saw the endpoint
// healthy. Route 53 itself calls an endpoint healthy when more than 18 % of its
// checkers do; the cutover gate is stricter on purpose, since a minority of
// healthy checkers is more likely a failing endpoint than failing checkers. No
// report at all is not healthy.
func (h Health) Majority() bool { return h.Checkers > 0 && 2*h.Healthy > h.Checkers }

// HealthReader reads a health check.
type HealthReader interface {
	Health(ctx context.Context, healthCheckID string) (Health, error)
}
