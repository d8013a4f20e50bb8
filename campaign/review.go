package campaign

import "time"

// Recipients in review. Reconciliation puts a recipient in review when
// Twilio's list shows a message to its number from the campaign's sender,
// inside the attempt's time window, whose body cannot be compared (the
// account's message redaction removed it): the message may be this
// recipient's or another one. Nobody re-sends it and nobody counts it as
// sent until a person decides (smsblast resolve): sent, and the candidate
// message becomes the recipient's; or not sent, and it goes back to pending.

// InReview is one recipient waiting for a person's decision.
type InReview struct {
	RecipientID int64  `json:"recipient_id"`
	Phone       string `json:"phone"`
	// MessageSID is the candidate: the message in Twilio's list that may be
	// this recipient's. TwilioStatus is its status as listed.
	MessageSID   string `json:"message_sid"`
	TwilioStatus string `json:"twilio_status,omitempty"`
	// CreatedAt is when Twilio created the candidate; nil if not known.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// Since is when the recipient went to review.
	Since time.Time `json:"since"`
	// Reason says what was seen and what to check (recipients.error_message).
	Reason   string `json:"reason"`
	Attempts int    `json:"attempts"`
	// AlsoRecordedFor names other recipients (campaign and phone) that have
	// the candidate's sid as their own message: if one of them got it from
	// Twilio's answer to its own request, the candidate is theirs, not
	// this recipient's.
	AlsoRecordedFor []string `json:"also_recorded_for,omitempty"`
}

// Resolved is one recipient a person's decision moved out of review.
type Resolved struct {
	Phone      string          `json:"phone"`
	Status     RecipientStatus `json:"status"`
	MessageSID string          `json:"message_sid,omitempty"`
}

// Resolution is what one decision changed.
type Resolution struct {
	// Sent is the decision: the candidates were the recipients' messages
	// (true), or nothing was sent to them (false).
	Sent       bool       `json:"sent"`
	Recipients []Resolved `json:"recipients"`
	// Paused is set when recipients went back to pending in a completed
	// campaign, which was paused so that send resumes it.
	Paused bool `json:"campaign_paused"`
}
