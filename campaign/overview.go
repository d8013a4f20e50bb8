package campaign

import "time"

// Read models of the web dashboard of `smsblast serve`: one row per campaign
// for the list of campaigns, and a campaign's failures and recent activity.
// Like Progress, they are figures read from the database, not live state.

// Overview is one campaign on the list of campaigns. Its Progress has the
// same figures as the one `smsblast status` reads (store.Progress), but
// without TopErrors: the list reads every campaign at once.
type Overview struct {
	Progress
	// SegmentsSent sums the segments of the messages Twilio took (those
	// with a message sid): what the campaign has cost so far, in segments.
	SegmentsSent int64
	// DeliveryRate is delivered out of the messages Twilio took, 0..1, as
	// campaign_stats.delivery_rate; -1 before Twilio took any.
	DeliveryRate float64
}

// FailureCode is how many of a campaign's recipients ended with one Twilio
// error code, failed, undelivered or skipped, as Progress.TopErrors counts
// them.
type FailureCode struct {
	Code        int
	Description string
	// Retryable is twilio_errors.retryable: whether `smsblast retry` without
	// --codes requeues recipients with this code.
	Retryable bool
	Count     int64
	// Requeueable is how many of Count `smsblast retry --codes CODE` would
	// requeue: the failed and undelivered ones (skipped ones opted out).
	Requeueable int64
}

// Failure is one recipient that failed or was not delivered, for a list of
// recent failures. Phone is the full number: mask it for anyone but admins.
type Failure struct {
	RecipientID      int64
	Phone            string
	Status           RecipientStatus
	ErrorCode        int
	ErrorDescription string
	Attempts         int
	// At is when smsblast recorded the verdict.
	At time.Time
}

// SendBucket counts the messages Twilio accepted (send_attempts outcomes
// accepted and found) whose request started within [Start, Start+step).
type SendBucket struct {
	Start    time.Time
	Accepted int64
}

// VerdictBucket counts the delivery verdicts smsblast recorded within
// [Start, Start+step).
type VerdictBucket struct {
	Start       time.Time
	Delivered   int64
	Undelivered int64
}
