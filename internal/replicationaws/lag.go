package replicationaws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

const (
	// metricQueriesPerCall is GetMetricData's limit on queries per request.
	metricQueriesPerCall = 500
	// lagWindow is how far back a read looks for the newest datapoint: four
	// metric periods. The lag gate takes a datapoint whose minute ended more
	// than two periods ago (replication.DefaultLagMaxAge) as stale, so
	// nothing stamped more than three periods back is current lag; reading
	// one period further lets the gate say "stale, from 12:03" rather than
	// "no data" when DMS stops publishing.
	lagWindow = 4 * replication.LagMetricPeriod
	lagPeriod = int32(replication.LagMetricPeriod / time.Second)
)

// The two queries of a task, by id prefix; the rest of the id is the task's
// index in its chunk, which maps a result back to its task.
const (
	sourceQuery = "src"
	targetQuery = "tgt"
)

// lagKey names the metrics of one task, by the dimensions DMS publishes them
// under.
type lagKey struct {
	instanceID, taskID string
}

// Lag reads the newest CDCLatencySource and CDCLatencyTarget datapoints of a
// task, from a read shared with every task of the region asked for recently.
//
// A task the region poller watches (WatchTask) is served from the poller's
// last read while the poller keeps up, so the reconcile it wakes costs no
// call.
func (c *Client) Lag(ctx context.Context, instanceID, taskID string) (replication.LagSample, error) {
	key, now, maxAge := lagKey{instanceID, taskID}, c.now(), c.maxAge()
	if c.polledLag(key, now) {
		maxAge = max(maxAge, c.pollInterval()*3/2)
	}
	s, err := c.lags.get(ctx, key, now, maxAge, c.readLags)
	if err == nil {
		c.poll.sawLag(key, s)
	}
	return s, err
}

// readLags reads the latency of every key, two queries each, in as few
// GetMetricData calls as its query limit allows.
func (c *Client) readLags(ctx context.Context, keys []lagKey) (map[lagKey]replication.LagSample, error) {
	end := c.now()
	out := make(map[lagKey]replication.LagSample, len(keys))
	var errs []error
	for chunk := range slices.Chunk(keys, metricQueriesPerCall/2) {
		samples, err := c.readLagChunk(ctx, chunk, end.Add(-lagWindow), end)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, k := range chunk {
			out[k] = samples[i]
		}
	}
	return out, errors.Join(errs...)
}

func (c *Client) readLagChunk(ctx context.Context, keys []lagKey, start, end time.Time) ([]replication.LagSample, error) {
	queries := make([]cwtypes.MetricDataQuery, 0, 2*len(keys))
	for i, k := range keys {
		queries = append(queries,
			lagQuery(sourceQuery+strconv.Itoa(i), "CDCLatencySource", k),
			lagQuery(targetQuery+strconv.Itoa(i), "CDCLatencyTarget", k))
	}
	newest := make([]struct{ source, target datapoint }, len(keys))
	pages := cloudwatch.NewGetMetricDataPaginator(c.CloudWatch, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries,
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		ScanBy:            cwtypes.ScanByTimestampDescending,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading DMS CDC latency of %d tasks: %w", len(keys), err)
		}
		// A page may carry only part of a query's datapoints, and a query may
		// come back on several pages: keep the newest seen of each.
		for _, r := range page.MetricDataResults {
			side, i, ok := parseQueryID(aws.ToString(r.Id), len(keys))
			if !ok {
				continue
			}
			p := &newest[i].target
			if side == sourceQuery {
				p = &newest[i].source
			}
			p.merge(r.Timestamps, r.Values)
		}
	}
	samples := make([]replication.LagSample, len(keys))
	for i, n := range newest {
		s := &samples[i]
		s.Source, s.Target = n.source.value(), n.target.value()
		s.Time = n.source.at
		if n.target.at.After(s.Time) {
			s.Time = n.target.at
		}
	}
	return samples, nil
}

func lagQuery(id, metric string, k lagKey) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{
				Namespace:  aws.String("AWS/DMS"),
				MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{
					{Name: aws.String("ReplicationInstanceIdentifier"), Value: aws.String(k.instanceID)},
					{Name: aws.String("ReplicationTaskIdentifier"), Value: aws.String(k.taskID)},
				},
			},
			Period: aws.Int32(lagPeriod),
			Stat:   aws.String("Maximum"),
		},
		ReturnData: aws.Bool(true),
	}
}

// parseQueryID maps a result id back to its side and task index.
func parseQueryID(id string, n int) (side string, index int, ok bool) {
	for _, prefix := range []string{sourceQuery, targetQuery} {
		if rest, found := strings.CutPrefix(id, prefix); found {
			i, err := strconv.Atoi(rest)
			if err != nil || i < 0 || i >= n {
				return "", 0, false
			}
			return prefix, i, true
		}
	}
	return "", 0, false
}

// datapoint is the newest datapoint of a metric seen so far.
type datapoint struct {
	at  time.Time
	v   float64
	set bool
}

func (d *datapoint) merge(times []time.Time, values []float64) {
	for i := range min(len(times), len(values)) {
		if !d.set || times[i].After(d.at) {
			d.at, d.v, d.set = times[i], values[i], true
		}
	}
}

func (d *datapoint) value() *float64 {
	if !d.set {
		return nil
	}
	v := d.v
	return &v
}
