package campaign

import "time"

// Read models of delivery results: one recipient's result (smsblast report)
// and the per-campaign figures `smsblast serve` exports as metrics. They
// mirror the views recipient_results and campaign_stats, which are part of
// the SQL contract.

// Result is one row of recipient_results.
type Result struct {
	RecipientID int64  `json:"recipient_id"`
	Campaign    string `json:"campaign"`
	Phone       string `json:"phone"`
	// Attrs is the recipient's CSV row, keyed by lower_snake_case header.
	Attrs            map[string]string `json:"attrs"`
	SourceLine       int               `json:"source_line,omitempty"`
	Status           RecipientStatus   `json:"status"`
	TwilioStatus     string            `json:"twilio_status,omitempty"`
	ErrorCode        int               `json:"error_code,omitempty"`
	ErrorDescription string            `json:"error_description,omitempty"`
	MessageSID       string            `json:"message_sid,omitempty"`
	Attempts         int               `json:"attempts"`
	Segments         int               `json:"segments,omitempty"`
	SentAt           *time.Time        `json:"sent_at,omitempty"`
	DeliveredAt      *time.Time        `json:"delivered_at,omitempty"`
	UpdatedAt        time.Time         `json:"updated_at"`
	// OptedOutAt is when the phone joined opt_outs, if it has.
	OptedOutAt *time.Time `json:"opted_out_at,omitempty"`
}

// DeliveryStats is one row of campaign_stats.
type DeliveryStats struct {
	CampaignID int64
	Name       string
	Status     Status
	Total      int64
	// Counts holds every recipient state, zeros included.
	Counts map[RecipientStatus]int64
	// DeliveryRate is delivered / messages Twilio took, 0..1; -1 before any.
	DeliveryRate float64
	// Rate is the configured rate, AverageRate the achieved one (messages
	// per second between the first and last send; 0 before two sends).
	Rate, AverageRate float64
}

// SendCount is how many send attempts of a campaign ended with an outcome
// and error code (send_attempts.outcome; code 0 for none).
type SendCount struct {
	Campaign string
	Outcome  string
	Code     int
	Count    int64
}

// LatencyHistogram is a cumulative histogram of send request latencies of
// one campaign, from send_attempts, in seconds.
type LatencyHistogram struct {
	Campaign string
	Count    uint64
	Sum      float64
	// Buckets maps each upper bound to the count of latencies at or below it.
	Buckets map[float64]uint64
}
