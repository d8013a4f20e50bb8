package campaign

import (
	"context"
	"time"
)

// SendStore is what the send engine needs from storage. Package store
// implements it on PostgreSQL; every method is one round trip (or one batch)
// so the engine's cost per message stays a fraction of a row write.
type SendStore interface {
	CampaignByName(ctx context.Context, name string) (*Campaign, error)
	// StartCampaign moves a draft or paused campaign to running; it reports
	// false (and changes nothing) when the campaign is completed or canceled.
	StartCampaign(ctx context.Context, id int64) (bool, error)
	// PauseCampaign pauses a running campaign, recording why.
	PauseCampaign(ctx context.Context, id int64, reason string) error
	// CompleteCampaign marks the campaign completed if no recipient is
	// pending or sending, and reports whether it did.
	CompleteCampaign(ctx context.Context, id int64) (bool, error)

	RegisterWorker(ctx context.Context, w Worker) error
	StopWorker(ctx context.Context, workerID string) error
	// Beat records the worker's heartbeat and reads what the worker must
	// follow: the campaign's state and rate and how many workers share it.
	Beat(ctx context.Context, campaignID int64, workerID string, stale time.Duration) (Beat, error)
	// Workers lists the campaign's workers that have not stopped.
	Workers(ctx context.Context, campaignID int64) ([]Worker, error)
	// ExpireLeases ends now the leases held by workers known to be dead, so
	// their rows are reconciled without waiting for the leases to run out.
	ExpireLeases(ctx context.Context, campaignID int64, workerIDs []string) (int64, error)

	// Claim leases up to n due pending recipients to the worker, in order,
	// and increments their attempt numbers. Opted-out recipients are marked
	// skipped instead and counted.
	Claim(ctx context.Context, campaignID int64, workerID string, n int, lease time.Duration) (claims []Claim, skipped int, err error)
	// RenewLeases extends the worker's leases on ids and returns the ids it
	// still holds; a missing id was taken over and must not be sent.
	RenewLeases(ctx context.Context, workerID string, ids []int64, lease time.Duration) ([]int64, error)
	// ClaimInDoubt leases up to n rows whose lease has expired (their
	// worker died or their request's outcome is unknown) for reconciliation.
	ClaimInDoubt(ctx context.Context, campaignID int64, workerID string, n int, lease time.Duration) ([]Claim, error)
	// Record writes outcomes in one transaction, each fenced on (worker,
	// attempt), with their audit rows. It returns how many were applied.
	Record(ctx context.Context, campaignID int64, workerID string, outcomes []Outcome) (int, error)
	// Remaining counts the campaign's pending and sending recipients and
	// when the next pending one is due.
	Remaining(ctx context.Context, campaignID int64) (Remaining, error)
}

// Worker is one `smsblast send` process working on a campaign.
type Worker struct {
	ID          string
	CampaignID  int64
	Hostname    string
	PID         int
	HeartbeatAt time.Time
}

// Beat is what a heartbeat learns.
type Beat struct {
	Status       Status
	StatusReason string
	Rate         float64
	LiveWorkers  int
}

// Remaining is the work left in a campaign.
type Remaining struct {
	Pending int64
	Sending int64
	// NextDue is when the earliest pending recipient may be claimed.
	NextDue time.Time
}

// Claim is one recipient leased to a worker for one attempt.
type Claim struct {
	RecipientID int64
	Phone       string
	Attrs       map[string]string
	Attempt     int
	// ClaimedAt is when the attempt was claimed (database clock): a message
	// it sent cannot be older.
	ClaimedAt time.Time
	// InDoubtSince is set on rows claimed for reconciliation.
	InDoubtSince time.Time
}

// Outcome is the new state of one claimed recipient, written by Record only
// if the worker still holds that attempt.
type Outcome struct {
	RecipientID int64
	Attempt     int
	// Status is the recipient's new state. Sending means "still in doubt":
	// the lease is ended now (or after Recheck) so the row is reconciled.
	Status       RecipientStatus
	MessageSID   string
	TwilioStatus string
	ErrorCode    int
	ErrorMessage string
	Segments     int
	// RetryIn delays the next claim of a row going back to pending.
	RetryIn time.Duration
	// Recheck, for a row staying in doubt, is when to reconcile it again.
	Recheck time.Duration
	// Unclaim gives the attempt back (the request never left): the attempt
	// counter is decremented.
	Unclaim bool
	// SentAt is when Twilio created the message.
	SentAt time.Time
	// OptOut adds the phone to opt_outs (Twilio error 21610).
	OptOut string
	// Audit, when set, is written to send_attempts.
	Audit *Audit
}

// Audit is one row of the send_attempts trail.
type Audit struct {
	StartedAt  time.Time
	Latency    time.Duration
	HTTPStatus int
	// Result is send_attempts.outcome. The error code, message and sid come
	// from the Outcome.
	Result AuditResult
}

// AuditResult is what one request (or one reconciliation verdict) came to,
// as send_attempts.outcome records it.
type AuditResult string

// Audit results; the values are part of the SQL contract.
const (
	AuditAccepted      AuditResult = "accepted"       // Twilio took the message
	AuditRetry         AuditResult = "retry"          // a retryable refusal: pending again after a back-off
	AuditInDoubt       AuditResult = "in_doubt"       // no answer: reconciled before anything else
	AuditFailed        AuditResult = "failed"         // refused for good, or out of attempts
	AuditSkipped       AuditResult = "skipped"        // the recipient opted out (21610)
	AuditCampaignError AuditResult = "campaign_error" // an error every recipient would hit: the campaign paused
	AuditFound         AuditResult = "found"          // reconciliation found the message in Twilio's list
	AuditNotFound      AuditResult = "not_found"      // reconciliation proved it was never created
	AuditReview        AuditResult = "review"         // reconciliation found a message it cannot compare: a person decides
	AuditExpired       AuditResult = "expired"        // the campaign's stop-at passed before it was sent
)
