package campaign

import (
	"context"
	"time"
)

// TestSend is one test message (`smsblast send --test`): the rendered body
// of one recipient, sent to a number of the user's. It changes no recipient.
type TestSend struct {
	CampaignID int64
	// SourceLine is the CSV line of the recipient whose body was sent.
	SourceLine int
	To, From   string
	// MessageSID and Status are Twilio's answer; Status is "failed" when
	// Twilio refused it (ErrorCode says why), "unknown" when no answer came,
	// "skipped" when To is opted out (nothing was sent).
	MessageSID   string
	Status       string
	ErrorCode    int
	ErrorMessage string
	Segments     int
	SentAt       time.Time
}

// TestStore is what test sends need from storage; package store implements it.
type TestStore interface {
	CampaignByName(ctx context.Context, name string) (*Campaign, error)
	// TestRecipient returns the columns and CSV line of the recipient
	// whose body a test sends: the first imported with CSV line line, or
	// the first imported when line is 0. ErrNoRecipient when there is none.
	TestRecipient(ctx context.Context, campaignID int64, line int) (attrs map[string]string, sourceLine int, err error)
	// OptedOut reports whether phone is in opt_outs.
	OptedOut(ctx context.Context, phone string) (bool, error)
	// RecordTestSend adds a row to test_sends.
	RecordTestSend(ctx context.Context, t *TestSend) error
}
