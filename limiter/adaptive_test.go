package limiter

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestThrottledBurstHalvesOnce(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := mustNew(t, Config{Rate: 100, Now: clk.Now})
	// 50 concurrent 429s, as when every in-flight request of one overload
	// comes back rejected.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			l.Throttled(0)
		})
	}
	close(start)
	wg.Wait()
	if got := l.Rate(); got != 50 {
		t.Fatalf("Rate() after 50 concurrent throttles = %v, want 50 (halved once)", got)
	}
	if got := float64(l.campaign.lim.Limit()); got != 50 {
		t.Errorf("campaign bucket limit = %v, want 50", got)
	}
	if got := l.campaign.lim.Burst(); got != 3 {
		t.Errorf("campaign bucket burst = %d, want 3 (re-derived for 50/s)", got)
	}
	if got := l.Ceiling(); got != 100 {
		t.Errorf("Ceiling() = %v, want 100", got)
	}
	// Past the cooldown, the next overload halves it again.
	clk.Advance(DefaultCooldown)
	l.Throttled(0)
	// The cooldown equals RecoverEvery, so one recovery step (+5) lands
	// first: (50+5)/2.
	if got := l.Rate(); got != 27.5 {
		t.Errorf("Rate() after the next overload = %v, want 27.5", got)
	}
}

func TestThrottledRespectsMinRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		minRate float64
		want    []float64 // Rate() after each throttle
	}{
		{"default floor is Rate/20", 0, []float64{50, 25, 12.5, 6.25, 5, 5}},
		{"explicit floor", 30, []float64{50, 30, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			// A short cooldown and a long recovery period isolate the
			// decrease from recovery.
			l := mustNew(t, Config{Rate: 100, MinRate: tt.minRate, Cooldown: time.Millisecond,
				RecoverEvery: time.Hour, Now: clk.Now})
			for i, want := range tt.want {
				clk.Advance(time.Millisecond)
				l.Throttled(0)
				if got := l.Rate(); got != want {
					t.Fatalf("Rate() after throttle %d = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestRecoveryIsAdditiveUpToTheCeiling(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	// A long cooldown: the second signal below only postpones recovery.
	l := mustNew(t, Config{Rate: 100, Cooldown: time.Hour, Now: clk.Now})
	l.Throttled(0)
	steps := []struct {
		advance  time.Duration
		throttle bool
		want     float64
	}{
		{999 * time.Millisecond, false, 50}, // not a full quiet period yet
		{time.Millisecond, false, 55},       // one step of Rate/20
		{500 * time.Millisecond, true, 55},  // a signal restarts the quiet period
		{900 * time.Millisecond, false, 55},
		{100 * time.Millisecond, false, 60},
		{3 * time.Second, false, 75}, // idle time counts: three steps at once
		{time.Hour, false, 100},      // and stops at the ceiling
		{time.Hour, false, 100},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if s.throttle {
			l.Throttled(0)
		}
		// Acquire applies recovery lazily; check the bucket before Rate()
		// would apply it.
		mustAcquire(t, l, "", 1)()
		if got := float64(l.campaign.lim.Limit()); got != s.want {
			t.Fatalf("step %d: bucket limit after Acquire = %v, want %v", i, got, s.want)
		}
		if got := l.Rate(); got != s.want {
			t.Fatalf("step %d: Rate() = %v, want %v", i, got, s.want)
		}
	}
	if next := l.nextStep.Load(); next != math.MaxInt64 {
		t.Errorf("nextStep = %d at the ceiling, want none", next)
	}
}

func TestThrottledWithUnlimitedRateOnlyPauses(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := mustNew(t, Config{Now: clk.Now})
	l.Throttled(time.Second)
	if got := l.Rate(); !math.IsInf(got, 1) {
		t.Errorf("Rate() = %v, want +Inf", got)
	}
	if !l.paused() {
		t.Error("not paused after Throttled(1s)")
	}
}

func TestSetRate(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := mustNew(t, Config{Rate: 100, Now: clk.Now})
	check := func(step string, rate, ceiling float64, burst int) {
		t.Helper()
		if got := l.Rate(); !approx(got, rate) {
			t.Errorf("%s: Rate() = %v, want %v", step, got, rate)
		}
		if got := l.Ceiling(); got != ceiling {
			t.Errorf("%s: Ceiling() = %v, want %v", step, got, ceiling)
		}
		if math.IsInf(rate, 1) {
			if l.limited.Load() {
				t.Errorf("%s: limited, want the unlimited fast path", step)
			}
			return
		}
		if got := float64(l.campaign.lim.Limit()); !approx(got, rate) {
			t.Errorf("%s: bucket limit = %v, want %v", step, got, rate)
		}
		if got := l.campaign.lim.Burst(); got != burst {
			t.Errorf("%s: bucket burst = %d, want %d", step, got, burst)
		}
	}
	l.SetRate(50)
	check("a second worker joined", 50, 50, 3)
	l.Throttled(0)
	check("throttled", 25, 50, 2)
	l.SetRate(200)
	check("back to one worker while throttled keeps the proportion", 100, 200, 5)
	clk.Advance(time.Second)
	check("recovery steps re-derived as 200/20", 110, 200, 6)
	l.SetRate(0)
	check("unlimited", math.Inf(1), math.Inf(1), 0)
	l.SetRate(80)
	check("limited again, unthrottled", 80, 80, 4)
	l.SetRate(math.Inf(1))
	check("+Inf is unlimited", math.Inf(1), math.Inf(1), 0)

	for _, bad := range []float64{-1, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetRate(%v) did not panic", bad)
				}
			}()
			l.SetRate(bad)
		}()
	}
}

func TestSetRateCapsExplicitMinRate(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	l := mustNew(t, Config{Rate: 100, MinRate: 40, Cooldown: time.Millisecond, Now: clk.Now})
	l.SetRate(30) // below the explicit floor
	l.Throttled(0)
	if got := l.Rate(); got != 30 {
		t.Errorf("Rate() = %v, want 30: the floor is capped at the ceiling", got)
	}
}

func TestSetRateTakesEffect(t *testing.T) {
	t.Parallel()
	l := mustNew(t, Config{})
	l.SetRate(20) // burst 1: the 11th acquisition is 10 tokens, 500 ms, away
	start := time.Now()
	for range 11 {
		mustAcquire(t, l, "", 1)()
	}
	if got := time.Since(start); got < 450*time.Millisecond {
		t.Errorf("11 acquisitions at 20/s took %v, want ≥ 500 ms", got)
	}
}

func TestSenderCap(t *testing.T) {
	t.Parallel()
	const a, b = "+15005550006", "+15005550010"
	l := mustNew(t, Config{Rate: 1000})
	l.SetSenderRate(a, 20) // burst 1
	start := time.Now()
	for range 11 {
		mustAcquire(t, l, a, 1)()
	}
	if got := time.Since(start); got < 450*time.Millisecond {
		t.Errorf("11 acquisitions for a sender capped at 20/s took %v, want ≥ 500 ms", got)
	}
	if m := l.senders.Load(); m == nil || (*m)[b] != nil {
		t.Errorf("uncapped sender %s has a bucket", b)
	}
	l.SetSenderRate(a, 0)
	if m := l.senders.Load(); m != nil {
		t.Errorf("senders = %v after removing the only cap, want none", *m)
	}
}

func TestSenderCapFollowsTheAdaptiveRate(t *testing.T) {
	t.Parallel()
	const sender = "+15005550006"
	tests := []struct {
		name     string
		rate     float64
		throttle float64 // sender limit after one throttle
	}{
		{"limited campaign", 100, 5},
		{"unlimited campaign", 0, 10}, // nothing to scale by
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			l := mustNew(t, Config{Rate: tt.rate, Now: clk.Now})
			l.SetSenderRate(sender, 10)
			limit := func() float64 { return float64((*l.senders.Load())[sender].lim.Limit()) }
			if got := limit(); got != 10 {
				t.Fatalf("sender limit = %v, want 10", got)
			}
			l.Throttled(0)
			if got := limit(); got != tt.throttle {
				t.Errorf("sender limit after a throttle = %v, want %v", got, tt.throttle)
			}
			clk.Advance(time.Hour)
			l.Rate() // applies recovery
			if got := limit(); got != 10 {
				t.Errorf("sender limit after recovery = %v, want 10", got)
			}
			l.SetSenderRate(sender, 4)
			if got := limit(); got != 4 {
				t.Errorf("sender limit after SetSenderRate(4) = %v, want 4", got)
			}
		})
	}
}

// TestConcurrentUse mixes every method from many goroutines; run it under
// -race. It asserts that nothing deadlocks and the cap holds.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const limit = 8
	l := mustNew(t, Config{Rate: 50000, Concurrency: limit, Cooldown: time.Millisecond,
		RecoverEvery: time.Millisecond})
	senders := []string{"", "+15005550006", "+15005550010"}
	l.SetSenderRate(senders[1], 40000)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 100 {
				release := mustAcquire(t, l, senders[(i+j)%len(senders)], 1+j%3)
				if n := l.InFlight(); n > limit {
					t.Errorf("InFlight() = %d, above %d", n, limit)
				}
				release()
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			switch i % 4 {
			case 0:
				l.Throttled(time.Duration(i%3) * time.Millisecond)
			case 1:
				l.SetRate(float64(40000 + i))
			case 2:
				l.SetSenderRate(senders[2], float64(30000+i))
			case 3:
				_, _ = l.Rate(), l.Ceiling()
			}
		}
	})
	wg.Wait()
	if n := l.InFlight(); n != 0 {
		t.Errorf("InFlight() = %d after all releases, want 0", n)
	}
}
