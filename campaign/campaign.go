// Package campaign is smsblast's domain: campaigns and their recipients, the
// CSV import, and the send engine with its claim/lease/reconcile protocol.
// It declares the small interfaces it needs from storage and from Twilio;
// package store (PostgreSQL) and package twilio (HTTP) implement them, and
// cmd/smsblast wires them together. Read the engine's documentation in
// engine.go for the invariants that make a resumed send text nobody twice.
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
	StatusRunning   Status = "running"   // a sender is (or was, before a crash) working on it
	StatusPaused    Status = "paused"    // stopped by a user or by a campaign-level Twilio error; send resumes it
	StatusCompleted Status = "completed" // no recipient is pending or sending
	StatusCanceled  Status = "canceled"  // stopped for good; pending recipients stay pending
)

// RecipientStatus is a recipient's delivery state (recipients.status).
type RecipientStatus string

// Recipient states; see design.md for the transitions.
const (
	Pending     RecipientStatus = "pending"     // waiting to be claimed (again, after a retryable error)
	Sending     RecipientStatus = "sending"     // claimed under a lease; may be in flight or in doubt
	Accepted    RecipientStatus = "accepted"    // Twilio took it (queued, accepted or scheduled)
	Sent        RecipientStatus = "sent"        // the carrier took it (status callback)
	Delivered   RecipientStatus = "delivered"   // the handset got it (status callback)
	Undelivered RecipientStatus = "undelivered" // the carrier could not deliver it (error_code 30xxx)
	Failed      RecipientStatus = "failed"      // Twilio refused it, or it failed after acceptance
	Skipped     RecipientStatus = "skipped"     // opted out: never texted
)

// Campaign is one bulk send: a sender, a body template and its recipients.
type Campaign struct {
	ID   int64
	Name string
	// From is the sender phone number in E.164; empty when MessagingServiceSID is set.
	From string
	// MessagingServiceSID (MG…) lets Twilio pick the sender; empty when From is set.
	MessagingServiceSID string
	// BodyTemplate is a text/template over the recipient's CSV columns.
	BodyTemplate string
	// StatusCallback is the URL Twilio posts delivery updates to; empty for none.
	StatusCallback string
	Status         Status
	// StatusReason says why the campaign is paused or canceled.
	StatusReason string
	// Rate is the campaign's throughput in segments per second, shared by all senders.
	Rate float64
	// Concurrency caps in-flight requests per sender process.
	Concurrency int
	// MaxAttempts caps requests per recipient before it is marked failed.
	MaxAttempts int
	// ValidityPeriod in seconds (1–36000); 0 leaves Twilio's default.
	ValidityPeriod int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Sender is the campaign's sender as Twilio names it: the From number or the
// Messaging Service SID.
func (c *Campaign) Sender() string {
	if c.From != "" {
		return c.From
	}
	return c.MessagingServiceSID
}
