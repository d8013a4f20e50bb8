package send

import (
	"sync/atomic"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// Stats counts what an engine did since it was made.
type Stats struct {
	Claimed  int64 // rows claimed for sending
	Accepted int64 // Twilio took the message (including found by reconciliation)
	Failed   int64 // refused for good, or out of attempts
	Skipped  int64 // opted out
	Retried  int64 // back to pending after a retryable error
	InDoubt  int64 // answers lost (5xx, timeouts)
	Found    int64 // in-doubt rows whose message Twilio had
	Requeued int64 // in-doubt rows whose message Twilio did not have
	Review   int64 // in-doubt rows left for a person: a message that may be theirs cannot be compared
	Released int64 // claimed rows given back unsent (stop, throttle, lease)
	Expired  int64 // unsent when the campaign's stop time passed

	// TransportErrors counts requests that got no answer at all (refused,
	// reset, timed out); the log names each kind.
	TransportErrors int64

	// Live figures of the run in progress (zero between runs).
	InFlight int     // requests to Twilio in flight
	Rate     float64 // the limiter's current rate, segments per second
	Ceiling  float64 // this worker's share of the campaign rate
	// UnreachableSince is when Twilio last stopped answering, zero while it
	// answers; LastTransportError is the latest failure's kind.
	UnreachableSince   time.Time
	LastTransportError string
	// WaitingFor says, while all that is left is held, why (a daily cap, a
	// retry's back-off); WaitingUntil is when sending resumes.
	WaitingFor   string
	WaitingUntil time.Time
}

type counters struct {
	claimed, accepted, failed, skipped, retried, inDoubt, found, requeued, review, released, transportErrors, expired atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Claimed: c.claimed.Load(), Accepted: c.accepted.Load(), Failed: c.failed.Load(),
		Skipped: c.skipped.Load(), Retried: c.retried.Load(), InDoubt: c.inDoubt.Load(),
		Found: c.found.Load(), Requeued: c.requeued.Load(), Review: c.review.Load(), Released: c.released.Load(),
		TransportErrors: c.transportErrors.Load(), Expired: c.expired.Load(),
	}
}

// count tallies a recorded outcome.
func (c *counters) count(o *campaign.Outcome) {
	switch o.Status {
	case campaign.Accepted, campaign.Sent, campaign.Delivered, campaign.Undelivered:
		c.accepted.Add(1)
	case campaign.Failed:
		c.failed.Add(1)
	case campaign.Skipped:
		c.skipped.Add(1)
	case campaign.Pending:
		if o.Unclaim && o.Audit == nil {
			c.released.Add(1)
		} else {
			c.retried.Add(1)
		}
	}
}

// Stats returns the engine's counters so far, and the live figures of the
// run in progress; safe to call while Run works.
func (e *Engine) Stats() Stats {
	s := e.stats.snapshot()
	if r := e.current.Load(); r != nil {
		s.InFlight, s.Rate, s.Ceiling = r.lim.InFlight(), r.lim.Rate(), r.lim.Ceiling()
		s.UnreachableSince, s.LastTransportError = r.transport.snapshot()
		if w := r.waitingFor.Load(); w != nil && r.waitingUntil.Load() != nil && !r.working.Load() {
			s.WaitingFor, s.WaitingUntil = *w, *r.waitingUntil.Load()
		}
	}
	return s
}
