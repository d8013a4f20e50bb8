package limiter

import (
	"fmt"
	"math"
	"time"
)

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	// DefaultConcurrency is the in-flight cap when Config.Concurrency is 0.
	// Twilio does not publish its per-account limit on concurrent requests
	// (100 is the figure commonly cited); 10 leaves room for several senders
	// and for the reconcile pass sharing one account.
	DefaultConcurrency = 10
	// DefaultDecrease is the multiplicative cut applied on a throttle signal.
	DefaultDecrease = 0.5
	// DefaultRecoverEvery is the quiet time between additive increase steps.
	DefaultRecoverEvery = time.Second
	// DefaultCooldown is how long after one multiplicative decrease further
	// throttle signals are taken as echoes of the same overload. The 429s of
	// one overload arrive within about one request round trip (Twilio's is
	// typically well under a second), so one second groups them.
	DefaultCooldown = time.Second
	// DefaultMaxPause caps a Retry-After pause.
	DefaultMaxPause = time.Minute

	// burstWindow sizes the automatic burst: the bucket holds this fraction
	// of one second's tokens (Rate/20, i.e. 50 ms worth). See the package doc.
	burstWindow = 20
	// rateDivisor derives the default MinRate and Increase: Rate/20.
	rateDivisor = 20
)

// Config configures a [Limiter]. Every zero-valued field takes the default
// its comment names; [New] validates the rest. Rates are in SMS segments per
// second, the unit Twilio meters throughput in: a 1-segment message costs one
// token, so "N messages/s" of single-segment messages is Rate N.
type Config struct {
	// Rate is the campaign throughput in segments per second. 0 or +Inf
	// means unlimited (only the concurrency cap and Retry-After pauses
	// apply, and throttle signals cannot cut a rate that has no number).
	Rate float64
	// Burst is the campaign bucket depth in segments. Default (0):
	// max(1, ceil(Rate/20)), i.e. 50 ms of tokens, re-derived whenever the
	// rate changes; an explicit Burst stays fixed. Messages with more
	// segments than Burst are still charged in full (see [Limiter.Acquire]).
	Burst int
	// Concurrency caps requests in flight (slots held between Acquire and
	// release). Default 10.
	Concurrency int
	// MinRate is the floor multiplicative decrease never goes below.
	// Default Rate/20 (re-derived when the rate is changed by SetRate); it
	// may not exceed a finite Rate.
	MinRate float64
	// Decrease is the factor the rate is multiplied by on a throttle
	// signal, in (0, 1). Default 0.5.
	Decrease float64
	// Increase is the additive recovery, in segments/s, applied once per
	// RecoverEvery without a throttle signal. Default Rate/20 (re-derived
	// when the rate is changed by SetRate), so recovering from half the
	// ceiling takes about 10 steps.
	Increase float64
	// RecoverEvery is the quiet time between recovery steps. Default 1 s.
	RecoverEvery time.Duration
	// Cooldown is the minimum time between two multiplicative decreases;
	// throttle signals inside it only postpone recovery. Default 1 s.
	Cooldown time.Duration
	// MaxPause caps the pause a single Retry-After can impose, so a
	// nonsensical header cannot stall a campaign for hours. Default 1 min.
	MaxPause time.Duration
	// Now is the clock, for tests; nil means time.Now. It must be safe for
	// concurrent use. Waits are computed from it but slept on real timers.
	Now func() time.Time
}

// settings is a validated Config with defaults resolved. The fields derived
// from the rate (minRate, increase, and the burst when automatic) are kept
// as "explicit or zero" so SetRate can re-derive the defaults.
type settings struct {
	rate         float64 // +Inf when unlimited
	burst        int     // 0 = automatic
	concurrency  int
	minRate      float64 // 0 = Rate/20
	decrease     float64
	increase     float64 // 0 = Rate/20
	recoverEvery time.Duration
	cooldown     time.Duration
	maxPause     time.Duration
	now          func() time.Time
}

// validate checks cfg and resolves the defaults that do not depend on the rate.
func (cfg Config) validate() (settings, error) {
	bad := func(format string, args ...any) (settings, error) {
		return settings{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	s := settings{
		rate:         cfg.Rate,
		burst:        cfg.Burst,
		concurrency:  cfg.Concurrency,
		minRate:      cfg.MinRate,
		decrease:     cfg.Decrease,
		increase:     cfg.Increase,
		recoverEvery: cfg.RecoverEvery,
		cooldown:     cfg.Cooldown,
		maxPause:     cfg.MaxPause,
		now:          cfg.Now,
	}
	switch {
	case math.IsNaN(s.rate) || s.rate < 0:
		return bad("Rate is %v, want segments/s ≥ 0 (0 or +Inf = unlimited)", cfg.Rate)
	case s.burst < 0:
		return bad("Burst is %d, want ≥ 0 (0 = automatic)", cfg.Burst)
	case s.concurrency < 0:
		return bad("Concurrency is %d, want ≥ 0 (0 = %d)", cfg.Concurrency, DefaultConcurrency)
	case math.IsNaN(s.minRate) || math.IsInf(s.minRate, 0) || s.minRate < 0:
		return bad("MinRate is %v, want a finite rate ≥ 0 (0 = Rate/20)", cfg.MinRate)
	case s.rate > 0 && !math.IsInf(s.rate, 1) && s.minRate > s.rate:
		return bad("MinRate %v exceeds Rate %v", cfg.MinRate, cfg.Rate)
	case math.IsNaN(s.decrease) || s.decrease < 0 || s.decrease >= 1:
		return bad("Decrease is %v, want a factor in (0, 1) (0 = %v)", cfg.Decrease, DefaultDecrease)
	case math.IsNaN(s.increase) || math.IsInf(s.increase, 0) || s.increase < 0:
		return bad("Increase is %v, want a finite rate ≥ 0 (0 = Rate/20)", cfg.Increase)
	case s.recoverEvery < 0:
		return bad("RecoverEvery is %v, want ≥ 0 (0 = %v)", cfg.RecoverEvery, DefaultRecoverEvery)
	case s.cooldown < 0:
		return bad("Cooldown is %v, want ≥ 0 (0 = %v)", cfg.Cooldown, DefaultCooldown)
	case s.maxPause < 0:
		return bad("MaxPause is %v, want ≥ 0 (0 = %v)", cfg.MaxPause, DefaultMaxPause)
	}
	if s.rate == 0 {
		s.rate = math.Inf(1)
	}
	if s.concurrency == 0 {
		s.concurrency = DefaultConcurrency
	}
	if s.decrease == 0 {
		s.decrease = DefaultDecrease
	}
	if s.recoverEvery == 0 {
		s.recoverEvery = DefaultRecoverEvery
	}
	if s.cooldown == 0 {
		s.cooldown = DefaultCooldown
	}
	if s.maxPause == 0 {
		s.maxPause = DefaultMaxPause
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// autoBurst is the default bucket depth for rate r: 50 ms of tokens, at
// least one. See the package doc for why it is this small.
func autoBurst(r float64) int {
	if math.IsInf(r, 1) {
		return 1 // unused: an unlimited bucket ignores its burst
	}
	b := math.Ceil(r / burstWindow)
	if b < 1 {
		return 1
	}
	if b > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(b)
}
