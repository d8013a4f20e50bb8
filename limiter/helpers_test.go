package limiter

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to. Waits the limiter
// computes from it are still slept on real timers, so tests that use it
// either avoid waits or keep them short.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mustNew builds a Limiter or fails the test.
func mustNew(t testing.TB, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// mustAcquire acquires with a generous timeout or fails the test.
func mustAcquire(t testing.TB, l *Limiter, sender string, segments int) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release, err := l.Acquire(ctx, sender, segments)
	if err != nil {
		t.Fatalf("Acquire(%q, %d): %v", sender, segments, err)
	}
	return release
}

// waitFor polls cond until it holds or a generous deadline passes; it is a
// synchronisation aid, not an assertion on timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// approx compares rates computed in floating point.
func approx(a, b float64) bool {
	if a == b {
		return true // also +Inf
	}
	d := a - b
	if d < 0 {
		d = -d
	}
	return d < 1e-9*(1+b)
}
