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
	// StartCampaign moves a draft, scheduled or paused campaign to running
	// (to scheduled while now is before its start); it reports false (and
	// changes nothing) when the campaign is completed or canceled.
	StartCampaign(ctx context.Context, id int64, now time.Time) (bool, error)
	// PauseCampaign pauses a running campaign, recording why.
	PauseCampaign(ctx context.Context, id int64, reason string) error
	// CompleteCampaign marks a running campaign completed if no recipient
	// is pending or sending, and reports whether the campaign is completed
	// (by this call or before it). False when recipients arrived meanwhile
	// or the campaign is no longer running.
	CompleteCampaign(ctx context.Context, id int64) (bool, error)

	RegisterWorker(ctx context.Context, w Worker) error
	StopWorker(ctx context.Context, workerID string) error
	// Beat records the worker's heartbeat and its use of each sender, and
	// reads what the worker must follow: the campaign's state and rate, how
	// many workers share it, and its registered senders with their usage
	// and every process's share of them.
	Beat(ctx context.Context, req BeatRequest) (Beat, error)
	// Workers lists the campaign's workers that have not stopped.
	Workers(ctx context.Context, campaignID int64) ([]Worker, error)
	// ExpireLeases ends now the leases held by workers known to be dead, so
	// their rows are reconciled without waiting for the leases to run out.
	ExpireLeases(ctx context.Context, campaignID int64, workerIDs []string) (int64, error)

	// Claim offers up to req.N due pending recipients, in order, to
	// req.Decide inside one transaction, and applies its decisions: leases
	// the claimed ones to the worker (incrementing their attempt numbers and
	// reserving their segments against their sender's daily cap), holds
	// others until a later time, marks others skipped.
	Claim(ctx context.Context, req ClaimRequest) ([]Claim, ClaimCounts, error)
	// RenewLeases extends the worker's leases on ids and returns the ids it
	// still holds; a missing id was taken over and must not be sent.
	RenewLeases(ctx context.Context, workerID string, ids []int64, lease time.Duration) ([]int64, error)
	// ClaimInDoubt leases up to n rows whose lease has expired (their
	// worker died or their request's outcome is unknown) for reconciliation.
	ClaimInDoubt(ctx context.Context, campaignID int64, workerID string, n int, lease time.Duration) ([]Claim, error)
	// Record writes outcomes in one transaction, each fenced on (worker,
	// attempt), with their audit rows. It returns how many were applied.
	Record(ctx context.Context, campaignID int64, workerID string, outcomes []Outcome) (int, error)
	// ExpirePending ends the campaign's pending recipients as expired (its
	// stop time passed) and returns how many.
	ExpirePending(ctx context.Context, campaignID int64) (int64, error)
	// Prices reads the campaign's prices by destination country.
	Prices(ctx context.Context, campaignID int64) (Prices, error)
	// PendingByZone counts the campaign's pending recipients by their time
	// zones, for saying which wait for their send window.
	PendingByZone(ctx context.Context, campaignID int64) (map[string]int64, error)
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

// BeatRequest is one heartbeat of a worker.
type BeatRequest struct {
	CampaignID int64
	WorkerID   string
	// Stale is how long without a heartbeat presumes a worker gone.
	Stale time.Duration
	// Now is the engine's clock: it names each sender's cap day.
	Now time.Time
	// Shares is this worker's use of each of its campaign's senders
	// (Worker and Campaign fields are ignored), as published when Plan is
	// nil.
	Shares []SenderShare
	// Plan, when set, decides this worker's shares to publish from what the
	// heartbeat read (the others' shares, without this worker's). It runs
	// inside the heartbeat's transaction, which locks the senders so that
	// no other process decides from the same snapshot: it must be quick.
	Plan func(*Beat) []SenderShare
}

// Beat is what a heartbeat learns.
type Beat struct {
	Status       Status
	StatusReason string
	Rate         float64
	LiveWorkers  int
	// Senders are the campaign's registered senders, by ID, with today's
	// usage and every live process's share; unregistered senders are absent.
	Senders map[string]*SenderUse
	// Campaign is the campaign as it is now (settings change while it runs);
	// Rules are the send window rules.
	Campaign *Campaign
	Rules    []WindowRule
}

// ClaimRequest asks Claim for up to N due recipients of a campaign.
type ClaimRequest struct {
	CampaignID int64
	WorkerID   string
	N          int
	Lease      time.Duration
	// Now is the engine's clock: recipients due at or before it are offered.
	Now time.Time
	// Pool is the campaign's senders; with more than one, each candidate
	// comes with its phone's sticky sender.
	Pool []string
	// CapDays names today's cap day for each sender with a daily cap: those
	// usage rows are locked and read for Decide.
	CapDays map[string]time.Time
	// Budget: the campaign has a budget; its spent row is locked and read.
	Budget bool
	// Frequency, when set, locks each candidate's phone against every
	// other capped claim and reads its contacts within the window.
	Frequency FrequencyCap
	// Decide says what becomes of each candidate (one Decision each, in
	// order). It runs inside the claim's transaction, while the candidates
	// and the usage rows are locked, so it must be quick and must not touch
	// the store.
	Decide func(*ClaimState) []Decision
}

// ClaimState is what a claim's Decide sees.
type ClaimState struct {
	Candidates []Candidate
	// Usage is the segments already used on each capped sender's cap day.
	Usage map[string]int64
	// Spent is what the campaign has spent of its budget (with Budget).
	Spent Spent
	// Contacts counts each candidate phone's messages, from any campaign,
	// within the frequency window (with Frequency).
	Contacts map[string]int
}

// Candidate is a due pending recipient offered to a claim.
type Candidate struct {
	RecipientID int64
	Phone       string
	// Segments is what its message costs (counted at import).
	Segments int
	// TimeZones is the recipient's zones, comma-separated; "" when unknown.
	TimeZones string
	OptedOut  bool
	// Sticky is the sender the phone was last texted from, "" for none
	// (only read when the campaign has a pool).
	Sticky string
}

// Decision is what becomes of one candidate: claimed (Sender set), held
// until a time (HoldUntil set), or skipped (Skip set).
type Decision struct {
	// Sender the claimed recipient is sent from.
	Sender string
	// Reserve charges its segments to Sender's cap day (ClaimRequest.CapDays).
	Reserve bool
	// Sticky records Sender as the phone's sticky sender.
	Sticky bool
	// HoldUntil leaves it pending, not offered again before this time;
	// Hold says why (Sender, when set, is recorded as the sender it waits
	// for).
	HoldUntil time.Time
	Hold      HoldReason
	// Skip marks it skipped, with this reason in error_message.
	Skip string
	// Leave leaves it as it is: the campaign's budget cannot take it.
	Leave bool
	// Cost is the money its claim spends of the budget.
	Cost float64
}

// ClaimCounts is what a claim did besides claiming.
type ClaimCounts struct {
	Skipped, Held, Left int
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
	// Sender is the number (or Messaging Service) it is sent from.
	Sender string
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
	// RetryIn delays the next claim of a row going back to pending;
	// HoldUntil, when set, instead names the time, and Hold why (its send
	// window closed before the request went out).
	RetryIn   time.Duration
	HoldUntil time.Time
	Hold      HoldReason
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
