package emulator

import (
	"context"
	"fmt"
	"time"
)

// SetHealthCheck makes GetHealthCheckStatus of the health check report that
// many checkers, the first healthy of them with "Success: ..." and the others
// with "Failure: ...". Without it the emulator reports one healthy checker.
func (e *Emulator) SetHealthCheck(ctx context.Context, id string, checkers, healthy int) error {
	if err := e.Control(ctx, "POST", "route53/health-check", map[string]any{
		"healthCheckId": id, "checkers": checkers, "healthy": healthy,
	}, nil); err != nil {
		return fmt.Errorf("setting health check %s to %d of %d healthy: %w", id, healthy, checkers, err)
	}
	return nil
}

// ResetHealthCheck brings the health check back to the emulator's default,
// one healthy checker.
func (e *Emulator) ResetHealthCheck(ctx context.Context, id string) error {
	if err := e.Control(ctx, "POST", "route53/health-check", map[string]any{"healthCheckId": id, "checkers": nil}, nil); err != nil {
		return fmt.Errorf("resetting health check %s: %w", id, err)
	}
	return nil
}

// SetChangePending sets how long each Route 53 record change submitted from
// now on stays PENDING before GetChange reports it INSYNC (default 0.5 s; 0
// answers INSYNC at once), e.g. to run into a freeze timeout.
func (e *Emulator) SetChangePending(ctx context.Context, d time.Duration) error {
	if err := e.Control(ctx, "POST", "route53/settings", map[string]any{"changePendingSeconds": d.Seconds()}, nil); err != nil {
		return fmt.Errorf("setting the Route 53 change propagation to %s: %w", d, err)
	}
	return nil
}
