package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// The dashboard's counts come from per-campaign counters and cost the same
// at any size, but its charts read the rows of the last hour (see
// series.go) and the first read of a busy campaign takes seconds. Every
// open page asks again every two seconds, so reads are cached per campaign
// and shared by every viewer:
//
//   - A read is reused for five times as long as it took, at least
//     cacheMinAge and at most cacheMaxAge: the database spends at most a
//     fifth of its time on one campaign's dashboard, however many watch it.
//   - A stale read that took at most syncBudget is redone while the request
//     waits: small campaigns always show figures at most a second old.
//   - A stale read that took longer is redone in the background while
//     requests are answered from the stale one, whose time the page shows.
//   - Only one read per key runs at a time; requests arriving meanwhile
//     wait for it (or, if they have a stale value, take that).
const (
	cacheMinAge  = time.Second
	cacheMaxAge  = time.Minute
	cacheAgeMult = 5
	syncBudget   = 100 * time.Millisecond
	// cacheIdle drops entries no page has asked for in this long.
	cacheIdle = 10 * time.Minute
	// cacheLoadTimeout bounds one read, in the background too.
	cacheLoadTimeout = 2 * time.Minute
)

// cache holds one value per key, read by a load function. Safe for
// concurrent use.
type cache[K comparable, V any] struct {
	now  func() time.Time
	log  *slog.Logger
	base context.Context // canceled by close: ends background loads
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	entries map[K]*cacheEntry[V]
}

type cacheEntry[V any] struct {
	val  V
	ok   bool      // val holds a successful read
	at   time.Time // when the read that produced val started
	took time.Duration
	used time.Time
	// loading is closed when the load in progress ends; nil when none runs.
	loading chan struct{}
	err     error // of the last load, for those who waited for it
	// dropped marks the load in progress as started before a change: its
	// value is kept but stale at once.
	dropped, stale bool
}

func newCache[K comparable, V any](now func() time.Time, log *slog.Logger) *cache[K, V] {
	base, stop := context.WithCancel(context.Background())
	return &cache[K, V]{now: now, log: log, base: base, stop: stop, entries: map[K]*cacheEntry[V]{}}
}

// maxAge is how long a read that took took stays fresh.
func maxAge(took time.Duration) time.Duration {
	return min(max(cacheAgeMult*took, cacheMinAge), cacheMaxAge)
}

// get returns the value for key and when it was read, loading it if it is
// missing or stale per the rules above.
func (c *cache[K, V]) get(ctx context.Context, key K, load func(context.Context) (V, error)) (V, time.Time, error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		now := c.now()
		c.sweep(now)
		e := c.entries[key]
		if e == nil {
			e = &cacheEntry[V]{}
			c.entries[key] = e
		}
		e.used = now
		if e.ok && !e.stale && now.Sub(e.at) < maxAge(e.took) {
			v, at := e.val, e.at
			c.mu.Unlock()
			return v, at, nil
		}
		if e.loading == nil {
			e.loading = make(chan struct{})
			c.wg.Add(1)
			go c.load(key, e, load)
		}
		if e.ok && e.took > syncBudget {
			v, at := e.val, e.at // stale, refreshing in the background
			c.mu.Unlock()
			return v, at, nil
		}
		done := e.loading
		c.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			var zero V
			return zero, time.Time{}, ctx.Err()
		}
		c.mu.Lock()
		v, at, ok, stale, err := e.val, e.at, e.ok, e.stale, e.err
		c.mu.Unlock()
		switch {
		case !ok:
			return v, time.Time{}, err
		case stale && attempt == 0:
			// The read waited for began before a change (drop): read again.
			continue
		}
		return v, at, nil
	}
}

// load runs one read, detached from the request that started it so that a
// viewer closing the page does not waste it for the others.
func (c *cache[K, V]) load(key K, e *cacheEntry[V], load func(context.Context) (V, error)) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.base, cacheLoadTimeout)
	defer cancel()
	start := c.now()
	v, err := load(ctx)
	took := c.now().Sub(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Keep serving the last good value, if any; the next request tries again.
		e.err = err
		if e.ok {
			c.log.Warn("dashboard: refresh failed; showing the previous figures", "key", key, "err", err)
		}
	} else {
		e.val, e.ok, e.at, e.took, e.err, e.stale = v, true, start, took, nil, e.dropped
	}
	e.dropped = false
	close(e.loading)
	e.loading = nil
}

// sweep drops entries unused for cacheIdle. Called with mu held.
func (c *cache[K, V]) sweep(now time.Time) {
	for k, e := range c.entries {
		if e.loading == nil && now.Sub(e.used) > cacheIdle {
			delete(c.entries, k)
		}
	}
}

// drop forgets key's value, so the next get reads afresh (after an action).
// A read in progress began before the change: its value will be stale.
func (c *cache[K, V]) drop(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e := c.entries[key]; {
	case e == nil:
	case e.loading != nil:
		e.dropped = true
	default:
		delete(c.entries, key)
	}
}

// close ends background loads and waits for them.
func (c *cache[K, V]) close() {
	c.stop()
	c.wg.Wait()
}
