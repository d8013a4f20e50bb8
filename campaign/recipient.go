package campaign

import "strings"

// RecipientStatus is a recipient's delivery state (recipients.status).
type RecipientStatus string

// Recipient states. A recipient is claimed from pending into sending under a
// lease, and leaves sending for accepted (Twilio took the message), failed,
// skipped, or pending again (a retryable error, or an attempt reconciliation
// proved was never sent). Status callbacks then move accepted recipients on
// to sent and to one of the final verdicts.
const (
	Pending     RecipientStatus = "pending"     // waiting to be claimed (again, after a retryable error)
	Sending     RecipientStatus = "sending"     // claimed under a lease; may be in flight or in doubt
	Accepted    RecipientStatus = "accepted"    // Twilio took it (queued, accepted or scheduled)
	Sent        RecipientStatus = "sent"        // the carrier took it (status callback)
	Delivered   RecipientStatus = "delivered"   // the handset got it (status callback)
	Undelivered RecipientStatus = "undelivered" // the carrier could not deliver it (error_code 30xxx)
	Failed      RecipientStatus = "failed"      // Twilio refused it, or it failed after acceptance
	Skipped     RecipientStatus = "skipped"     // opted out: never texted
	Expired     RecipientStatus = "expired"     // still unsent when the campaign's stop-at passed
	Review      RecipientStatus = "review"      // in doubt, and only a person can tell whether it was sent
)

// Rank orders recipient states for status callbacks. Twilio neither orders
// nor de-duplicates its callbacks, so a recipient's status only ever moves up
// this ranking:
//
//	pending < sending < accepted < sent < delivered = undelivered = failed
//
// The three final states share the top rank: the first final status applied
// stays (a carrier's receipt is not taken back; later ones are kept only in
// message_events). Duplicates rank equal to what they repeat, so they are
// harmless. Unknown states rank -1.
func (s RecipientStatus) Rank() int {
	switch s {
	case Pending:
		return 0
	case Sending:
		return 1
	case Accepted:
		return 2
	case Sent:
		return 3
	case Delivered, Undelivered, Failed:
		return 4
	case Skipped, Expired:
		// Skipped and expired rows were never texted: no callback can
		// concern them, and ranking them final keeps a stray one from
		// touching them.
		return 4
	case Review:
		// A person decides (smsblast resolve), not a callback.
		return 4
	}
	return -1
}

// Final reports whether s is a final delivery verdict (or skipped, expired,
// or waiting for a person's review): no status callback changes it.
func (s RecipientStatus) Final() bool { return s.Rank() == 4 }

// RecipientStatuses lists every recipient state, in rank order.
func RecipientStatuses() []RecipientStatus {
	return []RecipientStatus{Pending, Sending, Accepted, Sent, Delivered, Undelivered, Failed, Skipped, Expired, Review}
}

// Advances reports whether a status callback saying next may move a
// recipient that is in cur: only to a strictly higher rank (see the
// ordering above).
func Advances(cur, next RecipientStatus) bool {
	return next.Rank() > cur.Rank()
}

// FromTwilioStatus maps a Twilio message status to the recipient state it
// means, and reports whether it is a status an outbound message can have.
// It is the one mapping: the send engine applies it to the API's answers
// (create, and the Messages list when reconciling) and package delivery to
// status callbacks.
//
//   - queued, accepted, scheduled and Twilio's own "sending" are all still
//     inside Twilio: accepted.
//   - read (WhatsApp and RCS read receipts) implies delivered.
//   - partially_delivered (some parts of a multi-part message confirmed,
//     not all) carries no verdict: sent. A later delivered or undelivered
//     still moves it; without one it stays sent, which is what is known.
//   - canceled (a scheduled message canceled before it left): failed.
//   - receiving and received belong to inbound messages: not accepted here.
func FromTwilioStatus(s string) (RecipientStatus, bool) {
	switch strings.ToLower(s) {
	case "queued", "accepted", "scheduled", "sending":
		return Accepted, true
	case "sent", "partially_delivered":
		return Sent, true
	case "delivered", "read":
		return Delivered, true
	case "undelivered":
		return Undelivered, true
	case "failed", "canceled":
		return Failed, true
	}
	return "", false
}
