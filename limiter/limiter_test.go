package limiter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSegmentsCostTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		segments int
		cost     float64
	}{
		{"one segment, one token", 1, 1},
		{"three segments, three tokens", 3, 3},
		{"zero counts as one", 0, 1},
		{"a full bucket", 10, 10},
		// More than the burst of 10: charged in full, the bucket goes
		// into debt (a 15 ms real wait at 1000/s), no deadlock.
		{"oversized is charged in full", 25, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			l := mustNew(t, Config{Rate: 1000, Burst: 10, Now: clk.Now})
			l.SetSenderRate("+15005550006", 1000) // burst 50
			before := l.senders.Load()
			sender := (*before)["+15005550006"]

			mustAcquire(t, l, "+15005550006", tt.segments)()
			if got, want := l.campaign.lim.TokensAt(clk.Now()), 10-tt.cost; got != want {
				t.Errorf("campaign tokens = %v, want %v", got, want)
			}
			if got, want := sender.lim.TokensAt(clk.Now()), 50-tt.cost; got != want {
				t.Errorf("sender tokens = %v, want %v", got, want)
			}
			// Another sender pays the campaign only.
			mustAcquire(t, l, "+15005550007", 1)()
			if got, want := sender.lim.TokensAt(clk.Now()), 50-tt.cost; got != want {
				t.Errorf("sender tokens after another sender's send = %v, want %v", got, want)
			}
			if got, want := l.campaign.lim.TokensAt(clk.Now()), 10-tt.cost-1; got != want {
				t.Errorf("campaign tokens after another sender's send = %v, want %v", got, want)
			}
		})
	}
}

func TestConcurrencyCapNeverExceeded(t *testing.T) {
	t.Parallel()
	const (
		limit      = 5
		goroutines = 200
		each       = 50
	)
	l := mustNew(t, Config{Concurrency: limit})
	var inFlight, most atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				release, err := l.Acquire(context.Background(), "", 1)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				n := inFlight.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				if got := l.InFlight(); got > limit {
					t.Errorf("InFlight() = %d, above the cap %d", got, limit)
				}
				time.Sleep(10 * time.Microsecond) // hold it like a request would
				inFlight.Add(-1)
				release()
				release() // idempotent: must not free a second slot
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit {
		t.Errorf("max in flight = %d, above the cap %d", m, limit)
	}
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight() after all releases = %d, want 0", got)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	t.Parallel()
	l := mustNew(t, Config{Concurrency: 1})
	release := mustAcquire(t, l, "", 1)
	release()
	release()
	if got := l.InFlight(); got != 0 {
		t.Fatalf("InFlight() = %d, want 0", got)
	}
	// Had the second release freed a slot it did not hold, the channel
	// would be out of step and this pair would both get through.
	held := mustAcquire(t, l, "", 1)
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, "", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Acquire with the only slot held: err = %v, want DeadlineExceeded", err)
	}
}

func TestAcquireCanceledWhileWaitingHoldsNothing(t *testing.T) {
	t.Parallel()
	const sender = "+15005550006"
	tests := []struct {
		name string
		cfg  Config
		// block makes the next Acquire wait (for ages) and returns what
		// to release afterwards.
		block func(t *testing.T, l *Limiter) (cleanup func())
		// waiting reports that the waiter has reached its wait.
		waiting func(l *Limiter, now time.Time) bool
		// tokens reports the tokens of the bucket the waiter reserved from.
		tokens func(l *Limiter, now time.Time) float64
		held   int // slots held by block
	}{
		{
			name:  "waiting for a slot",
			cfg:   Config{Concurrency: 1},
			block: func(t *testing.T, l *Limiter) func() { return mustAcquire(t, l, "", 1) },
			held:  1,
		},
		{
			name: "waiting out a pause",
			cfg:  Config{MaxPause: 2 * time.Hour},
			block: func(t *testing.T, l *Limiter) func() {
				l.Throttled(time.Hour)
				return func() {}
			},
			waiting: func(l *Limiter, _ time.Time) bool { return l.InFlight() == 1 },
		},
		{
			name: "waiting for campaign tokens",
			cfg:  Config{Rate: 0.01}, // one token per 100 s
			block: func(t *testing.T, l *Limiter) func() {
				mustAcquire(t, l, "", 1)()
				return func() {}
			},
			waiting: func(l *Limiter, now time.Time) bool { return l.campaign.lim.TokensAt(now) < 0 },
			tokens:  func(l *Limiter, now time.Time) float64 { return l.campaign.lim.TokensAt(now) },
		},
		{
			name: "waiting for sender tokens",
			cfg:  Config{},
			block: func(t *testing.T, l *Limiter) func() {
				l.SetSenderRate(sender, 0.01)
				mustAcquire(t, l, sender, 1)()
				return func() {}
			},
			waiting: func(l *Limiter, now time.Time) bool {
				return (*l.senders.Load())[sender].lim.TokensAt(now) < 0
			},
			tokens: func(l *Limiter, now time.Time) float64 {
				return (*l.senders.Load())[sender].lim.TokensAt(now)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			tt.cfg.Now = clk.Now
			l := mustNew(t, tt.cfg)
			cleanup := tt.block(t, l)
			defer cleanup()

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				release, err := l.Acquire(ctx, sender, 1)
				if err == nil {
					release()
				}
				done <- err
			}()
			if tt.waiting != nil {
				waitFor(t, "the waiter to block", func() bool { return tt.waiting(l, clk.Now()) })
			} else {
				time.Sleep(20 * time.Millisecond) // best effort: a slot wait is not observable
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Acquire: err = %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Acquire did not return after its context was canceled")
			}
			if got := l.InFlight(); got != tt.held {
				t.Errorf("InFlight() = %d, want %d: the canceled waiter kept its slot", got, tt.held)
			}
			if tt.tokens != nil {
				if got := tt.tokens(l, clk.Now()); got != 0 {
					t.Errorf("tokens after cancel = %v, want 0: the reservation was not returned", got)
				}
			}
		})
	}
}

func TestAcquireWithDoneContextFailsAtOnce(t *testing.T) {
	t.Parallel()
	l := mustNew(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release, err := l.Acquire(ctx, "", 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	release() // a no-op, never nil
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight() = %d, want 0", got)
	}
}

func TestRetryAfterPausesEveryone(t *testing.T) {
	t.Parallel()
	const pause = 300 * time.Millisecond
	tests := []struct {
		name string
		cfg  Config
	}{
		{"unlimited rate", Config{Concurrency: 50}},
		{"limited rate", Config{Rate: 100000, Concurrency: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := mustNew(t, tt.cfg)
			start := time.Now()
			l.Throttled(pause)
			l.Throttled(time.Millisecond) // a shorter one must not cut it short
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					release := mustAcquire(t, l, "", 1)
					defer release()
					if waited := time.Since(start); waited < pause {
						t.Errorf("Acquire returned %v into a %v pause", waited, pause)
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestRetryAfterCatchesCallersWaitingForTokens(t *testing.T) {
	t.Parallel()
	const pause = 400 * time.Millisecond
	// A clock that does not move keeps the bucket's debt visible for as long
	// as the test needs; MinRate = Rate keeps the throttle from slowing the
	// fresh reservation down.
	clk := newFakeClock()
	l := mustNew(t, Config{Rate: 4, MinRate: 4, Burst: 1, Now: clk.Now})
	mustAcquire(t, l, "", 1)() // empty the bucket: the next caller waits 250 ms
	done := make(chan time.Time, 1)
	go func() {
		mustAcquire(t, l, "", 1)()
		done <- time.Now()
	}()
	waitFor(t, "the waiter to reserve", func() bool { return l.campaign.lim.TokensAt(clk.Now()) < 0 })
	select {
	case <-done:
		t.Skip("the waiter finished its 250 ms wait before the test could throttle: machine too loaded")
	default:
	}
	start := time.Now()
	l.Throttled(pause)
	if got := (<-done).Sub(start); got < pause {
		t.Errorf("a caller holding tokens went out %v into a %v pause", got, pause)
	}
	// Its first tokens fell inside the pause, so it took fresh ones after:
	// two tokens of debt on a clock that has not moved.
	if got := l.campaign.lim.TokensAt(clk.Now()); got != -2 {
		t.Errorf("campaign tokens = %v, want -2 (fresh tokens taken after the pause)", got)
	}
}

func TestRetryAfterIsCappedByMaxPause(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := mustNew(t, Config{MaxPause: 200 * time.Millisecond, Now: clk.Now})
	l.Throttled(24 * time.Hour)
	if got, want := time.Duration(l.pauseUntil.Load()), 200*time.Millisecond; got != want {
		t.Fatalf("pause ends %v after the start, want %v", got, want)
	}
	clk.Advance(200 * time.Millisecond)
	mustAcquire(t, l, "", 1)() // no wait: the pause is over on the clock
}

// A caller waiting on a token priced at a trickle rate takes a new one when
// the rate rises, instead of sleeping out the old price.
func TestRateRiseWakesWaiters(t *testing.T) {
	t.Parallel()
	l := mustNew(t, Config{Concurrency: 4})
	l.SetSenderRate("+14155550100", 0.01)  // one token per 100 s
	mustAcquire(t, l, "+14155550100", 1)() // the burst's token: the next one is 100 s away
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		mustAcquire(t, l, "+14155550100", 1)()
		done <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	l.SetSenderRate("+14155550100", 100)
	select {
	case waited := <-done:
		if waited > 2*time.Second {
			t.Errorf("waited %v after the rate rose to 100/s", waited)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a caller still waits for a token priced at 0.01/s after the rate rose to 100/s")
	}
}
