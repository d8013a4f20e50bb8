package campaign

// Delivery results: Twilio's status callbacks.
//
// # Ordering
//
// Twilio neither orders nor de-duplicates its callbacks, so a recipient's
// status only ever moves up this ranking, and a callback that would not move
// it up is recorded (message_events) but changes nothing:
//
//	pending < sending < accepted < sent < delivered = undelivered = failed
//
// The three final states share the top rank: the first final status to be
// applied stays. A "failed" arriving after "delivered" (or the reverse) is
// kept in message_events for the audit, but the recipient keeps the verdict
// it already had: a carrier's delivery receipt is not taken back, and a
// report that changed its mind would be harder to trust than one that
// reports the first word. Duplicates rank equal to what they repeat, so they
// are harmless.
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
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

// Rank orders recipient states for status callbacks: a recipient never moves
// to a state of lower or equal rank. Unknown states rank -1.
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
	case Skipped:
		// Skipped rows were never texted: no callback can concern them, and
		// ranking them final keeps a stray one from touching them.
		return 4
	}
	return -1
}

// Final reports whether s is a final delivery verdict (or skipped): no status
// callback changes it.
func (s RecipientStatus) Final() bool { return s.Rank() == 4 }

// RecipientStatuses lists every recipient state, in rank order.
func RecipientStatuses() []RecipientStatus {
	return []RecipientStatus{Pending, Sending, Accepted, Sent, Delivered, Undelivered, Failed, Skipped}
}

// Advances reports whether a status callback saying next may move a
// recipient that is in cur: only to a strictly higher rank (see the
// ordering above).
func Advances(cur, next RecipientStatus) bool {
	return next.Rank() > cur.Rank()
}

// FromTwilioStatus maps a Twilio message status (as in a status callback) to
// the recipient state it means, and reports whether the status is one a
// status callback for an outbound message can carry.
//
//   - queued, accepted, scheduled and Twilio's own "sending" are all still
//     inside Twilio: accepted.
//   - read (WhatsApp and RCS read receipts) implies delivered.
//   - partially_delivered (a multi-part message only partly delivered)
//     carries no verdict: sent.
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

// ParseStatusCallback reads a status callback's form parameters.
// MessageSid (or its older name SmsSid) and MessageStatus (or SmsStatus) are
// required; ErrorCode, when present, must be a number.
func ParseStatusCallback(form url.Values) (*StatusEvent, error) {
	sid := first(form, "MessageSid", "SmsSid")
	if sid == "" {
		return nil, fmt.Errorf("parse status callback: MessageSid is missing: %w", ErrBadCallback)
	}
	if !twilio.IsMessageSID(sid) {
		return nil, fmt.Errorf("parse status callback: MessageSid %.40q is not a message sid: %w", sid, ErrBadCallback)
	}
	tstat := strings.ToLower(first(form, "MessageStatus", "SmsStatus"))
	if tstat == "" {
		return nil, fmt.Errorf("parse status callback for %s: MessageStatus is missing: %w", sid, ErrBadCallback)
	}
	st, ok := FromTwilioStatus(tstat)
	if !ok {
		return nil, fmt.Errorf("parse status callback for %s: MessageStatus %.20q is not an outbound message status: %w", sid, tstat, ErrBadCallback)
	}
	ev := &StatusEvent{
		MessageSID:   sid,
		TwilioStatus: tstat,
		Status:       st,
		To:           form.Get("To"),
		From:         form.Get("From"),
		AccountSID:   form.Get("AccountSid"),
		Params:       form,
	}
	if s := strings.TrimSpace(form.Get("ErrorCode")); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil || code < 0 || code > 99999 {
			return nil, fmt.Errorf("parse status callback for %s: ErrorCode %.20q is not a Twilio error code: %w", sid, s, ErrBadCallback)
		}
		// Twilio sends ErrorCode=0 on some successful statuses: no error.
		ev.ErrorCode = code
	}
	if ev.ErrorCode != 0 {
		ev.ErrorMessage = form.Get("ErrorMessage")
		if ev.ErrorMessage == "" {
			if info, ok := twilio.Describe(ev.ErrorCode); ok {
				ev.ErrorMessage = info.Description
			}
		}
	}
	if s := form.Get("RawDlrDoneDate"); len(s) == 10 {
		if t, err := time.Parse("0601021504", s); err == nil {
			ev.DoneAt = t
		}
	}
	return ev, nil
}

// first returns the first non-empty value among the names.
func first(form url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(form.Get(n)); v != "" {
			return v
		}
	}
	return ""
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
