package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
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
	CurrentRate  float64                            `json:"current_rate"`
	AverageRate  float64                            `json:"average_rate"`
	ETASeconds   float64                            `json:"eta_seconds"`
	LiveWorkers  int                                `json:"live_workers"`
	FirstSentAt  *time.Time                         `json:"first_sent_at"`
	LastSentAt   *time.Time                         `json:"last_sent_at"`
	TopErrors    []campaign.ErrorCount              `json:"top_errors"`
}

func runStatus(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	asJSON := fs.Bool("json", false, "print JSON")
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
		p, err := st.Progress(ctx, c)
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

func toStatusJSON(p *campaign.Progress) statusJSON {
	s := statusJSON{
		Campaign: p.Campaign.Name, Status: p.Campaign.Status, StatusReason: p.Campaign.StatusReason,
		Sender: p.Campaign.Sender(), Rate: p.Campaign.Rate, Total: p.Total, Counts: p.Counts,
		CurrentRate: p.CurrentRate, AverageRate: p.AverageRate, ETASeconds: p.ETA().Seconds(),
		LiveWorkers: p.LiveWorkers, TopErrors: p.TopErrors,
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
		state += " (" + c.StatusReason + ")"
	case c.Status == campaign.StatusRunning && p.LiveWorkers == 0:
		state += fmt.Sprintf(" (no sender is running: 'smsblast send %s' resumes it)", c.Name)
	}
	fmt.Fprintf(a.stdout, "campaign %s: %s\n", c.Name, state)
	fmt.Fprintf(a.stdout, "sender %s, rate %g/s, %d recipients, %d sender process(es) running\n",
		c.Sender(), c.Rate, p.Total, p.LiveWorkers)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, s := range statusStates {
		n := p.Counts[s]
		pct := 0.0
		if p.Total > 0 {
			pct = 100 * float64(n) / float64(p.Total)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.1f%%\t\n", s, n, pct)
	}
	tw.Flush()
	fmt.Fprintf(a.stdout, "rate: %.1f msg/s now, %.1f msg/s average", p.CurrentRate, p.AverageRate)
	if eta := p.ETA(); eta > 0 {
		fmt.Fprintf(a.stdout, ", ETA %v", eta)
	}
	fmt.Fprintln(a.stdout)
	if len(p.TopErrors) > 0 {
		fmt.Fprintln(a.stdout, "top errors:")
		tw = tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, e := range p.TopErrors {
			fmt.Fprintf(tw, "  %d\t%d\t%s\n", e.Code, e.Count, e.Description)
		}
		tw.Flush()
	}
}
