package limiter

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces one campaign's sends: a token bucket in segments for the
// campaign, optional per-sender buckets, a cap on requests in flight, and an
// adaptive (AIMD) rate with Retry-After pauses. Create it with [New].
//
// A Limiter is safe for concurrent use by any number of goroutines.
type Limiter struct {
	s     settings
	epoch time.Time // origin of the nanosecond timestamps below

	// free holds the slots not in use; its capacity is the cap.
	free chan *slot

	// campaign is the campaign bucket. Its limit is rate.Inf when unlimited.
	campaign *bucket
	// limited mirrors "the campaign rate is finite" so the unlimited hot
	// path never touches the bucket's mutex.
	limited atomic.Bool
	// senders is an immutable map, replaced whole by SetSenderRate, so the
	// hot path reads it without a lock; nil when no sender has a cap.
	senders atomic.Pointer[map[string]*senderBucket]

	// pauseUntil is the end of the Retry-After pause in ns since epoch, 0
	// when none; pauseEpoch counts pauses so a waiter can tell whether one
	// began while it slept.
	pauseUntil atomic.Int64
	pauseEpoch atomic.Uint64
	// nextStep is when the next additive-increase step is due, in ns since
	// epoch; math.MaxInt64 when the rate is at its ceiling (or unlimited).
	nextStep atomic.Int64
	// changed is closed and replaced whenever a rate changes (notifyLocked).
	changed atomic.Pointer[chan struct{}]

	mu sync.Mutex // guards the adaptive state below and writes to senders
	// ceiling is the configured rate, +Inf when unlimited; current is the
	// adaptive rate, ≤ ceiling.
	ceiling, current float64
	// lastSignal is the last throttle signal or recovery step: recovery
	// counts whole RecoverEvery periods from it.
	lastSignal time.Time
	// lastDecrease is the last multiplicative decrease (zero: never).
	lastDecrease time.Time
}

// bucket is a rate.Limiter plus a lock-free copy of its burst, which the
// hot path needs to split oversized messages into chunks.
type bucket struct {
	lim   *rate.Limiter
	burst atomic.Int64
}

// senderBucket is one sender's bucket; limit is its configured rate before
// the adaptive factor is applied.
type senderBucket struct {
	*bucket
	limit float64
}

// New validates cfg and returns a Limiter ready for use. Invalid fields are
// reported as ErrInvalidConfig, naming the field.
func New(cfg Config) (*Limiter, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	now := s.now()
	l := &Limiter{
		s:          s,
		epoch:      now,
		free:       make(chan *slot, s.concurrency),
		campaign:   newBucket(s.rate, s.burst),
		ceiling:    s.rate,
		current:    s.rate,
		lastSignal: now,
	}
	for range s.concurrency {
		l.free <- new(slot)
	}
	l.mu.Lock()
	l.applyLocked(now)
	l.mu.Unlock()
	return l, nil
}

// noRelease is what Acquire returns with an error, so a caller that defers
// release before checking the error does not call a nil func.
func noRelease() {}

// Acquire waits until a request of the given number of segments may be sent
// for sender, then returns a release func that frees its in-flight slot.
// It waits, in this order, for:
//
//  1. an in-flight slot (Config.Concurrency), held until release is called;
//  2. the end of any Retry-After pause (see [Limiter.Throttled]);
//  3. segments tokens from the campaign bucket and, when [Limiter.SetSenderRate]
//     gave sender a cap, from that sender's bucket too.
//
// The slot is taken first so that at most Concurrency callers hold future
// token reservations: rate changes and pauses then take effect within one
// round of in-flight requests. A pause that begins while a caller waits for
// tokens is waited out too, and the caller then takes fresh tokens, so
// resuming after a pause is paced rather than a burst.
//
// segments < 1 counts as 1. A message with more segments than the bucket's
// burst is charged in full, in burst-sized chunks (the bucket goes into debt
// and later callers wait it off), so it neither deadlocks nor slips through
// cheaper than it is.
//
// If ctx ends first, Acquire returns ctx.Err() holding nothing: the slot is
// freed and unspent token reservations are returned to the buckets. Release
// is idempotent; on error it is a no-op, never nil.
func (l *Limiter) Acquire(ctx context.Context, sender string, segments int) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return noRelease, err
	}
	if segments < 1 {
		segments = 1
	}
	var sl *slot
	select {
	case sl = <-l.free:
	default:
		if done := ctx.Done(); done == nil {
			sl = <-l.free // a context that never ends: a plain receive is cheaper than select
		} else {
			select {
			case sl = <-l.free:
			case <-done:
				return noRelease, ctx.Err()
			}
		}
	}
	// Fast path: unlimited, unpaused, no sender caps — three atomic loads.
	if l.pauseUntil.Load() != 0 || l.limited.Load() || l.senders.Load() != nil {
		if err := l.wait(ctx, sender, segments); err != nil {
			l.free <- sl
			return noRelease, err
		}
	}
	// The closure captures the slot's generation by value: the first call
	// moves the slot to the next generation and returns it, any later call
	// (even after the slot was reused) finds the generation moved on and
	// does nothing. One allocation, the closure itself.
	gen := sl.gen.Load()
	free := l.free
	return func() {
		if sl.gen.CompareAndSwap(gen, gen+1) {
			free <- sl
		}
	}, nil
}

// slot is one in-flight slot. Slots circulate through Limiter.free; gen
// counts how many times this one has been released.
type slot struct {
	gen atomic.Uint64
}

// wait performs steps 2 and 3 of Acquire for a caller holding a slot.
func (l *Limiter) wait(ctx context.Context, sender string, segments int) error {
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		epoch := l.pauseEpoch.Load()
		changed := *l.changed.Load() // before reserving: a change from here on wakes us
		now := l.s.now()
		if l.nanos(now) >= l.nextStep.Load() {
			l.recover(now)
		}

		// Reservations: usually one per bucket; more for oversized messages.
		var buf [4]*rate.Reservation
		rs := buf[:0]
		if l.limited.Load() {
			rs = l.campaign.reserve(rs, now, segments)
		}
		if m := l.senders.Load(); m != nil {
			if sb := (*m)[sender]; sb != nil {
				rs = sb.reserve(rs, now, segments)
			}
		}
		var delay time.Duration
		for _, r := range rs {
			delay = max(delay, r.DelayFrom(now))
		}
		if delay > 0 {
			// Only a long wait (a token priced at a trickle rate) is worth
			// re-pricing when a rate changes; short ones keep their place,
			// so frequent small changes never hand tokens back and forth.
			var wake <-chan struct{}
			if delay > repriceAfter {
				wake = changed
			}
			woke, err := sleepUnless(ctx, delay, wake)
			if err != nil || woke {
				// Newest first, so each cancel can hand back its tokens.
				at := l.s.now()
				for i := len(rs) - 1; i >= 0; i-- {
					rs[i].CancelAt(at)
				}
				if err != nil {
					return err
				}
				continue // a rate changed: reserve again at the new one
			}
		}
		if l.pauseEpoch.Load() == epoch || !l.paused() {
			return nil
		}
		// A Retry-After began while we slept: our tokens fall inside the
		// pause. Wait it out and take fresh ones so resumption is paced.
	}
}

// newBucket returns a full bucket for rate r (+Inf: unlimited) and burst
// (0: automatic). A full one, because rate.Limiter.SetBurst never adds
// tokens: building it empty and raising the burst would start it at 1.
func newBucket(r float64, burst int) *bucket {
	if burst == 0 {
		burst = autoBurst(r)
	}
	lim := rate.Limit(r)
	if math.IsInf(r, 1) {
		lim = rate.Inf
	}
	b := &bucket{lim: rate.NewLimiter(lim, burst)}
	b.burst.Store(int64(burst))
	return b
}

// reserve appends reservations for n tokens to rs, in chunks no larger than
// the bucket's burst, so any n can be granted: the bucket goes into debt.
func (b *bucket) reserve(rs []*rate.Reservation, now time.Time, n int) []*rate.Reservation {
	for n > 0 {
		c := min(n, int(b.burst.Load()))
		r := b.lim.ReserveN(now, c)
		if !r.OK() {
			// The burst shrank after we read it; read it again under the
			// bucket's own lock and retry.
			b.burst.Store(int64(max(1, b.lim.Burst())))
			continue
		}
		rs = append(rs, r)
		n -= c
	}
	return rs
}

// setRate sets the bucket's limit and burst (auto when burst is 0) at now.
func (b *bucket) setRate(now time.Time, r float64, burst int) {
	if math.IsInf(r, 1) {
		b.lim.SetLimitAt(now, rate.Inf)
		return
	}
	if burst == 0 {
		burst = autoBurst(r)
	}
	// Burst first: a caller reading the mirror between the two stores sees
	// a value at most the old burst or the new one, and reserve copes.
	b.lim.SetBurstAt(now, burst)
	b.burst.Store(int64(burst))
	b.lim.SetLimitAt(now, rate.Limit(r))
}

// waitPause returns once no Retry-After pause is in force, or ctx ends.
func (l *Limiter) waitPause(ctx context.Context) error {
	for {
		until := l.pauseUntil.Load()
		if until == 0 {
			return nil
		}
		now := l.nanos(l.s.now())
		if now >= until {
			l.pauseUntil.CompareAndSwap(until, 0)
			return nil
		}
		if err := sleep(ctx, time.Duration(until-now)); err != nil {
			return err
		}
		// Re-check only if the pause was extended meanwhile; otherwise we
		// slept exactly its length, which also keeps a test clock that
		// does not move from pausing forever.
		if l.pauseUntil.Load() == until {
			return nil
		}
	}
}

// paused reports whether a Retry-After pause is in force now.
func (l *Limiter) paused() bool {
	until := l.pauseUntil.Load()
	return until != 0 && l.nanos(l.s.now()) < until
}

// nanos converts a clock reading to ns since the limiter's epoch; with the
// real clock this uses the monotonic reading, so wall-clock jumps do not
// stretch or cut pauses.
func (l *Limiter) nanos(t time.Time) int64 {
	return int64(t.Sub(l.epoch))
}

// repriceAfter is the shortest wait for a token that a rate change re-prices.
const repriceAfter = time.Second

// sleepUnless waits for d, or until ctx ends (returning ctx.Err()), or until
// changed is closed (returning true).
func sleepUnless(ctx context.Context, d time.Duration, changed <-chan struct{}) (bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return false, nil
	case <-changed:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// sleep waits for d or until ctx ends, returning ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InFlight returns the number of slots held: callers between a successful
// slot grab in Acquire and their release, including those still waiting
// for tokens or a pause.
func (l *Limiter) InFlight() int {
	return cap(l.free) - len(l.free)
}
