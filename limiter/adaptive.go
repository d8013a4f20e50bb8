package limiter

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// Throttled reports a throttle signal from Twilio: HTTP 429 / error 20429
// (too many concurrent requests) or 21611 (the sender's queue is full).
//
// It cuts the rate multiplicatively (by Config.Decrease, not below
// Config.MinRate), at most once per Config.Cooldown: the 429s answering
// requests that were already in flight when the first one arrived describe
// the same overload, so a burst of 50 concurrent 429s halves the rate once
// rather than 50 times. Every signal, counted or not, restarts the wait
// before additive recovery, so the rate does not climb while 429s continue.
//
// If retryAfter > 0 every acquisition, including callers already waiting in
// Acquire, waits until retryAfter (capped at Config.MaxPause) from now; a
// shorter Retry-After never cuts a longer pause short.
//
// With an unlimited rate there is nothing to cut: only the pause applies.
// Per-sender caps are scaled by the same factor as the campaign rate (see
// [Limiter.SetSenderRate]), which is what makes 21611 slow a capped sender.
func (l *Limiter) Throttled(retryAfter time.Duration) {
	now := l.s.now()
	l.mu.Lock()
	l.recoverLocked(now) // cut what the rate is now, not a stale value
	l.lastSignal = now
	if !math.IsInf(l.ceiling, 1) && (l.lastDecrease.IsZero() || now.Sub(l.lastDecrease) >= l.s.cooldown) {
		l.current = max(l.current*l.s.decrease, l.floorLocked())
		l.lastDecrease = now
	}
	l.applyLocked(now)
	l.mu.Unlock()

	if retryAfter <= 0 {
		return
	}
	until := l.nanos(now) + int64(min(retryAfter, l.s.maxPause))
	for {
		cur := l.pauseUntil.Load()
		if cur >= until || l.pauseUntil.CompareAndSwap(cur, until) {
			break
		}
	}
	// After the store, so a waiter that sees the new epoch sees the pause.
	l.pauseEpoch.Add(1)
}

// SetRate changes the ceiling to r segments per second: the campaign rate
// changed, or the engine re-split it among a changed number of live
// workers. 0 or +Inf means unlimited. The adaptive state keeps its
// proportion: a limiter running at half its old ceiling after a throttle
// runs at half the new one and recovers towards r; an unthrottled one runs
// at r at once. Defaulted MinRate, Increase and Burst are re-derived from r;
// an explicit MinRate above r is capped at r.
//
// Callers dividing a rate by a worker count must not divide by zero: +Inf
// means unlimited here. SetRate panics if r is negative or NaN, which is a
// bug in the caller rather than a condition to handle.
func (l *Limiter) SetRate(r float64) {
	if math.IsNaN(r) || r < 0 {
		panic(fmt.Sprintf("limiter: SetRate(%v): rate must be ≥ 0", r))
	}
	if r == 0 {
		r = math.Inf(1)
	}
	now := l.s.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recoverLocked(now)
	fraction := 1.0
	if !math.IsInf(l.ceiling, 1) {
		fraction = l.current / l.ceiling
	}
	l.ceiling = r
	l.current = r
	if !math.IsInf(r, 1) {
		l.current = max(r*fraction, l.floorLocked())
	}
	l.applyLocked(now)
}

// Rate returns the current effective campaign rate in segments per second
// (after throttle cuts and recovery so far); +Inf when unlimited.
func (l *Limiter) Rate() float64 {
	now := l.s.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.recoverLocked(now) {
		l.applyLocked(now)
	}
	return l.current
}

// Ceiling returns the configured campaign rate (from Config.Rate or the
// last SetRate) in segments per second; +Inf when unlimited.
func (l *Limiter) Ceiling() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ceiling
}

// SetSenderRate caps sender at segmentsPerSecond, on top of the campaign
// rate; 0 or +Inf removes the cap. Twilio meters throughput per sender (a
// US long code is ~1 segment/s), so with several senders each needs its own
// bucket. The cap is scaled by the campaign's adaptive factor (current rate
// / ceiling), so a throttle signal slows capped senders too. Its burst is
// automatic: max(1, ceil(rate/20)). SetSenderRate panics if
// segmentsPerSecond is negative or NaN.
func (l *Limiter) SetSenderRate(sender string, segmentsPerSecond float64) {
	if math.IsNaN(segmentsPerSecond) || segmentsPerSecond < 0 {
		panic(fmt.Sprintf("limiter: SetSenderRate(%q, %v): rate must be ≥ 0", sender, segmentsPerSecond))
	}
	now := l.s.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	unlimited := segmentsPerSecond == 0 || math.IsInf(segmentsPerSecond, 1)
	m := l.senders.Load()
	if m != nil {
		if sb := (*m)[sender]; sb != nil && sb.limit == segmentsPerSecond {
			return // unchanged: callers waiting on its tokens keep their place
		}
	}
	if unlimited && (m == nil || (*m)[sender] == nil) {
		return
	}
	// Copy on write: SetSenderRate is rare, Acquire reads the map lock-free.
	next := map[string]*senderBucket{}
	if m != nil {
		next = maps.Clone(*m)
	}
	if unlimited {
		delete(next, sender)
	} else {
		// A new senderBucket rather than an update, so a reader of the old
		// map never sees cap change under it; an existing bucket (and its
		// tokens) carries over.
		sb := &senderBucket{limit: segmentsPerSecond}
		if old := next[sender]; old != nil {
			sb.bucket = old.bucket
		} else {
			sb.bucket = newBucket(segmentsPerSecond*l.factorLocked(), 0)
		}
		next[sender] = sb
		sb.setRate(now, sb.limit*l.factorLocked(), 0)
	}
	if len(next) == 0 {
		l.senders.Store(nil)
	} else {
		l.senders.Store(&next)
	}
	l.notifyLocked()
}

// notifyLocked wakes the callers sleeping on reservations taken at the old
// rates, so that they take new ones: after a rate rises, nobody keeps
// waiting for a token priced at the old rate (a worker given a trickle while
// it waited for room would otherwise sleep for minutes after the room came).
func (l *Limiter) notifyLocked() {
	ch := make(chan struct{})
	if old := l.changed.Swap(&ch); old != nil {
		close(*old)
	}
}

// recoverLocked applies the additive-increase steps due by now: one
// Increase per whole RecoverEvery since the last throttle signal or step,
// never above the ceiling. It reports whether the rate changed.
func (l *Limiter) recoverLocked(now time.Time) bool {
	if math.IsInf(l.ceiling, 1) || l.current >= l.ceiling {
		return false
	}
	steps := now.Sub(l.lastSignal) / l.s.recoverEvery
	if steps <= 0 {
		return false
	}
	l.current = min(l.ceiling, l.current+float64(steps)*l.increaseLocked())
	l.lastSignal = l.lastSignal.Add(steps * l.s.recoverEvery)
	return true
}

// recover applies due recovery steps; Acquire calls it when nextStep passes.
func (l *Limiter) recover(now time.Time) {
	l.mu.Lock()
	if l.recoverLocked(now) {
		l.applyLocked(now)
	}
	l.mu.Unlock()
}

// applyLocked pushes the adaptive state into the buckets and the lock-free
// mirrors the hot path reads.
func (l *Limiter) applyLocked(now time.Time) {
	limited := !math.IsInf(l.current, 1)
	l.campaign.setRate(now, l.current, l.s.burst)
	l.limited.Store(limited)
	if m := l.senders.Load(); m != nil {
		f := l.factorLocked()
		for _, sb := range *m {
			sb.setRate(now, sb.limit*f, 0)
		}
	}
	next := int64(math.MaxInt64)
	if limited && l.current < l.ceiling {
		next = l.nanos(l.lastSignal.Add(l.s.recoverEvery))
	}
	l.nextStep.Store(next)
	l.notifyLocked()
}

// factorLocked is the adaptive factor applied to sender caps.
func (l *Limiter) factorLocked() float64 {
	if math.IsInf(l.ceiling, 1) {
		return 1
	}
	return l.current / l.ceiling
}

// floorLocked is the rate multiplicative decrease stops at.
func (l *Limiter) floorLocked() float64 {
	floor := l.s.minRate
	if floor == 0 {
		floor = l.ceiling / rateDivisor
	}
	return min(floor, l.ceiling)
}

// increaseLocked is the additive step in segments/s.
func (l *Limiter) increaseLocked() float64 {
	if l.s.increase == 0 {
		return l.ceiling / rateDivisor
	}
	return l.s.increase
}
