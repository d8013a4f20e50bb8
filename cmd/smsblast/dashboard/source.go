package dashboard

import (
	"context"
	"io"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// Store is what the dashboard reads and changes. *store.Store implements
// it; each method's comment there says how it reads.
type Store interface {
	// Overviews reads every campaign with the figures of `smsblast status`.
	Overviews(ctx context.Context) ([]campaign.Overview, error)
	// CampaignByID returns the campaign, or an error wrapping campaign.ErrNotFound.
	CampaignByID(ctx context.Context, id int64) (*campaign.Campaign, error)
	// Overview reads one campaign's progress as `smsblast status` does.
	Overview(ctx context.Context, c *campaign.Campaign) (*campaign.Overview, error)
	FailureCodes(ctx context.Context, campaignID int64) ([]campaign.FailureCode, error)
	RecentFailures(ctx context.Context, campaignID int64, limit int) ([]campaign.Failure, error)
	SendSeries(ctx context.Context, campaignID int64, since time.Time, step time.Duration) ([]campaign.SendBucket, error)
	VerdictSeries(ctx context.Context, campaignID int64, since time.Time, step time.Duration) ([]campaign.VerdictBucket, error)

	// SetStatus pauses or cancels a campaign by name and returns the status it had.
	SetStatus(ctx context.Context, name string, to campaign.Status, reason string) (campaign.Status, error)
	// ResumeCampaign makes a paused campaign runnable and returns the status it had.
	ResumeCampaign(ctx context.Context, id int64) (campaign.Status, error)
	// Requeue puts failed recipients with these codes (none: the retryable
	// ones) back to pending and returns how many.
	Requeue(ctx context.Context, campaignID int64, codes []int) (int64, error)
}

// ReportFunc writes a campaign's per-recipient report as CSV to w, as
// `smsblast report` does, row by row. It must not buffer the whole report.
type ReportFunc func(ctx context.Context, w io.Writer, c *campaign.Campaign) error

// Hold is something that keeps a campaign from sending now.
type Hold struct {
	// Kind names it in a word or two: paused, canceled, no sender, draft;
	// with a HoldSource also schedule, send window, daily cap, budget.
	Kind string
	// Detail says why, or what lifts it, in words.
	Detail string
	// Until is when it lifts by itself; zero when someone must act.
	Until time.Time
}

// HoldSource is the seam for the holds that smsblast does not have yet:
// start and stop times, the recipients' send windows, the senders' daily
// caps and the campaign's budget. When they land, a store method returns
// them per campaign and the wiring in cmd/smsblast (serve_dashboard.go)
// adapts it to this interface; the pages show them beside the holds the
// dashboard derives itself (pause, cancel, no live sender). Nil: none.
type HoldSource interface {
	// Holds returns the holds of each of these campaigns that has any.
	Holds(ctx context.Context, campaignIDs []int64) (map[int64][]Hold, error)
}

// SenderUsage is one sender (a number or a Messaging Service) as a
// campaign uses it.
type SenderUsage struct {
	// Sender is the E.164 number or the MG… sid.
	Sender string
	// Kind is long code, toll-free, short code or messaging service; empty when unknown.
	Kind string
	// MPS is the sender's throughput in segments per second; 0 when not registered.
	MPS float64
	// DailyCap is the sender's segments per day; 0 for none.
	DailyCap int64
	// SegmentsToday is what every campaign sent through it today.
	SegmentsToday int64
	// Campaigns is how many campaigns share it.
	Campaigns int
}

// SenderSource is the seam for the sender registry (`smsblast senders`),
// which does not exist yet: a campaign's pool of senders with their MPS,
// daily cap and today's usage. When it lands, the wiring adapts its store
// method to this interface. Nil: the page shows the campaign's one sender,
// its rate, its segments sent and its live sender processes, which is what
// exists today.
type SenderSource interface {
	Senders(ctx context.Context, campaignID int64) ([]SenderUsage, error)
}
