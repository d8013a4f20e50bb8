package campaign

// Delivery results: Twilio's status callbacks, as the store records them.
//
// # The race with the sender
//
// A callback can arrive before the sender's batched write has stored the
// message's sid (the recipient is still 'sending'). Such a callback is kept
// in message_events with applied_at NULL, and the sender's Record applies
// the pending events for every sid it writes, in the same transaction. The
// store makes the two sides wait for each other (see store.RecordStatus), so
// an event is applied exactly once by one side or the other.

import (
	"context"
	"net/url"
	"time"
)

// StatusEvent is one parsed status callback.
type StatusEvent struct {
	// MessageSID identifies the message (SM… or MM…).
	MessageSID string
	// TwilioStatus is Twilio's word, lower case (recipients.twilio_status).
	TwilioStatus string
	// Status is the recipient state it means.
	Status RecipientStatus
	// ErrorCode is the 30xxx code on undelivered and failed; 0 otherwise.
	ErrorCode int
	// ErrorMessage is Twilio's ErrorMessage parameter when sent, else the
	// description smsblast knows for ErrorCode; empty without a code.
	ErrorMessage string
	// DoneAt is the carrier's delivery receipt time (RawDlrDoneDate,
	// YYMMDDhhmm, read as UTC); zero when absent or unreadable.
	DoneAt time.Time
	// To is the recipient's number as Twilio has it; From the sender.
	To, From string
	// AccountSID is the account the message belongs to.
	AccountSID string
	// Params is the callback's form, kept raw in message_events.payload.
	Params url.Values
}

// StatusResult says what recording a status event did.
type StatusResult int

// What a status event did to its recipient.
const (
	// StatusApplied: the recipient moved to the event's state.
	StatusApplied StatusResult = iota + 1
	// StatusStale: the recipient is already at or past that state (a
	// duplicate or a late callback); the event is only kept for the audit.
	StatusStale
	// StatusBuffered: no recipient has that sid yet (the sender has not
	// written it, or the message is not smsblast's); the event waits
	// unapplied and the sender's write applies it.
	StatusBuffered
)

func (r StatusResult) String() string {
	switch r {
	case StatusApplied:
		return "applied"
	case StatusStale:
		return "stale"
	case StatusBuffered:
		return "buffered"
	}
	return "unknown"
}

// DeliveryStore is what the webhook handlers need from storage. Package store
// implements it on PostgreSQL.
type DeliveryStore interface {
	// RecordStatus stores ev in message_events and applies it to the
	// recipient with its sid if that moves the recipient up (see the
	// ordering above), durably, before returning.
	RecordStatus(ctx context.Context, ev *StatusEvent) (StatusResult, error)
	// OptOut adds phone to opt_outs with a reason and source; an existing
	// opt-out is kept as it is. It reports whether the phone was added.
	OptOut(ctx context.Context, phone, reason, source string) (bool, error)
	// OptIn removes phone's opt-out if it came from the recipient (source
	// inbound or twilio) and reports whether one was removed.
	OptIn(ctx context.Context, phone string) (bool, error)
}
