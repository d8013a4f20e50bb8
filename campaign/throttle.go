package campaign

import (
	"sync"
	"time"
)

// throttleGate decides when 429s amount to an overload worth slowing down
// for. Twilio answers 429/20429 when an account has too many requests in
// flight; a stray one now and then (another process on the account, a
// transient spike) should not halve a campaign's rate, while a real
// overload answers many requests with 429 at once. So the gate signals the
// limiter only when, within one window, at least minThrottles requests and
// more than maxThrottled of all requests were throttled. Safe for
// concurrent use.
type throttleGate struct {
	mu        sync.Mutex
	start     time.Time
	requests  int
	throttles int
}

const (
	throttleWindow = time.Second
	minThrottles   = 3
	maxThrottled   = 0.05
)

// observe counts one answer and reports whether the limiter should slow down.
func (g *throttleGate) observe(throttled bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.start) >= throttleWindow {
		g.start, g.requests, g.throttles = now, 0, 0
	}
	g.requests++
	if !throttled {
		return false
	}
	g.throttles++
	return g.throttles >= minThrottles && float64(g.throttles) > maxThrottled*float64(g.requests)
}
