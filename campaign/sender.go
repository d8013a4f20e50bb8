package campaign

import (
	"fmt"
	"time"
)

// SenderKind is what a registered sender is, as Twilio sells them.
type SenderKind string

// Sender kinds (senders.kind).
const (
	LongCode         SenderKind = "long-code"         // a 10-digit number; 10DLC in the US
	TollFree         SenderKind = "toll-free"         // 3 MPS by default
	ShortCode        SenderKind = "short-code"        // 100 MPS and more
	MessagingService SenderKind = "messaging-service" // a pool Twilio manages (MG…)
)

// SenderKinds lists the kinds in the order help text shows them.
func SenderKinds() []SenderKind {
	return []SenderKind{LongCode, TollFree, ShortCode, MessagingService}
}

// DefaultCapZone is where a daily cap's day ends unless a sender says
// otherwise: T-Mobile resets its daily segment caps at midnight Pacific.
const DefaultCapZone = "America/Los_Angeles"

// DefaultMaxQueueDelay is how long Twilio may hold a sender's messages in
// its queue before smsblast takes the declared MPS for too high.
const DefaultMaxQueueDelay = time.Minute

// Sender is a registered sender: a number or Messaging Service whose
// throughput every campaign and process sending from it shares.
type Sender struct {
	// ID is the number in E.164 or the Messaging Service SID.
	ID   string
	Kind SenderKind
	// MPS is the declared throughput in segments per second.
	MPS float64
	// DailyCap is the most segments it may send in one day of CapZone;
	// 0 for none.
	DailyCap int64
	// CapZone is the IANA time zone whose midnight starts a new cap day.
	CapZone string
	// MaxQueueDelay is how long Twilio may queue its messages before
	// smsblast slows it down.
	MaxQueueDelay time.Duration
}

// CapDay returns the cap day t falls in (the date in the sender's reset
// zone) and when that day ends.
func (s *Sender) CapDay(t time.Time) (day time.Time, ends time.Time, err error) {
	zone := s.CapZone
	if zone == "" {
		zone = DefaultCapZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("cap day of sender %s: %w", s.ID, err)
	}
	l := t.In(loc)
	day = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return day, day.AddDate(0, 0, 1), nil
}

// SenderUse is what the registry knows of a sender now: today's usage
// against its cap, the queue delay Twilio shows, and who sends from it.
type SenderUse struct {
	Sender
	// Day is today's cap day, Used the segments sent or reserved in it.
	Day  time.Time
	Used int64
	// ResetsAt is when the cap day ends.
	ResetsAt time.Time
	// QueueDelay is how long Twilio recently held its messages before
	// sending them (from status callbacks); zero when unknown.
	QueueDelay time.Duration
	// Factor scales MPS while the queue delay is over MaxQueueDelay (1: none).
	Factor float64
	// Shares are the live send processes using it.
	Shares []SenderShare
}

// EffectiveMPS is the declared MPS after the queue-delay guard.
func (u *SenderUse) EffectiveMPS() float64 {
	f := u.Factor
	if f <= 0 || f > 1 {
		f = 1
	}
	return u.MPS * f
}

// Capped reports whether the sender has used its whole daily cap.
func (u *SenderUse) Capped() bool { return u.DailyCap > 0 && u.Used >= u.DailyCap }

// SenderShare is one live send process's use of a sender.
type SenderShare struct {
	Sender     string
	Worker     string
	CampaignID int64
	Campaign   string
	// Active: the process has work for this sender now (not held).
	Active bool
	// Demand is the most it would use: its campaign's own rate share;
	// +Inf when the campaign has no rate of its own.
	Demand float64
	// Rate is the share of the sender's MPS it allows itself.
	Rate float64
}
