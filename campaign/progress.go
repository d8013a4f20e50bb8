package campaign

import (
	"cmp"
	"time"
)

// Progress is a campaign's state at a glance: what `smsblast status` shows.
type Progress struct {
	Campaign Campaign
	Total    int64
	// Counts by recipient state; states with no recipients are absent.
	Counts map[RecipientStatus]int64
	// CurrentRate is accepted messages per second over the last ten seconds.
	CurrentRate float64
	// AverageRate is accepted messages per second between the first and last.
	AverageRate float64
	FirstSentAt time.Time
	LastSentAt  time.Time
	// LiveWorkers is how many send processes heartbeat on the campaign.
	LiveWorkers int
	TopErrors   []ErrorCount
	// Holds say why pending recipients wait, and until when; Senders are
	// the campaign's registered senders with their usage (both filled by
	// whoever reads the registry; see SenderHolds).
	Holds   []Hold
	Senders []*SenderUse
}

// ErrorCount is how many recipients ended with one Twilio error code.
type ErrorCount struct {
	Code        int
	Description string
	Count       int64
}

// Left is how many recipients still need a request or a verdict.
func (p *Progress) Left() int64 { return p.Counts[Pending] + p.Counts[Sending] }

// ETA estimates the time to finish from now: the recipients left at the
// current rate (else the average), and no sooner than the latest of until,
// when the holds on some of them lift (a campaign whose last recipients
// wait for their send window is not done before it opens). Zero when
// unknown or done.
func (p *Progress) ETA(now time.Time, until ...time.Time) time.Duration {
	if p.Left() == 0 {
		return 0
	}
	var eta time.Duration
	if rate := cmp.Or(p.CurrentRate, p.AverageRate); rate > 0 {
		eta = time.Duration(float64(p.Left()) / rate * float64(time.Second))
	}
	for _, u := range until {
		eta = max(eta, u.Sub(now))
	}
	return eta.Round(time.Second)
}

// ZoneCount is how many pending recipients share one value of
// recipients.time_zones (the IANA zones of the number, comma-separated; ""
// when unknown), and their segments.
type ZoneCount struct {
	TimeZones  string
	Recipients int64
	Segments   int64
}
