package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand. Safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counter is a load function that counts its calls, takes took on the fake
// clock and returns its call number.
type counter struct {
	clock *fakeClock
	took  time.Duration
	calls atomic.Int64
	// gate, when set, holds every load until it is closed.
	gate chan struct{}
}

func (c *counter) load(context.Context) (int64, error) {
	if c.gate != nil {
		<-c.gate
	}
	c.clock.advance(c.took)
	return c.calls.Add(1), nil
}

func newTestCache(clock *fakeClock) *cache[int, int64] {
	c := newCache[int, int64](clock.now, slog.New(slog.DiscardHandler))
	return c
}

// A cheap read is reused within its age and redone, while the request
// waits, once it is stale.
func TestCacheCheapReadIsSynchronous(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock)
	defer c.close()
	cnt := &counter{clock: clock, took: 10 * time.Millisecond}
	ctx := context.Background()
	v, _, err := c.get(ctx, 1, cnt.load)
	if err != nil || v != 1 {
		t.Fatalf("first get: %d, %v", v, err)
	}
	clock.advance(cacheMinAge / 2)
	if v, _, _ := c.get(ctx, 1, cnt.load); v != 1 {
		t.Errorf("within its age: read %d, want the cached 1", v)
	}
	clock.advance(cacheMinAge)
	if v, _, _ := c.get(ctx, 1, cnt.load); v != 2 {
		t.Errorf("stale and cheap: read %d, want a fresh 2", v)
	}
}

// An expensive read stays fresh five times as long as it took; once stale
// it is redone in the background and the stale value served meanwhile,
// one load at a time however many ask.
func TestCacheExpensiveReadRefreshesInBackground(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock)
	defer c.close()
	cnt := &counter{clock: clock, took: 3 * time.Second}
	ctx := context.Background()
	v, at, err := c.get(ctx, 1, cnt.load)
	if err != nil || v != 1 {
		t.Fatalf("first get: %d, %v", v, err)
	}
	clock.advance(10 * time.Second) // 13 s after the read began: fresh below 15 s
	if v, _, _ := c.get(ctx, 1, cnt.load); v != 1 || cnt.calls.Load() != 1 {
		t.Errorf("13 s after a 3 s read: %d after %d loads, want the cached 1", v, cnt.calls.Load())
	}
	clock.advance(5 * time.Second)
	cnt.gate = make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, got, err := c.get(ctx, 1, cnt.load)
			if err != nil || v != 1 || !got.Equal(at) {
				t.Errorf("while refreshing: %d read at %v, %v; want the stale 1 of %v", v, got, err, at)
			}
		}()
	}
	wg.Wait()
	close(cnt.gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, _, _ := c.get(ctx, 1, cnt.load); v == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never landed")
		}
		time.Sleep(time.Millisecond)
	}
	if n := cnt.calls.Load(); n != 2 {
		t.Errorf("%d loads, want 2: concurrent viewers share one", n)
	}
}

// Concurrent first reads share one load.
func TestCacheSingleFlight(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock)
	defer c.close()
	cnt := &counter{clock: clock, took: time.Millisecond, gate: make(chan struct{})}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, _, err := c.get(context.Background(), 7, cnt.load); err != nil || v != 1 {
				t.Errorf("got %d, %v; want 1", v, err)
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(cnt.gate)
	wg.Wait()
	if n := cnt.calls.Load(); n != 1 {
		t.Errorf("%d loads for 20 concurrent gets, want 1", n)
	}
}

// drop makes the next get read again, even one that waits for a read that
// began before the change.
func TestCacheDrop(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock)
	defer c.close()
	cnt := &counter{clock: clock, took: time.Millisecond}
	ctx := context.Background()
	c.get(ctx, 1, cnt.load)
	c.drop(1)
	if v, _, _ := c.get(ctx, 1, cnt.load); v != 2 {
		t.Errorf("after drop: %d, want a new read", v)
	}
	// A read in flight when the change happens does not count.
	clock.advance(time.Minute)
	cnt.gate = make(chan struct{})
	got := make(chan int64)
	go func() {
		v, _, _ := c.get(ctx, 1, cnt.load)
		got <- v
	}()
	for {
		c.mu.Lock()
		loading := c.entries[1].loading != nil
		c.mu.Unlock()
		if loading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.drop(1)
	close(cnt.gate)
	if v := <-got; v != 4 {
		t.Errorf("waited across a drop: %d, want the read after it (4)", v)
	}
}

// A failed first read is an error; a failed refresh keeps the last value.
func TestCacheErrors(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock)
	defer c.close()
	boom := errors.New("boom")
	fail := func(context.Context) (int64, error) { return 0, boom }
	if _, _, err := c.get(context.Background(), 1, fail); !errors.Is(err, boom) {
		t.Errorf("failed first read: %v", err)
	}
	slow := &counter{clock: clock, took: time.Second}
	if v, _, _ := c.get(context.Background(), 1, slow.load); v != 1 {
		t.Fatalf("read after a failure: %d", v)
	}
	clock.advance(time.Minute) // stale, not yet idle
	if v, _, err := c.get(context.Background(), 1, fail); v != 1 || err != nil {
		t.Errorf("stale expensive value while a refresh fails: %d, %v; want 1", v, err)
	}
}

func TestMaxAge(t *testing.T) {
	for took, want := range map[time.Duration]time.Duration{
		0: time.Second, 100 * time.Millisecond: time.Second, time.Second: 5 * time.Second,
		3 * time.Second: 15 * time.Second, time.Minute: time.Minute,
	} {
		if got := maxAge(took); got != want {
			t.Errorf("maxAge(%v) = %v, want %v", took, got, want)
		}
	}
}
