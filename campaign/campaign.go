// Package campaign is smsblast's domain: campaigns, their recipients and the
// states a recipient moves through, the body template, and the small
// interfaces the engine, the importer and the webhooks need from storage.
// It depends on the standard library only. Below it:
//
//   - campaign/send: the send engine (claim, lease, send, reconcile, record);
//   - campaign/csvimport: recipient CSVs into a campaign;
//   - campaign/phone: phone numbers as people type them, into E.164;
//   - campaign/delivery: Twilio's status callbacks and STOP replies.
//
// Package store implements the interfaces on PostgreSQL, package twilio
// speaks to Twilio, and cmd/smsblast wires them together.
package campaign

import (
	"time"
)

// Status is a campaign's lifecycle state. The values are stored in
// campaigns.status and are part of the SQL contract.
type Status string

// Campaign states.
const (
	StatusDraft     Status = "draft"     // imported, never sent
	StatusScheduled Status = "scheduled" // launched, waiting for its start time
	StatusRunning   Status = "running"   // a sender is (or was, before a crash) working on it
	StatusPaused    Status = "paused"    // stopped by a user or by a campaign-level Twilio error; send resumes it
	StatusCompleted Status = "completed" // no recipient is pending or sending
	StatusCanceled  Status = "canceled"  // stopped for good; pending recipients stay pending
)

// Campaign is one bulk send: a sender, a body template and its recipients.
type Campaign struct {
	ID   int64
	Name string
	// From is the sender phone number in E.164 (the first of Pool); empty
	// when MessagingServiceSID is set.
	From string
	// Pool is every number the campaign sends from, From first, when it
	// has more than one; each recipient is always sent from the same one.
	Pool []string
	// Geomatch prefers the pool number with the recipient's area code.
	Geomatch bool
	// MessagingServiceSID (MG…) lets Twilio pick the sender; empty when From is set.
	MessagingServiceSID string
	// BodyTemplate is a text/template over the recipient's CSV columns.
	BodyTemplate string
	// StatusCallback is the URL Twilio posts delivery updates to; empty for none.
	StatusCallback string
	Status         Status
	// StatusReason says why the campaign is paused or canceled.
	StatusReason string
	// Rate caps the campaign's throughput in segments per second, shared by
	// all its send processes; 0 for no cap of its own (its senders' MPS
	// governs; an unregistered sender sends at DefaultRate).
	Rate float64
	// Concurrency caps in-flight requests per sender process.
	Concurrency int
	// MaxAttempts caps requests per recipient before it is marked failed.
	MaxAttempts int
	// ValidityPeriod in seconds (1–36000); 0 leaves Twilio's default.
	ValidityPeriod int
	// StartAt: nothing is sent before it (zero: at once). StopAt: nothing
	// is sent from it on, and what is unsent then expires (zero: never).
	StartAt, StopAt time.Time
	// TZ is the zone start and stop times were written in; it is also the
	// window's zone for numbers without one (unless WindowTZ says).
	TZ string
	// Window is when recipients may be texted, in their local time.
	Window Window
	// WindowTZ is the window's zone for numbers with no usable zone of
	// their own; empty: TZ.
	WindowTZ string
	// BudgetSegments and BudgetAmount are the most the campaign may spend,
	// in segments and in money at its prices (0: no limit).
	BudgetSegments int64
	BudgetAmount   float64
	// Frequency caps how often any campaign may have texted a recipient
	// for this one to text it (zero: no cap).
	Frequency FrequencyCap
	// SmartEncode: typographic characters with a GSM-7 look-alike are
	// replaced by it before a body is counted and sent.
	SmartEncode bool
	// MaxSegments is the most segments one body may take; an import
	// rejects rows over it and the engine never sends them.
	MaxSegments int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DefaultRate is a campaign's rate, in segments per second, when neither the
// campaign nor its sender's registration says: a US long code's 1 MPS is
// too slow to demonstrate anything and anything near 10DLC's tiers too fast
// for an unknown number.
const DefaultRate = 10

// Sender is the campaign's sender as Twilio names it: the From number (the
// first of a pool) or the Messaging Service SID.
func (c *Campaign) Sender() string {
	if c.From != "" {
		return c.From
	}
	return c.MessagingServiceSID
}

// Senders lists every sender the campaign sends from: the pool, or its one
// sender.
func (c *Campaign) Senders() []string {
	if len(c.Pool) > 0 {
		return c.Pool
	}
	return []string{c.Sender()}
}
