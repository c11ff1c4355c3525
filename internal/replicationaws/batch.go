package replicationaws

import (
	"context"
	"sync"
	"time"
)

// forgetAfter drops a key nobody asked for in this long: its migration is done
// or gone, and every batched call would otherwise carry it forever.
const forgetAfter = 10 * time.Minute

// fetchFunc reads the values of keys, in as few calls as the API allows. It
// returns what it read even when a later call failed, so one bad chunk does not
// throw away the others.
type fetchFunc[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// batcher serves reads of many keys (the tasks or the metrics of every
// migration of a region) from one cache. When the asked key is stale, a single
// fetch refreshes every key asked for recently, so N migrations sampling on
// their own schedules cost about one call per MaxAge instead of N per sample.
type batcher[K comparable, V any] struct {
	mu      sync.Mutex
	asked   map[K]time.Time
	entries map[K]entry[V]
	flight  *flight[K, V]
	// epoch counts invalidations; dirty records the epoch at which a key was
	// invalidated, so a fetch that started before it cannot store the state
	// from before a StartTask or StopTask as fresh.
	epoch uint64
	dirty map[K]uint64
	// volatile values are handed to the callers of the fetch that read them but
	// not cached: a task that is starting or stopping must be read again on its
	// next sample, not served as "starting" for MaxAge.
	volatile func(V) bool
	// lifetime ends every fetch when it is done; nil: never.
	lifetime context.Context
}

type entry[V any] struct {
	value V
	at    time.Time
}

// flight is one fetch in progress, shared by every caller that needs it.
type flight[K comparable, V any] struct {
	keys  map[K]bool
	at    time.Time
	epoch uint64
	done  chan struct{}
	err   error
	// fresh holds what this fetch read of keys not invalidated meanwhile.
	fresh map[K]V
}

// get returns the value of key. A stale key is fetched with every other
// remembered key, which keeps the region on one refresh per MaxAge; a key never
// fetched (or invalidated) is fetched with the other such keys only, so a new
// migration, or a task just started, does not refresh the whole region.
func (b *batcher[K, V]) get(ctx context.Context, key K, now time.Time, maxAge time.Duration, fetch fetchFunc[K, V]) (V, error) {
	b.mu.Lock()
	if b.asked == nil {
		b.asked, b.entries, b.dirty = map[K]time.Time{}, map[K]entry[V]{}, map[K]uint64{}
	}
	b.asked[key] = now
	for {
		e, cached := b.entries[key]
		if cached && now.Sub(e.at) < maxAge {
			b.mu.Unlock()
			return e.value, nil
		}
		f := b.flight
		if f == nil {
			f = b.start(ctx, now, cached, fetch)
		}
		b.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		b.mu.Lock()
		if !f.keys[key] {
			// The fetch began before this key was first asked for: the next one
			// includes it.
			continue
		}
		if v, ok := f.fresh[key]; ok && b.dirty[key] <= f.epoch {
			b.mu.Unlock()
			return v, nil
		}
		if f.err != nil {
			b.mu.Unlock()
			var zero V
			return zero, f.err
		}
		// Invalidated while the fetch ran: fetch again.
	}
}

// start launches a fetch of every remembered key, or of those with no entry.
// The fetch runs detached from the cancellation of the caller that happened to
// start it, because other callers wait for it too; it ends with the batcher's
// lifetime, and each API call still has its own timeout.
func (b *batcher[K, V]) start(ctx context.Context, now time.Time, all bool, fetch fetchFunc[K, V]) *flight[K, V] {
	b.forget(now)
	f := &flight[K, V]{keys: map[K]bool{}, at: now, epoch: b.epoch, done: make(chan struct{}), fresh: map[K]V{}}
	var keys []K
	for k := range b.asked {
		if _, cached := b.entries[k]; all || !cached {
			f.keys[k] = true
			keys = append(keys, k)
		}
	}
	b.flight = f
	fetchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := func() bool { return false }
	if b.lifetime != nil {
		stop = context.AfterFunc(b.lifetime, cancel)
	}
	go func() {
		defer cancel()
		defer stop()
		values, err := fetch(fetchCtx, keys)
		b.mu.Lock()
		defer b.mu.Unlock()
		for k, v := range values {
			if _, remembered := b.asked[k]; !remembered || b.dirty[k] > f.epoch {
				continue
			}
			delete(b.dirty, k)
			f.fresh[k] = v
			if b.volatile != nil && b.volatile(v) {
				delete(b.entries, k)
				continue
			}
			b.entries[k] = entry[V]{value: v, at: now}
		}
		f.err = err
		b.flight = nil
		close(f.done)
	}()
	return f
}

// invalidate makes the next get of key fetch it again.
func (b *batcher[K, V]) invalidate(key K) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		return
	}
	b.epoch++
	b.dirty[key] = b.epoch
	delete(b.entries, key)
}

func (b *batcher[K, V]) forget(now time.Time) {
	for k, at := range b.asked {
		if now.Sub(at) > forgetAfter {
			delete(b.asked, k)
			delete(b.entries, k)
			delete(b.dirty, k)
		}
	}
}

// peek returns the cached value of key, fresh or not.
func (b *batcher[K, V]) peek(key K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	return e.value, ok
}

// refresh fetches keys now, whatever their age (the region poller's read),
// caches what it read as of now, and returns it. A key invalidated while the
// fetch ran (a StartTask or StopTask) is neither cached nor returned: its
// next get reads it afresh. A volatile value is returned but not cached. The
// fetch ends with the batcher's lifetime, like the others.
func (b *batcher[K, V]) refresh(ctx context.Context, keys []K, now time.Time, fetch fetchFunc[K, V]) (map[K]V, error) {
	b.mu.Lock()
	if b.asked == nil {
		b.asked, b.entries, b.dirty = map[K]time.Time{}, map[K]entry[V]{}, map[K]uint64{}
	}
	epoch := b.epoch
	b.mu.Unlock()
	if b.lifetime != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(b.lifetime, cancel)()
	}
	values, err := fetch(ctx, keys)
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[K]V, len(values))
	for k, v := range values {
		if b.dirty[k] > epoch {
			continue
		}
		out[k] = v
		if b.volatile != nil && b.volatile(v) {
			delete(b.entries, k)
			continue
		}
		if e, ok := b.entries[k]; ok && e.at.After(now) {
			continue // a read that started later has stored a newer value
		}
		b.entries[k] = entry[V]{value: v, at: now}
	}
	return out, err
}
