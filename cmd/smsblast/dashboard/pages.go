package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// recentFailures is how many of the latest failures a campaign page lists.
const recentFailures = 20

// firstReadWait is how long a page waits for a read that has no earlier
// value to show (the first view of a campaign since serve started). A
// ten-million-recipient campaign takes longer than that to count; the
// viewer then gets a page that says so and reloads itself, instead of a
// request that outlives serve's write timeout. The read goes on.
const firstReadWait = 5 * time.Second

// errReading says a first read is still running.
var errReading = errors.New("the figures are still being read")

// getOrWait gets key from c, waiting at most wait for a first read.
func getOrWait[K comparable, V any](r *http.Request, wait time.Duration, c *cache[K, V], key K, load func(context.Context) (V, error)) (V, time.Time, error) {
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	v, at, err := c.get(ctx, key, load)
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		return v, at, errReading
	}
	return v, at, err
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// listData is one read of the list of campaigns, shared by every viewer.
// The list looks the same to everyone, and rendering a thousand rows takes
// longer than reading them, so it is rendered once per read (view).
type listData struct {
	overviews []campaign.Overview
	holds     map[int64][]Hold

	once   sync.Once
	rows   []campaignRow
	region region
	err    error
}

func (d *Dashboard) loadList(ctx context.Context) (*listData, error) {
	overviews, err := d.cfg.Store.Overviews(ctx)
	if err != nil {
		return nil, err
	}
	l := &listData{overviews: overviews}
	if d.cfg.Holds != nil {
		ids := make([]int64, len(overviews))
		for i := range overviews {
			ids[i] = overviews[i].Campaign.ID
		}
		if l.holds, err = d.cfg.Holds.Holds(ctx, ids); err != nil {
			return nil, fmt.Errorf("read holds: %w", err)
		}
	}
	return l, nil
}

// campaignRow is one campaign on the list.
type campaignRow struct {
	ID               int64
	Name             string
	Status           campaign.Status
	Total            int64
	Bar              []barSegment
	Final            string // share of recipients with a final state
	Segments         int64
	Delivery         string
	Current, Average string
	Configured       string
	ETA              string
	Holds            []Hold
	LiveWorkers      int
}

// campaignsData is the data of campaigns.html.
type campaignsData struct {
	page
	Rows []campaignRow
	AsOf time.Time
}

// view makes the list's rows and renders its live region, once per read.
func (d *Dashboard) view(l *listData, at time.Time) ([]campaignRow, region, error) {
	l.once.Do(func() {
		rows := make([]campaignRow, 0, len(l.overviews))
		for i := range l.overviews {
			o := &l.overviews[i]
			c := &o.Campaign
			holds := append(derivedHolds(o), l.holds[c.ID]...)
			final := o.Counts[campaign.Delivered] + o.Counts[campaign.Undelivered] + o.Counts[campaign.Failed] + o.Counts[campaign.Skipped]
			rows = append(rows, campaignRow{
				ID: c.ID, Name: c.Name, Status: c.Status, Total: o.Total,
				Bar: progressBar(o.Counts, o.Total), Final: fmtPct(final, o.Total),
				Segments: o.SegmentsSent, Delivery: fmtDeliveryRate(o.DeliveryRate),
				Current: fmtRate(o.CurrentRate), Average: fmtRate(o.AverageRate), Configured: fmtRate(c.Rate),
				ETA: fmtETA(&o.Progress, holds, at), Holds: holds, LiveWorkers: o.LiveWorkers,
			})
		}
		// The campaigns that need watching first, newest first within a state.
		slices.SortStableFunc(rows, func(a, b campaignRow) int {
			if x, y := statusOrder(a.Status), statusOrder(b.Status); x != y {
				return x - y
			}
			return int(b.ID - a.ID)
		})
		l.rows = rows
		html, err := d.fragment("campaigns", "region-campaigns", &campaignsData{Rows: rows, AsOf: at})
		l.region, l.err = newRegion("campaigns", html), err
	})
	return l.rows, l.region, l.err
}

func (d *Dashboard) campaignsData(r *http.Request, id identity) (*campaignsData, error) {
	l, at, err := getOrWait(r, d.firstWait, d.list, struct{}{}, d.loadList)
	if err != nil {
		return nil, err
	}
	rows, reg, err := d.view(l, at)
	if err != nil {
		return nil, err
	}
	p := d.page(r, id, "Campaigns")
	p.Live = "/live"
	p.Regions = map[string]region{"campaigns": reg}
	return &campaignsData{page: p, Rows: rows, AsOf: at}, nil
}

func (d *Dashboard) campaignsPage(w http.ResponseWriter, r *http.Request, id identity) {
	data, err := d.campaignsData(r, id)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.render(w, r, http.StatusOK, "campaigns", data)
}

func (d *Dashboard) campaignsLive(w http.ResponseWriter, r *http.Request, id identity) {
	data, err := d.campaignsData(r, id)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.writeLive(w, r, data.Regions)
}

// campaignData is one read of a campaign's figures, shared by every viewer.
// The campaign's own row (status, reason, rate) is read on every request
// instead: it is one index lookup, and an action must show at once.
type campaignData struct {
	overview *campaign.Overview
	codes    []campaign.FailureCode
	recent   []campaign.Failure
	sends    []campaign.SendBucket
	verdicts []campaign.VerdictBucket
	holds    []Hold
	senders  []SenderUsage
	now      time.Time // when the read began: the charts end there
}

func (d *Dashboard) loadCampaign(c *campaign.Campaign) func(context.Context) (*campaignData, error) {
	return func(ctx context.Context) (*campaignData, error) {
		st := d.cfg.Store
		now := d.cfg.Now()
		cd := &campaignData{now: now}
		// The reads are independent: run them at once, on as many pooled
		// connections, so the page waits for the slowest, not the sum.
		reads := []func(context.Context) error{
			func(ctx context.Context) (err error) { cd.overview, err = st.Overview(ctx, c); return err },
			func(ctx context.Context) (err error) { cd.codes, err = st.FailureCodes(ctx, c.ID); return err },
			func(ctx context.Context) (err error) {
				cd.recent, err = st.RecentFailures(ctx, c.ID, recentFailures)
				return err
			},
			func(ctx context.Context) (err error) {
				cd.sends, cd.verdicts, err = d.readSeries(ctx, c.ID, now)
				return err
			},
		}
		if d.cfg.Holds != nil {
			reads = append(reads, func(ctx context.Context) error {
				m, err := d.cfg.Holds.Holds(ctx, []int64{c.ID})
				if err != nil {
					return fmt.Errorf("read holds of campaign %d: %w", c.ID, err)
				}
				cd.holds = m[c.ID]
				return nil
			})
		}
		if d.cfg.Senders != nil {
			reads = append(reads, func(ctx context.Context) (err error) {
				if cd.senders, err = d.cfg.Senders.Senders(ctx, c.ID); err != nil {
					return fmt.Errorf("read senders of campaign %d: %w", c.ID, err)
				}
				return nil
			})
		}
		if err := all(ctx, reads...); err != nil {
			return nil, err
		}
		return cd, nil
	}
}

// all runs fs concurrently and returns the first error; the first error
// cancels the others.
func all(ctx context.Context, fs ...func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx) // nil unless a read failed or ctx ended
}

// stateRow is one recipient state in a campaign's counts.
type stateRow struct {
	State campaign.RecipientStatus
	N     int64
	Pct   string
}

// failureRow is one recent failure as the viewer may see it.
type failureRow struct {
	Phone       string
	Status      campaign.RecipientStatus
	Code        int
	Description string
	Attempts    int
	At          time.Time
}

// campaignPageData is the data of campaign.html.
type campaignPageData struct {
	page
	C        *campaign.Campaign
	O        *campaign.Overview
	AsOf     time.Time
	Bar      []barSegment
	States   []stateRow
	Final    string
	ETA      string
	Holds    []Hold
	Codes    []campaign.FailureCode
	Recent   []failureRow
	Masked   bool
	Sends    template.HTML
	Verdicts template.HTML
	Minutes  []minuteRow
	// Senders is filled by a SenderSource; without one SenderSeam is true
	// and the page shows the campaign's own sender.
	Senders    []SenderUsage
	SenderSeam bool
	Report     bool
	CanPause   bool
	CanResume  bool
	CanCancel  bool
	CanRetry   bool
}

// campaignFromPath reads the campaign named by the URL's {id}: 404 for
// anything else.
func (d *Dashboard) campaignFromPath(w http.ResponseWriter, r *http.Request, id identity) *campaign.Campaign {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		d.fail(w, r, id, http.StatusNotFound, "There is no such campaign.")
		return nil
	}
	c, err := d.cfg.Store.CampaignByID(r.Context(), n)
	if errors.Is(err, campaign.ErrNotFound) {
		d.fail(w, r, id, http.StatusNotFound, "There is no such campaign.")
		return nil
	}
	if err != nil {
		d.serverError(w, r, id, err)
		return nil
	}
	return c
}

func (d *Dashboard) campaignPageData(r *http.Request, id identity, c *campaign.Campaign) (*campaignPageData, error) {
	cd, at, err := getOrWait(r, d.firstWait, d.campaigns, c.ID, d.loadCampaign(c))
	if err != nil {
		return nil, err
	}
	o := *cd.overview
	o.Campaign = *c // the status as of now, the counts as of the read
	p := d.page(r, id, c.Name)
	p.Live = fmt.Sprintf("/campaigns/%d/live", c.ID)
	p.Flash = flash(r, c)
	holds := append(derivedHolds(&o), cd.holds...)
	data := &campaignPageData{
		page: p, C: c, O: &o, AsOf: at, Bar: progressBar(o.Counts, o.Total), ETA: fmtETA(&o.Progress, holds, at),
		Holds: holds, Codes: cd.codes, Masked: id.role != admin,
		Senders: cd.senders, SenderSeam: d.cfg.Senders == nil, Report: d.cfg.Report != nil,
	}
	var final int64
	for _, s := range states {
		data.States = append(data.States, stateRow{State: s, N: o.Counts[s], Pct: fmtPct(o.Counts[s], o.Total)})
		if s.Final() {
			final += o.Counts[s]
		}
	}
	data.Final = fmtPct(final, o.Total)
	for _, f := range cd.recent {
		phone := f.Phone
		if data.Masked {
			phone = maskPhone(phone)
		}
		data.Recent = append(data.Recent, failureRow{Phone: phone, Status: f.Status, Code: f.ErrorCode,
			Description: f.ErrorDescription, Attempts: f.Attempts, At: f.At})
	}
	sends := sendSeries(cd.now, cd.sends)
	delivered, undelivered := verdictSeries(cd.now, cd.verdicts)
	data.Sends, data.Verdicts = sendChart(sends), verdictChart(delivered, undelivered)
	data.Minutes = minuteTable(sends, delivered, undelivered)
	switch c.Status {
	case campaign.StatusDraft, campaign.StatusRunning:
		data.CanPause, data.CanCancel = true, true
	case campaign.StatusPaused:
		data.CanResume, data.CanCancel = true, true
	}
	for _, f := range cd.codes {
		if f.Requeueable > 0 && c.Status != campaign.StatusCanceled {
			data.CanRetry = true
		}
	}
	return data, nil
}

// campaignRegions are the live parts of a campaign's page.
var campaignRegions = []string{"status", "actions", "counts", "charts", "failures", "senders"}

func (d *Dashboard) campaignPage(w http.ResponseWriter, r *http.Request, id identity) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	data, err := d.campaignPageData(r, id, c)
	if err == nil {
		data.Regions, err = d.regions("campaign", data, campaignRegions...)
	}
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.render(w, r, http.StatusOK, "campaign", data)
}

func (d *Dashboard) campaignLive(w http.ResponseWriter, r *http.Request, id identity) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	data, err := d.campaignPageData(r, id, c)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	data.Flash = "" // a flash belongs to the page load after an action
	regs, err := d.regions("campaign", data, campaignRegions...)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.writeLive(w, r, regs)
}

// liveJSON is what the script fetches every two seconds: the regions that
// changed since the hashes it sent (?known=name.hash,…).
type liveJSON struct {
	Regions map[string]region `json:"regions"`
}

func (d *Dashboard) writeLive(w http.ResponseWriter, r *http.Request, regs map[string]region) {
	known := map[string]string{}
	for _, kv := range strings.Split(r.URL.Query().Get("known"), ",") {
		if name, hash, ok := strings.Cut(kv, "."); ok {
			known[name] = hash
		}
	}
	out := liveJSON{Regions: map[string]region{}}
	for name, reg := range regs {
		if known[name] != reg.Hash {
			out.Regions[name] = reg
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "the live figures could not be encoded", http.StatusInternalServerError)
		return
	}
	writeBody(w, r, http.StatusOK, "application/json", body)
}

// flash is the message of an action's redirect (?done=…), from a fixed set:
// nothing a link could make the page say.
func flash(r *http.Request, c *campaign.Campaign) string {
	q := r.URL.Query()
	switch q.Get("done") {
	case "paused":
		return "Paused. Running senders stop within seconds."
	case "resumed":
		return fmt.Sprintf("Marked runnable. A running sender picks it up; if none runs, start one with 'smsblast send %s'.", c.Name)
	case "canceled":
		return "Canceled. Running senders stop within seconds; pending recipients are never sent."
	case "retried":
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		if n == 0 {
			return "No failed recipient matched: nothing was requeued."
		}
		noun := "recipients"
		if n == 1 {
			noun = "recipient"
		}
		return fmt.Sprintf("%s %s requeued. A running sender sends them; if none runs, start one with 'smsblast send %s'.", fmtInt(n), noun, c.Name)
	case "already":
		return fmt.Sprintf("Nothing to do: the campaign is %s.", c.Status)
	}
	return ""
}
