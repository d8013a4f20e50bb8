package limiter

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAcquire measures Acquire+release at an unlimited rate from many
// goroutines — the engine's hot path — against a bare buffered-channel
// semaphore of the same size in the same run. "x-baseline" is the cost
// ratio (1 = free on top of the semaphore). With 1024 slots nobody blocks
// (pure overhead); with 10 slots and 256 goroutines most calls wait for a
// slot, as when the in-flight cap binds. The last case adds a finite but
// never-binding rate, to price the token bucket on the same path.
func BenchmarkAcquire(b *testing.B) {
	const goroutines = 256
	cases := []struct {
		name  string
		slots int
		rate  float64
	}{
		{"slots=1024", 1024, 0},
		{"slots=10", 10, 0},
		// A rate so high nobody waits: the cost of the token bucket itself.
		{"slots=1024/rate=1e9", 1024, 1e9},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// make bench runs benchmarks once (-benchtime 1x); still time
			// enough operations to mean something.
			n := max(b.N, 200_000)
			slots := c.slots
			l := mustNew(b, Config{Concurrency: slots, Rate: c.rate})
			// Cancelable, like the engine's, so a blocked caller pays for
			// the select on ctx.Done() as it would in production.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			limiterOp := func() {
				release, err := l.Acquire(ctx, "+15005550006", 1)
				if err != nil {
					b.Error(err)
					return
				}
				release()
			}
			sem := make(chan struct{}, slots)
			baselineOp := func() {
				sem <- struct{}{}
				<-sem
			}
			// Alternate rounds and keep the best of each, so a noisy
			// neighbour hurts both sides alike.
			best, baseline := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			var allocs float64
			b.ResetTimer()
			for range 3 {
				baseline = min(baseline, runParallel(n, goroutines, baselineOp))
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				best = min(best, runParallel(n, goroutines, limiterOp))
				runtime.ReadMemStats(&after)
				allocs = float64(after.Mallocs-before.Mallocs) / float64(n)
			}
			b.StopTimer()
			perOp := float64(best.Nanoseconds()) / float64(n)
			basePerOp := float64(baseline.Nanoseconds()) / float64(n)
			b.ReportMetric(perOp, "ns/acquire")
			b.ReportMetric(basePerOp, "baseline-ns/acquire")
			b.ReportMetric(perOp/basePerOp, "x-baseline")
			b.ReportMetric(1e9/perOp, "acquires/s")
			b.ReportMetric(allocs, "allocs/acquire")
		})
	}
}

// runParallel runs op n times spread over goroutines and returns the
// elapsed time from a common start.
func runParallel(n, goroutines int, op func()) time.Duration {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		count := n / goroutines
		if g < n%goroutines {
			count++
		}
		wg.Go(func() {
			<-start
			for range count {
				op()
			}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	return time.Since(t0)
}

// BenchmarkRate runs the limiter at a fixed 2,000 segments/s for 5 s with
// 50 goroutines sending a 1-, 2- and 3-segment mix and holding each slot
// 2 ms like a fast request, then reports the achieved rate over the run
// after a 1 s warm-up (whose first instant spends the initial burst) as
// "achieved/configured", and the worst deviation of any 1-second window
// from the configured rate as "worst-1s-dev-%" (and of any 2-second window
// as "worst-2s-dev-%"). The configured rate is the baseline. The
// issue asks for ±2% over 10 s windows; shorter windows are stricter, and a
// 1 s window mostly measures scheduler stalls on a loaded machine: a 50 ms
// stall moves 100 segments from one window into the next.
func BenchmarkRate(b *testing.B) {
	const (
		configured = 2000.0
		goroutines = 50
		warmUp     = time.Second
		run        = 5 * time.Second
		window     = time.Second
		hold       = 2 * time.Millisecond
	)
	l := mustNew(b, Config{Rate: configured, Concurrency: goroutines})
	type event struct {
		at       time.Duration
		segments int
	}
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	start := time.Now()
	logs := make([][]event, goroutines)
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; ; i++ {
				segments := 1 + (g+i)%3
				release, err := l.Acquire(ctx, "", segments)
				if err != nil {
					return
				}
				logs[g] = append(logs[g], event{time.Since(start), segments})
				time.Sleep(hold)
				release()
			}
		})
	}
	wg.Wait()
	b.StopTimer()

	var events []event
	for _, log := range logs {
		events = append(events, log...)
	}
	slices.SortFunc(events, func(x, y event) int { return int(x.at - y.at) })
	end := run
	// segmentsIn counts segments granted in [from, to).
	segmentsIn := func(from, to time.Duration) int {
		i, _ := slices.BinarySearchFunc(events, from, func(e event, t time.Duration) int { return int(e.at - t) })
		j, _ := slices.BinarySearchFunc(events, to, func(e event, t time.Duration) int { return int(e.at - t) })
		n := 0
		for _, e := range events[i:j] {
			n += e.segments
		}
		return n
	}
	achieved := float64(segmentsIn(warmUp, end)) / (end - warmUp).Seconds()
	// worstDev is the largest relative deviation of any window of length w
	// (sliding in 10 ms steps) after the warm-up.
	worstDev := func(w time.Duration) float64 {
		worst := 0.0
		for from := warmUp; from+w <= end; from += 10 * time.Millisecond {
			got := float64(segmentsIn(from, from+w)) / w.Seconds()
			worst = max(worst, math.Abs(got-configured)/configured)
		}
		return worst
	}
	b.ReportMetric(achieved/configured, "achieved/configured")
	b.ReportMetric(100*worstDev(window), "worst-1s-dev-%")
	b.ReportMetric(100*worstDev(2*window), "worst-2s-dev-%")
	b.ReportMetric(float64(segmentsIn(0, window))/configured, "first-1s/configured")
	b.ReportMetric(achieved, "segments/s")
}
