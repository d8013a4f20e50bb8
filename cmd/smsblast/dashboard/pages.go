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
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// recentFailures is how many of the latest failures a campaign page lists.
const recentFailures = 20

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// listData is one read of the list of campaigns, shared by every viewer.
type listData struct {
	overviews []campaign.Overview
	holds     map[int64][]Hold
}

func (d *Dashboard) loadList(ctx context.Context) (*listData, error) {
	os, err := d.cfg.Store.Overviews(ctx)
	if err != nil {
		return nil, err
	}
	l := &listData{overviews: os}
	if d.cfg.Holds != nil {
		ids := make([]int64, len(os))
		for i := range os {
			ids[i] = os[i].Campaign.ID
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

func (d *Dashboard) campaignsData(r *http.Request, id identity) (*campaignsData, error) {
	l, at, err := d.list.get(r.Context(), struct{}{}, d.loadList)
	if err != nil {
		return nil, err
	}
	rows := make([]campaignRow, 0, len(l.overviews))
	for i := range l.overviews {
		o := &l.overviews[i]
		c := &o.Campaign
		final := o.Counts[campaign.Delivered] + o.Counts[campaign.Undelivered] + o.Counts[campaign.Failed] + o.Counts[campaign.Skipped]
		rows = append(rows, campaignRow{
			ID: c.ID, Name: c.Name, Status: c.Status, Total: o.Total,
			Bar: progressBar(o.Counts, o.Total), Final: fmtPct(final, o.Total),
			Segments: o.SegmentsSent, Delivery: fmtDeliveryRate(o.DeliveryRate),
			Current: fmtRate(o.CurrentRate), Average: fmtRate(o.AverageRate), Configured: fmtRate(c.Rate),
			ETA: fmtETA(&o.Progress), Holds: append(derivedHolds(o), l.holds[c.ID]...), LiveWorkers: o.LiveWorkers,
		})
	}
	// The campaigns that need watching first, newest first within a state.
	slices.SortStableFunc(rows, func(a, b campaignRow) int {
		if x, y := statusOrder(a.Status), statusOrder(b.Status); x != y {
			return x - y
		}
		return int(b.ID - a.ID)
	})
	p := d.page(r, id, "Campaigns")
	p.Live = "/live"
	return &campaignsData{page: p, Rows: rows, AsOf: at}, nil
}

// campaignsRegions are the live parts of the list.
var campaignsRegions = []string{"campaigns"}

func (d *Dashboard) campaignsPage(w http.ResponseWriter, r *http.Request, id identity) {
	data, err := d.campaignsData(r, id)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.renderLive(w, r, "campaigns", data, campaignsRegions)
}

func (d *Dashboard) campaignsLive(w http.ResponseWriter, r *http.Request, id identity) {
	data, err := d.campaignsData(r, id)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.writeLive(w, r, id, "campaigns", data, campaignsRegions)
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
		var err error
		if cd.overview, err = st.Overview(ctx, c); err != nil {
			return nil, err
		}
		if cd.codes, err = st.FailureCodes(ctx, c.ID); err != nil {
			return nil, err
		}
		if cd.recent, err = st.RecentFailures(ctx, c.ID, recentFailures); err != nil {
			return nil, err
		}
		n := int(chartWindow / sendStep)
		if cd.sends, err = st.SendSeries(ctx, c.ID, windowStart(now, sendStep, n), sendStep); err != nil {
			return nil, err
		}
		n = int(chartWindow / verdictStep)
		if cd.verdicts, err = st.VerdictSeries(ctx, c.ID, windowStart(now, verdictStep, n), verdictStep); err != nil {
			return nil, err
		}
		if d.cfg.Holds != nil {
			m, err := d.cfg.Holds.Holds(ctx, []int64{c.ID})
			if err != nil {
				return nil, fmt.Errorf("read holds of campaign %d: %w", c.ID, err)
			}
			cd.holds = m[c.ID]
		}
		if d.cfg.Senders != nil {
			if cd.senders, err = d.cfg.Senders.Senders(ctx, c.ID); err != nil {
				return nil, fmt.Errorf("read senders of campaign %d: %w", c.ID, err)
			}
		}
		return cd, nil
	}
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
	cd, at, err := d.campaigns.get(r.Context(), c.ID, d.loadCampaign(c))
	if err != nil {
		return nil, err
	}
	o := *cd.overview
	o.Campaign = *c // the status as of now, the counts as of the read
	p := d.page(r, id, c.Name)
	p.Live = fmt.Sprintf("/campaigns/%d/live", c.ID)
	p.Flash = flash(r, c)
	data := &campaignPageData{
		page: p, C: c, O: &o, AsOf: at, Bar: progressBar(o.Counts, o.Total), ETA: fmtETA(&o.Progress),
		Holds: append(derivedHolds(&o), cd.holds...), Codes: cd.codes, Masked: id.role != admin,
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
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.renderLive(w, r, "campaign", data, campaignRegions)
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
	d.writeLive(w, r, id, "campaign", data, campaignRegions)
}

// liveData wraps a page's data with its rendered regions, for the layout.
type liveData interface{ setRegions(map[string]region) }

func (p *campaignsData) setRegions(m map[string]region)    { p.Regions = m }
func (p *campaignPageData) setRegions(m map[string]region) { p.Regions = m }

// renderLive renders a page whose regions are rendered first, so that the
// page and the live JSON carry the same HTML and hashes.
func (d *Dashboard) renderLive(w http.ResponseWriter, r *http.Request, name string, data liveData, names []string) {
	regs, err := d.regions(name, data, names...)
	if err != nil {
		d.cfg.Log.Error("dashboard: render regions", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	data.setRegions(regs)
	d.render(w, http.StatusOK, name, data)
}

// liveJSON is what the script fetches every two seconds.
type liveJSON struct {
	Regions map[string]region `json:"regions"`
}

func (d *Dashboard) writeLive(w http.ResponseWriter, r *http.Request, id identity, name string, data any, names []string) {
	regs, err := d.regions(name, data, names...)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(liveJSON{Regions: regs})
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
