package replicationaws

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tapstack/payment-migration-operator/internal/replication"
)

// DefaultPollInterval is the cadence of the region poller's GetMetricData:
// a fifth of DMS's one-minute metric period, at fixed offsets in each period
// (ticks fall on multiples of it from the minute). DMS publishes each task's
// datapoint at its own moment in the minute, so one read a minute would see a
// datapoint up to a minute after its publication; five see it within 12 s,
// and the reconcile it wakes runs at once. GetMetricData is billed per metric
// requested: each watched task's two metrics are requested five times a
// minute, whatever the number of calls.
const DefaultPollInterval = replication.LagMetricPeriod / 5

// DefaultTaskPollInterval is the cadence of the poller's batched
// DescribeReplicationTasks. Task status matters less quickly than lag (the
// reconciler's own transitions are read afresh: StartTask and StopTask
// invalidate the cached task), and each read costs one call per 100 tasks.
const DefaultTaskPollInterval = time.Minute

// poller is the region poller: one GetMetricData read of every watched task's
// latency per PollInterval, one DescribeReplicationTasks read of every
// watched task per TaskPollInterval, and a wake-up for exactly the migrations
// whose task or newest lag datapoint changed.
type poller struct {
	mu      sync.Mutex
	watches map[string]*watch // by task ARN
	running bool              // the loop goroutine runs
	// lastPoll and lastTasks are when Poll last read lags and tasks; zero
	// before the first.
	lastPoll, lastTasks time.Time
	// seenLag and seenTask are what the poller, or a reconcile reading the
	// cache, last saw of each key: a wake-up means a change from it.
	seenLag  map[lagKey]replication.LagSample
	seenTask map[string]replication.Task
}

type watch struct {
	lag  lagKey
	wake func()
	at   time.Time // last WatchTask
}

// WatchTask asks the region poller to read this task's status and CDC
// latency on its cadence and to call wake, without blocking, whenever either
// changed. Calling it again refreshes the watch (and replaces wake); a watch
// not refreshed in 10 minutes lapses, so a migration that is gone stops
// costing queries. The loop runs while something is watched, within the
// client's lifetime (StopWith); without one, Poll must be called.
func (c *Client) WatchTask(taskARN, instanceID, taskID string, wake func()) {
	now := c.now()
	key := lagKey{instanceID, taskID}
	p := &c.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.watches == nil {
		p.watches, p.seenLag, p.seenTask = map[string]*watch{}, map[lagKey]replication.LagSample{}, map[string]replication.Task{}
	}
	w, ok := p.watches[taskARN]
	if !ok || w.lag != key {
		// What the reconcile that asks has just read is what a change is
		// measured from.
		if v, cached := c.lags.peek(key); cached {
			p.seenLag[key] = v
		}
		if v, cached := c.tasks.peek(taskARN); cached {
			p.seenTask[taskARN] = v
		}
		w = &watch{lag: key}
		p.watches[taskARN] = w
	}
	w.wake, w.at = wake, now
	if !p.running && c.lifetime != nil && c.lifetime.Err() == nil {
		p.running = true
		go c.pollLoop(c.lifetime)
	}
}

// polled reports whether the poller keeps this task's cache entries fresh, so
// a reconcile may be served from them for up to a poll interval.
func (c *Client) polled(taskARN string, now time.Time) bool {
	p := &c.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.watches[taskARN]
	return ok && !p.lastPoll.IsZero() && now.Sub(p.lastPoll) <= 2*c.pollInterval()
}

// polledLag is polled for the task whose latency metrics these are.
func (c *Client) polledLag(key lagKey, now time.Time) bool {
	p := &c.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastPoll.IsZero() || now.Sub(p.lastPoll) > 2*c.pollInterval() {
		return false
	}
	for _, w := range p.watches {
		if w.lag == key {
			return true
		}
	}
	return false
}

// sawLag and sawTask record what a reconcile read of a watched task, so the
// poller wakes it only for what it has not seen.
func (p *poller) sawLag(key lagKey, v replication.LagSample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seenLag[key]; ok {
		p.seenLag[key] = v
	}
}

func (p *poller) sawTask(arn string, v replication.Task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seenTask[arn]; ok {
		p.seenTask[arn] = v
	}
}

func (c *Client) pollInterval() time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return DefaultPollInterval
}

func (c *Client) taskPollInterval() time.Duration {
	if c.TaskPollInterval > 0 {
		return c.TaskPollInterval
	}
	return DefaultTaskPollInterval
}

// pollLoop polls on the ticks of the poll interval until ctx ends or nothing
// is watched any more (a later WatchTask starts it again).
func (c *Client) pollLoop(ctx context.Context) {
	every := c.pollInterval()
	for {
		now := c.now()
		timer := time.NewTimer(now.Truncate(every).Add(every).Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			c.poll.mu.Lock()
			c.poll.running = false
			c.poll.mu.Unlock()
			return
		case <-timer.C:
		}
		// An error leaves the cache as it was: the reconciles' own reads
		// (with their error handling) take over until the next tick.
		_ = c.Poll(ctx)
		c.poll.mu.Lock()
		if len(c.poll.watches) == 0 {
			c.poll.running = false
			c.poll.mu.Unlock()
			return
		}
		c.poll.mu.Unlock()
	}
}

// Poll is one tick of the region poller: it reads the latency of every
// watched task in one GetMetricData (per 250 tasks), their status in one
// DescribeReplicationTasks (per 100 tasks) when the task interval has
// passed, stores both in the caches the reconciles read, and wakes the
// migrations whose newest datapoint or task changed. The loop calls it; tests
// and the benchmark call it on their own clock.
func (c *Client) Poll(ctx context.Context) error {
	now := c.now()
	p := &c.poll
	p.mu.Lock()
	var lagKeys []lagKey
	var arns []string
	wakes := map[string]func(){}
	byLag := map[lagKey][]string{}
	for arn, w := range p.watches {
		if now.Sub(w.at) > forgetAfter {
			delete(p.watches, arn)
			delete(p.seenTask, arn)
			delete(p.seenLag, w.lag)
			continue
		}
		if len(byLag[w.lag]) == 0 {
			lagKeys = append(lagKeys, w.lag)
		}
		byLag[w.lag] = append(byLag[w.lag], arn)
		arns = append(arns, arn)
		wakes[arn] = w.wake
	}
	tasksDue := p.lastTasks.IsZero() || now.Sub(p.lastTasks) >= c.taskPollInterval()
	if len(arns) == 0 {
		p.mu.Unlock()
		return nil
	}
	p.lastPoll = now
	if tasksDue {
		p.lastTasks = now
	}
	p.mu.Unlock()

	changed := map[string]bool{}
	lags, lagErr := c.lags.refresh(ctx, lagKeys, now, c.readLags)
	var tasks map[string]replication.Task
	var taskErr error
	if tasksDue {
		tasks, taskErr = c.tasks.refresh(ctx, arns, now, c.describeTasks)
	}

	p.mu.Lock()
	for k, v := range lags {
		if old, seen := p.seenLag[k]; !seen || !sameLag(old, v) {
			for _, arn := range byLag[k] {
				changed[arn] = true
			}
		}
		p.seenLag[k] = v
	}
	for arn, t := range tasks {
		if old, seen := p.seenTask[arn]; !seen || old != t {
			changed[arn] = true
		}
		p.seenTask[arn] = t
	}
	p.mu.Unlock()
	for arn := range changed {
		if wake := wakes[arn]; wake != nil {
			wake()
		}
	}
	return errors.Join(lagErr, taskErr)
}

func sameLag(a, b replication.LagSample) bool {
	same := func(x, y *float64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Time.Equal(b.Time) && same(a.Source, b.Source) && same(a.Target, b.Target)
}
