package send

import (
	"sync"
	"time"
)

// gate decides when bad answers amount to a condition worth slowing down
// for: an overload (429s) or an outage (answers lost). Twilio answers
// 429/20429 when an account has too many requests in flight; a stray one
// now and then (another process on the account, a transient spike) should
// not halve a campaign's rate, while a real overload answers many requests
// with 429 at once. Likewise one lost answer is noise, most answers lost is
// an outage. So a gate fires when, within one window, at least min answers
// and more than frac of all answers were bad — or at once when 4×min answers
// in a row were bad, however the window began. Safe for concurrent use.
type gate struct {
	min  int
	frac float64

	mu      sync.Mutex
	start   time.Time
	answers int
	bad     int
	streak  int  // bad answers in a row, across windows
	fired   bool // this window has fired already
}

const gateWindow = time.Second

// Thresholds: over 5% of a second's answers throttled is an overload; over
// half of them lost is an outage.
func newThrottleGate() *gate { return &gate{min: 3, frac: 0.05} }
func newOutageGate() *gate   { return &gate{min: 5, frac: 0.5} }

// observe counts one answer and reports whether the gate fires. It judges
// whole windows — when one closes, or sooner once it holds a clear storm
// (4×min bad answers, or that many in a row) — because the first few
// answers of a window are too few to tell a 2% trickle from a 10% overload.
func (g *gate) observe(bad bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	fire := false
	if now.Sub(g.start) >= gateWindow {
		fire = g.firesLocked(g.min)
		g.start, g.answers, g.bad, g.fired = now, 0, 0, false
	}
	g.answers++
	if bad {
		g.bad++
		g.streak++
	} else {
		g.streak = 0
	}
	if !g.fired && (g.firesLocked(4*g.min) || g.streak >= 4*g.min) {
		fire = true
	}
	g.fired = g.fired || fire
	return fire
}

func (g *gate) firesLocked(min int) bool {
	return g.bad >= min && float64(g.bad) > g.frac*float64(g.answers)
}
