package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func statusCommand() *command {
	return &command{
		name:    "status",
		args:    "[CAMPAIGN]",
		summary: "progress: counts by state, rate, ETA, top errors (all campaigns without a name)",
		examples: `  smsblast status
  smsblast status spring-sale
  smsblast status spring-sale --json`,
		run: runStatus,
	}
}

// statusStates is the display order of recipient states: all of them.
var statusStates = campaign.RecipientStatuses()

// statusJSON is the --json shape of one campaign's progress.
type statusJSON struct {
	Campaign     string                             `json:"campaign"`
	Status       campaign.Status                    `json:"status"`
	StatusReason string                             `json:"status_reason,omitempty"`
	Sender       string                             `json:"sender"`
	Rate         float64                            `json:"configured_rate"`
	Total        int64                              `json:"total"`
	Counts       map[campaign.RecipientStatus]int64 `json:"counts"`
	// NeedsReview is counts["review"], always present: recipients only a
	// person can settle (smsblast resolve).
	NeedsReview int64                 `json:"needs_review"`
	CurrentRate float64               `json:"current_rate"`
	AverageRate float64               `json:"average_rate"`
	ETASeconds  float64               `json:"eta_seconds"`
	LiveWorkers int                   `json:"live_workers"`
	FirstSentAt *time.Time            `json:"first_sent_at"`
	LastSentAt  *time.Time            `json:"last_sent_at"`
	TopErrors   []campaign.ErrorCount `json:"top_errors"`
	// Holds say why pending recipients wait and until when.
	Holds []campaign.Hold `json:"holds"`
	// Senders are the campaign's registered senders: MPS, usage, guard.
	Senders []senderStatus `json:"senders"`
}

// senderStatus is a registered sender in status --json.
type senderStatus struct {
	Sender       string    `json:"sender"`
	MPS          float64   `json:"mps"`
	EffectiveMPS float64   `json:"effective_mps"`
	DailyCap     int64     `json:"daily_cap,omitempty"`
	UsedToday    int64     `json:"used_today"`
	ResetsAt     time.Time `json:"resets_at"`
	QueueDelay   float64   `json:"queue_delay_seconds,omitempty"`
	Notes        []string  `json:"notes,omitempty"`
}

func runStatus(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	asJSON := fs.Bool("json", false, "print JSON")
	fs.validate = func(pos []string) error {
		if len(pos) == 1 {
			return campaignArg(pos[0])
		}
		return nil
	}
	pos, err := a.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	names := pos
	if len(names) == 0 {
		if names, err = st.CampaignNames(ctx); err != nil {
			return err
		}
		if len(names) == 0 && !*asJSON {
			fmt.Fprintln(a.stdout, "no campaigns yet: create one with 'smsblast import NAME FILE.csv --from +1… --body …'")
			return nil
		}
	}
	var out []statusJSON
	for i, name := range names {
		c, err := st.CampaignByName(ctx, name)
		if err != nil {
			return err
		}
		p, err := a.progress(ctx, st, c)
		if err != nil {
			return err
		}
		if *asJSON {
			out = append(out, toStatusJSON(p))
			continue
		}
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		a.printProgress(p)
	}
	if *asJSON {
		if len(pos) == 1 {
			writeJSON(a.stdout, out[0])
		} else {
			writeJSON(a.stdout, out)
		}
	}
	return nil
}

// eta is p's ETA from now, no sooner than its holds lift.
func eta(p *campaign.Progress) time.Duration {
	until := make([]time.Time, len(p.Holds))
	for i, h := range p.Holds {
		until[i] = h.Until
	}
	return p.ETA(time.Now(), until...)
}

func toStatusJSON(p *campaign.Progress) statusJSON {
	s := statusJSON{
		Campaign: p.Campaign.Name, Status: p.Campaign.Status, StatusReason: p.Campaign.StatusReason,
		Sender: p.Campaign.Sender(), Rate: p.Campaign.Rate, Total: p.Total, Counts: p.Counts,
		CurrentRate: p.CurrentRate, AverageRate: p.AverageRate, ETASeconds: eta(p).Seconds(),
		LiveWorkers: p.LiveWorkers, TopErrors: p.TopErrors, NeedsReview: p.Counts[campaign.Review],
		Holds: p.Holds,
	}
	if s.Holds == nil {
		s.Holds = []campaign.Hold{}
	}
	s.Senders = []senderStatus{}
	for _, u := range p.Senders {
		s.Senders = append(s.Senders, senderStatus{Sender: u.ID, MPS: u.MPS, EffectiveMPS: u.EffectiveMPS(),
			DailyCap: u.DailyCap, UsedToday: u.Used, ResetsAt: u.ResetsAt, QueueDelay: u.QueueDelay.Seconds(),
			Notes: senderHolds(u)})
	}
	if s.TopErrors == nil {
		s.TopErrors = []campaign.ErrorCount{}
	}
	if !p.FirstSentAt.IsZero() {
		s.FirstSentAt, s.LastSentAt = &p.FirstSentAt, &p.LastSentAt
	}
	return s
}

func (a *app) printProgress(p *campaign.Progress) {
	c := &p.Campaign
	state := string(c.Status)
	switch {
	case c.StatusReason != "":
		state += " (" + campaign.Printable(c.StatusReason) + ")"
	case c.Status == campaign.StatusRunning && p.LiveWorkers == 0:
		state += fmt.Sprintf(" (no sender is running: 'smsblast send %s' resumes it)", campaign.Printable(c.Name))
	}
	fmt.Fprintf(a.stdout, "campaign %s: %s\n", campaign.Printable(c.Name), state)
	rate := "its senders' rate"
	if c.Rate > 0 {
		rate = fmt.Sprintf("rate %g/s", c.Rate)
	}
	fmt.Fprintf(a.stdout, "sender %s, %s, %d recipients, %d sender process(es) running\n",
		strings.Join(c.Senders(), ","), rate, p.Total, p.LiveWorkers)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, s := range statusStates {
		n := p.Counts[s]
		if n == 0 && s == campaign.Review {
			continue // exceptional: shown only when there is something to do
		}
		pct := 0.0
		if p.Total > 0 {
			pct = 100 * float64(n) / float64(p.Total)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.1f%%\t\n", s, n, pct)
	}
	tw.Flush()
	fmt.Fprintf(a.stdout, "rate: %.1f msg/s now, %.1f msg/s average", p.CurrentRate, p.AverageRate)
	if eta := eta(p); eta > 0 {
		fmt.Fprintf(a.stdout, ", ETA %v", eta)
	}
	fmt.Fprintln(a.stdout)
	for _, h := range p.Holds {
		fmt.Fprintf(a.stdout, "held: %s\n", h)
	}
	for _, u := range p.Senders {
		line := fmt.Sprintf("sender %s: %g MPS shared by its campaigns", u.ID, u.MPS)
		if u.DailyCap > 0 {
			line += fmt.Sprintf(", %d of %d segments today", u.Used, u.DailyCap)
		}
		if u.Factor > 0 && u.Factor < 1 {
			line += fmt.Sprintf("; slowed to %g MPS: Twilio queues its messages for %v (over %v)",
				round2(u.EffectiveMPS()), u.QueueDelay.Round(time.Second), u.MaxQueueDelay)
		}
		fmt.Fprintln(a.stdout, line)
	}
	a.printNeedsReview(c.Name, p.Counts[campaign.Review])
	if len(p.TopErrors) > 0 {
		fmt.Fprintln(a.stdout, "top errors:")
		tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, e := range p.TopErrors {
			fmt.Fprintf(tw, "  %d\t%d\t%s\n", e.Code, e.Count, campaign.Printable(e.Description))
		}
		tw.Flush()
	}
}

// progress reads a campaign's progress with what holds its pending
// recipients back and its registered senders.
func (a *app) progress(ctx context.Context, st *store.Store, c *campaign.Campaign) (*campaign.Progress, error) {
	p, err := st.Progress(ctx, c)
	if err != nil {
		return nil, err
	}
	p.Holds, p.Senders, err = holdsOf(ctx, st, c, p.Counts[campaign.Pending])
	return p, err
}

// holdsOf says what holds a campaign's pending recipients back now — a
// start time ahead, its senders' daily caps used up, recipients outside
// their send window — and returns its registered senders as read for it.
func holdsOf(ctx context.Context, st *store.Store, c *campaign.Campaign, pending int64) ([]campaign.Hold, []*campaign.SenderUse, error) {
	uses, err := st.SenderUses(ctx, time.Now(), sendStale, c.Senders()...)
	if err != nil {
		return nil, nil, err
	}
	if pending == 0 || c.Status == campaign.StatusCompleted || c.Status == campaign.StatusCanceled {
		return nil, uses, nil
	}
	now := time.Now()
	if holds := c.StartHold(now, pending); holds != nil {
		return holds, uses, nil // nothing else matters before the start
	}
	byID := make(map[string]*campaign.SenderUse, len(uses))
	for _, u := range uses {
		byID[u.ID] = u
	}
	holds := campaign.SenderHolds(c, byID)
	if len(holds) == 1 && len(c.Senders()) == 1 {
		holds[0].Recipients = pending
		return holds, uses, nil // all of them wait for the cap
	}
	byZone, err := st.PendingByZone(ctx, c.ID)
	if err != nil {
		return nil, nil, err
	}
	return append(holds, c.WindowHolds(byZone, now)...), uses, nil
}

// printNeedsReview says, when there are any, how many recipients wait for a
// person's decision and how to make it.
func (a *app) printNeedsReview(name string, n int64) {
	if n > 0 {
		fmt.Fprintf(a.stdout, "%d recipients need review (Twilio's list shows a message that may be theirs, body redacted): smsblast resolve %s\n", n, campaign.Printable(name))
	}
}
