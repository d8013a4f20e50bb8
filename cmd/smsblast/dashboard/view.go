package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// Formatting of figures for the pages: the same numbers `smsblast status`
// prints, in the same units and precision (rates to 0.1 msg/s).

// states is the display order of recipient states, as status prints them.
var states = []campaign.RecipientStatus{
	campaign.Pending, campaign.Sending, campaign.Accepted, campaign.Sent, campaign.Delivered,
	campaign.Undelivered, campaign.Failed, campaign.Skipped,
}

// maskPhone hides a phone number's middle digits: +14155550123 becomes
// +14•••••••23. The country code's first digits stay, which says where a
// failure happened, and the last two tell rows apart; the number cannot be
// read back. Admins see numbers whole.
func maskPhone(p string) string {
	digits := strings.TrimPrefix(p, "+")
	if len(digits) <= 4 {
		return strings.Repeat("•", len(p))
	}
	return "+" + digits[:2] + strings.Repeat("•", len(digits)-4) + digits[len(digits)-2:]
}

// fmtInt writes n with thousands separators: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtPct is n out of total as a percentage with one decimal.
func fmtPct(n, total int64) string {
	if total <= 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// fmtRate is a rate in messages per second, as status prints it.
func fmtRate(r float64) string { return fmt.Sprintf("%.1f", r) }

// fmtDeliveryRate is campaign_stats.delivery_rate as a percentage; a dash
// before Twilio took any message.
func fmtDeliveryRate(r float64) string {
	if r < 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*r)
}

// fmtETA is status's ETA as of at, no sooner than holds lift, in words a
// person reads at a glance.
func fmtETA(p *campaign.Progress, holds []Hold, at time.Time) string {
	until := make([]time.Time, len(holds))
	for i, h := range holds {
		until[i] = h.Until
	}
	switch eta := p.ETA(at, until...); {
	case p.Left() == 0:
		return "done"
	case eta <= 0:
		return "unknown (not sending)"
	case eta < time.Minute:
		return fmt.Sprintf("%ds", int(eta.Seconds()))
	case eta < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(eta.Minutes()), int(eta.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(eta.Hours()), int(eta.Minutes())%60)
	}
}

// fmtTime is a time in UTC, to the second; a dash for zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// fmtClock is a time of day in UTC.
func fmtClock(t time.Time) string { return t.UTC().Format("15:04:05") + " UTC" }

// errorURL is Twilio's page about an error code.
func errorURL(code int) string { return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code) }

// barSegment is one recipient state's part of a progress bar.
type barSegment struct {
	State    campaign.RecipientStatus
	N        int64
	X, Width string // in the bar's 1000 units
	Label    string // "delivered: 1,234 (45.6%)"
}

// barWidth is the width of a progress bar's SVG view box.
const barWidth = 1000

// progressBar splits a bar among the states present, in display order. A
// state with any recipients gets at least one unit, so it shows.
func progressBar(counts map[campaign.RecipientStatus]int64, total int64) []barSegment {
	var segs []barSegment
	if total <= 0 {
		return nil
	}
	x := 0.0
	for _, s := range states {
		n := counts[s]
		if n == 0 {
			continue
		}
		w := math.Max(1, barWidth*float64(n)/float64(total))
		segs = append(segs, barSegment{
			State: s, N: n,
			X: strconv.FormatFloat(x, 'f', 1, 64), Width: strconv.FormatFloat(w, 'f', 1, 64),
			Label: fmt.Sprintf("%s: %s (%s)", s, fmtInt(n), fmtPct(n, total)),
		})
		x += w
	}
	return segs
}

// barSummary is a progress bar in words, for its accessible name.
func barSummary(segs []barSegment) string {
	if len(segs) == 0 {
		return "no recipients"
	}
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.Label
	}
	return strings.Join(parts, ", ")
}

// derivedHolds are the holds smsblast has today, read from the campaign's
// status and its live senders, as `smsblast status` words them.
func derivedHolds(o *campaign.Overview) []Hold {
	c := &o.Campaign
	switch {
	case c.Status == campaign.StatusPaused:
		return []Hold{{Kind: "paused", Detail: orDefault(c.StatusReason, "paused")}}
	case c.Status == campaign.StatusCanceled:
		return []Hold{{Kind: "canceled", Detail: orDefault(c.StatusReason, "canceled")}}
	case c.Status == campaign.StatusDraft:
		return []Hold{{Kind: "draft", Detail: fmt.Sprintf("never sent: 'smsblast send %s' starts it", c.Name)}}
	case c.Status == campaign.StatusRunning && o.LiveWorkers == 0 && o.Left() > 0:
		return []Hold{{Kind: "no sender", Detail: fmt.Sprintf("no sender is running: 'smsblast send %s' resumes it", c.Name)}}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// statusOrder sorts the list of campaigns: the ones that need watching first.
func statusOrder(s campaign.Status) int {
	switch s {
	case campaign.StatusRunning:
		return 0
	case campaign.StatusPaused:
		return 1
	case campaign.StatusDraft:
		return 2
	case campaign.StatusCompleted:
		return 3
	}
	return 4
}
