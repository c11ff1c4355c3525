package traffic

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/tapstack/payment-migration-operator/internal/naming"
)

// Defaults of the Route53 tuning fields.
const (
	// DefaultPollInterval between GetChange calls. Route 53 usually reports
	// INSYNC within seconds; the freeze waits on it, so poll often.
	DefaultPollInterval = time.Second
	// DefaultCallTimeout bounds one AWS call when Route53.CallTimeout is 0.
	DefaultCallTimeout = 15 * time.Second
)

var (
	// ErrRecordNotFound: a record the router moves is not in the zone. The
	// stack creates them; the router never does, since a record it had to
	// create would carry none of the stack's settings.
	ErrRecordNotFound = errors.New("record not found")
	// ErrUnknownWriter: the writer record points at neither database.
	ErrUnknownWriter = errors.New("writer record points at neither database")
)

// Route53API is the part of the Route 53 client this package calls.
type Route53API interface {
	ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(context.Context, *route53.ChangeResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(context.Context, *route53.GetChangeInput, ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	GetHealthCheckStatus(context.Context, *route53.GetHealthCheckStatusInput, ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error)
}

// Route53 is the Router and HealthReader of one stack's hosted zone.
type Route53 struct {
	API Route53API
	// ZoneID is the private hosted zone (with or without the /hostedzone/ prefix).
	ZoneID string
	// WeightedName is the service tier's name, <recordName>.<zone>.: two
	// weighted A records with the set identifiers "source" and "target".
	WeightedName string
	// WriterName is the writer record, <writerRecordName>.<zone>.: one CNAME.
	WriterName string
	// WriterTTL in seconds, written with every change of the writer record.
	WriterTTL int64
	// WriterTargets are the DB endpoint addresses the writer record points at.
	WriterTargets map[naming.Side]string
	// PollInterval between GetChange calls; 0 means DefaultPollInterval.
	PollInterval time.Duration
	// CallTimeout bounds each AWS call; 0 means DefaultCallTimeout. The SDK
	// client may bound calls too (awscfg.CallTimeout); this one holds whatever
	// client the router is given, and the caller's context may be as long as
	// the whole freeze.
	CallTimeout time.Duration
}

var (
	_ Router       = (*Route53)(nil)
	_ HealthReader = (*Route53)(nil)
)

// state is what the router reads before it decides anything: the records as
// Route 53 has them, kept whole so an UPSERT changes only what it means to.
type state struct {
	weighted map[naming.Side]types.ResourceRecordSet
	writer   types.ResourceRecordSet
}

// GetRoutes reads the records as Route 53 has them now.
func (r *Route53) GetRoutes(ctx context.Context) (Routes, error) {
	if err := r.check(); err != nil {
		return Routes{}, err
	}
	st, err := r.read(ctx)
	if err != nil {
		return Routes{}, err
	}
	writer, err := r.writerSide(st.writer)
	if err != nil {
		return Routes{}, err
	}
	return Routes{
		SourceWeight: int32(aws.ToInt64(st.weighted[naming.Source].Weight)),
		TargetWeight: int32(aws.ToInt64(st.weighted[naming.Target].Weight)),
		Writer:       writer,
	}, nil
}

// SetRoutes applies want in one change batch and waits for INSYNC. A retry
// after any failure (a timeout included, when the change may have gone
// through) is safe: the records are read again and only what still differs is
// sent.
func (r *Route53) SetRoutes(ctx context.Context, want Routes) error {
	if err := want.Validate(); err != nil {
		return err
	}
	if err := r.check(); err != nil {
		return err
	}
	st, err := r.read(ctx)
	if err != nil {
		return err
	}
	changes := r.changes(st, want)
	if len(changes) == 0 {
		return nil
	}
	callCtx, cancel := r.call(ctx)
	out, err := r.API.ChangeResourceRecordSets(callCtx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(r.ZoneID),
		ChangeBatch: &types.ChangeBatch{
			Changes: changes,
			Comment: aws.String("payment migration: " + want.String()),
		},
	})
	cancel()
	if err != nil {
		return fmt.Errorf("changing records of zone %s to %s: %w", r.ZoneID, want, err)
	}
	if out.ChangeInfo == nil || out.ChangeInfo.Id == nil {
		return fmt.Errorf("changing records of zone %s to %s: the response names no change", r.ZoneID, want)
	}
	if out.ChangeInfo.Status == types.ChangeStatusInsync {
		return nil
	}
	return r.awaitInsync(ctx, aws.ToString(out.ChangeInfo.Id), want)
}

// changes are the UPSERTs that take st to want: each a copy of the record as
// read, so the alias target, health check id, TTL and anything Route 53 adds
// later are sent back as they are.
func (r *Route53) changes(st state, want Routes) []types.Change {
	var changes []types.Change
	for _, side := range naming.Sides {
		weight := int64(want.SourceWeight)
		if side == naming.Target {
			weight = int64(want.TargetWeight)
		}
		rec := st.weighted[side]
		if rec.Weight != nil && *rec.Weight == weight {
			continue
		}
		rec.Weight = aws.Int64(weight)
		changes = append(changes, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &rec})
	}
	target := r.WriterTargets[want.Writer]
	rec := st.writer
	if len(rec.ResourceRecords) != 1 || !sameName(aws.ToString(rec.ResourceRecords[0].Value), target) ||
		aws.ToInt64(rec.TTL) != r.WriterTTL {
		rec.TTL = aws.Int64(r.WriterTTL)
		rec.ResourceRecords = []types.ResourceRecord{{Value: aws.String(target)}}
		changes = append(changes, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &rec})
	}
	return changes
}

// awaitInsync polls the change until Route 53 reports it INSYNC: only then
// have all its name servers the new records.
func (r *Route53) awaitInsync(ctx context.Context, id string, want Routes) error {
	interval := r.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	began := time.Now()
	status := types.ChangeStatusPending
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("change %s (%s) submitted but still %s after %s: %w",
				id, want, status, time.Since(began).Round(time.Millisecond), ctx.Err())
		case <-timer.C:
		}
		callCtx, cancel := r.call(ctx)
		out, err := r.API.GetChange(callCtx, &route53.GetChangeInput{Id: aws.String(id)})
		cancel()
		if err != nil {
			return fmt.Errorf("change %s (%s) submitted; reading its status: %w", id, want, err)
		}
		if out.ChangeInfo != nil {
			status = out.ChangeInfo.Status
		}
		if status == types.ChangeStatusInsync {
			return nil
		}
		timer.Reset(interval)
	}
}

// read lists the three records the router moves; each missing one is an
// error naming it.
func (r *Route53) read(ctx context.Context) (state, error) {
	weighted, err := r.list(ctx, r.WeightedName, types.RRTypeA)
	if err != nil {
		return state{}, err
	}
	st := state{weighted: map[naming.Side]types.ResourceRecordSet{}}
	for _, rec := range weighted {
		side := naming.Side(aws.ToString(rec.SetIdentifier))
		if side == naming.Source || side == naming.Target {
			st.weighted[side] = rec
		}
	}
	for _, side := range naming.Sides {
		if _, ok := st.weighted[side]; !ok {
			return state{}, fmt.Errorf("weighted A record %s with set identifier %q in zone %s: %w",
				r.WeightedName, side, r.ZoneID, ErrRecordNotFound)
		}
		if st.weighted[side].Weight == nil {
			return state{}, fmt.Errorf("the A record %s with set identifier %q in zone %s has no weight: it is not a weighted record",
				r.WeightedName, side, r.ZoneID)
		}
	}
	writers, err := r.list(ctx, r.WriterName, types.RRTypeCname)
	if err != nil {
		return state{}, err
	}
	switch len(writers) {
	case 0:
		return state{}, fmt.Errorf("writer CNAME record %s in zone %s: %w", r.WriterName, r.ZoneID, ErrRecordNotFound)
	case 1:
		st.writer = writers[0]
	default:
		// A routing policy on the writer record could answer with either database.
		return state{}, fmt.Errorf("writer record %s in zone %s is %d CNAME records, want exactly one", r.WriterName, r.ZoneID, len(writers))
	}
	if st.writer.AliasTarget != nil {
		return state{}, fmt.Errorf("writer record %s in zone %s is an alias, want a plain CNAME", r.WriterName, r.ZoneID)
	}
	return st, nil
}

// list returns every record set of one name and type, across pages.
func (r *Route53) list(ctx context.Context, name string, rrType types.RRType) ([]types.ResourceRecordSet, error) {
	in := &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(r.ZoneID),
		StartRecordName: aws.String(name),
		StartRecordType: rrType,
	}
	var found []types.ResourceRecordSet
	for {
		callCtx, cancel := r.call(ctx)
		out, err := r.API.ListResourceRecordSets(callCtx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing %s records %s in zone %s: %w", rrType, name, r.ZoneID, err)
		}
		for _, rec := range out.ResourceRecordSets {
			// The listing starts at the name and goes on past it, in
			// Route 53's order; what follows is another name or type.
			if !sameName(aws.ToString(rec.Name), name) || rec.Type != rrType {
				return found, nil
			}
			found = append(found, rec)
		}
		if !out.IsTruncated || !sameName(aws.ToString(out.NextRecordName), name) || out.NextRecordType != rrType {
			return found, nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
}

// writerSide is the database the writer record points at. A value that is
// neither endpoint is an error, never a guess: a wrong answer here decides
// which database gets fenced.
func (r *Route53) writerSide(rec types.ResourceRecordSet) (naming.Side, error) {
	if len(rec.ResourceRecords) != 1 {
		return "", fmt.Errorf("writer record %s has %d values, want one", r.WriterName, len(rec.ResourceRecords))
	}
	value := aws.ToString(rec.ResourceRecords[0].Value)
	for _, side := range naming.Sides {
		if sameName(value, r.WriterTargets[side]) {
			return side, nil
		}
	}
	return "", fmt.Errorf("writer record %s is %q, %s is %q and %s is %q: %w", r.WriterName, value,
		naming.Source, r.WriterTargets[naming.Source], naming.Target, r.WriterTargets[naming.Target], ErrUnknownWriter)
}

// check refuses a router whose configuration could not tell the sides apart.
func (r *Route53) check() error {
	var missing []string
	for field, value := range map[string]string{"ZoneID": r.ZoneID, "WeightedName": r.WeightedName, "WriterName": r.WriterName} {
		if value == "" {
			missing = append(missing, field)
		}
	}
	for _, side := range naming.Sides {
		if r.WriterTargets[side] == "" {
			missing = append(missing, fmt.Sprintf("WriterTargets[%s]", side))
		}
	}
	if r.API == nil {
		missing = append(missing, "API")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("route 53 router: %s not set", strings.Join(missing, ", "))
	}
	if sameName(r.WriterTargets[naming.Source], r.WriterTargets[naming.Target]) {
		return fmt.Errorf("route 53 router: both databases have the endpoint %q: the writer record could not tell them apart",
			r.WriterTargets[naming.Source])
	}
	if r.WriterTTL <= 0 {
		return fmt.Errorf("route 53 router: writer TTL %d s, want at least 1", r.WriterTTL)
	}
	return nil
}

func (r *Route53) call(ctx context.Context) (context.Context, context.CancelFunc) {
	d := r.CallTimeout
	if d <= 0 {
		d = DefaultCallTimeout
	}
	return context.WithTimeout(ctx, d)
}

// sameName compares DNS names as DNS does: without case, with or without the
// trailing dot of the absolute form.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// Health reads the health check's last report from each Route 53 checker.
func (r *Route53) Health(ctx context.Context, healthCheckID string) (Health, error) {
	if healthCheckID == "" {
		return Health{}, errors.New("reading health check: no health check id")
	}
	if r.API == nil {
		return Health{}, errors.New("route 53 router: API not set")
	}
	callCtx, cancel := r.call(ctx)
	out, err := r.API.GetHealthCheckStatus(callCtx, &route53.GetHealthCheckStatusInput{HealthCheckId: aws.String(healthCheckID)})
	cancel()
	if err != nil {
		return Health{}, fmt.Errorf("reading health check %s: %w", healthCheckID, err)
	}
	var h Health
	var lastFailure string
	var lastFailureAt time.Time
	for _, obs := range out.HealthCheckObservations {
		if obs.StatusReport == nil || obs.StatusReport.Status == nil {
			continue // a checker that has not reported yet
		}
		h.Checkers++
		at := aws.ToTime(obs.StatusReport.CheckedTime)
		if at.After(h.Observed) {
			h.Observed = at
		}
		status := aws.ToString(obs.StatusReport.Status)
		if strings.HasPrefix(status, "Success") {
			h.Healthy++
		} else if lastFailure == "" || at.After(lastFailureAt) {
			lastFailure, lastFailureAt = fmt.Sprintf("%s %s: %s", obs.Region, aws.ToString(obs.IPAddress), status), at
		}
	}
	h.Message = fmt.Sprintf("health check %s: %d of %d Route 53 checkers report healthy", healthCheckID, h.Healthy, h.Checkers)
	if lastFailure != "" {
		h.Message += "; latest failure from " + lastFailure
	}
	return h, nil
}
