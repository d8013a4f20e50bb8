package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/cmd/smsblast/dashboard"
	"github.com/smsblast/smsblast/store"
)

// The web dashboard of `smsblast serve` (package dashboard), wired to the
// store and to report's CSV writer, behind the rule on who may see it.

const (
	envDashboardToken = "SMSBLAST_DASHBOARD_TOKEN"
	envAdminToken     = "SMSBLAST_ADMIN_TOKEN"
	// minTokenLen is the length under which a token draws a warning: the
	// login form is the only thing between a network and the campaigns.
	minTokenLen = 16
)

// isLoopback reports whether a listener's address is reachable only from
// this machine.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// serveDashboard returns serve's handler: the webhooks, and the dashboard
// at / when the tokens and the address allow it. With neither token set the
// dashboard is served only on a loopback address (read-only, phone numbers
// masked); serve says at start which it is. Tokens come from the
// environment only and are never logged. Call the returned func after the
// server has stopped.
func (a *app) serveDashboard(st *store.Store, addr net.Addr, hooks http.Handler) (http.Handler, func(), error) {
	viewTok := strings.TrimSpace(a.getenv(envDashboardToken))
	adminTok := strings.TrimSpace(a.getenv(envAdminToken))
	url := "http://" + addr.String() + "/"
	switch {
	case viewTok == "" && adminTok == "" && !isLoopback(addr):
		a.log.Warn("dashboard off: "+addr.String()+" is not a loopback address and neither "+envDashboardToken+
			" nor "+envAdminToken+" is set; set them, or serve on 127.0.0.1, to get the dashboard at /",
			"addr", addr.String())
		return hooks, func() {}, nil
	case viewTok == "" && adminTok == "":
		a.log.Info("dashboard at "+url+": read-only, no login (loopback address and no tokens set; "+
			envAdminToken+" enables actions)", "addr", addr.String())
	case viewTok == "" && !isLoopback(addr):
		a.log.Warn("dashboard at "+url+": "+envDashboardToken+" is not set, so anyone who reaches "+addr.String()+
			" can read it (phone numbers masked); actions need "+envAdminToken, "addr", addr.String())
	default:
		a.log.Info("dashboard at "+url, "login_to_read", viewTok != "", "actions", adminTok != "")
	}
	if viewTok != "" && viewTok == adminTok {
		a.log.Warn(envDashboardToken + " and " + envAdminToken + " are the same: everyone who may read may also act")
	}
	for name, tok := range map[string]string{envDashboardToken: viewTok, envAdminToken: adminTok} {
		if tok != "" && len(tok) < minTokenLen {
			a.log.Warn(name+" is short: use a long random token (openssl rand -hex 32)", "length", len(tok))
		}
	}
	d, err := dashboard.New(dashboard.Config{
		Store:          st,
		Report:         csvReport(st),
		DashboardToken: viewTok,
		AdminToken:     adminTok,
		Log:            a.log,
		Holds:          dashboardHolds{st},
		Senders:        dashboardSenders{st},
	})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/twilio/", hooks)
	mux.Handle("/healthz", hooks)
	mux.Handle("/metrics", hooks)
	mux.Handle("/", d)
	return mux, d.Close, nil
}

// dashboardHolds gives the dashboard the holds `status` shows: a start
// ahead, daily caps used up, recipients outside their send window.
type dashboardHolds struct{ st *store.Store }

func (h dashboardHolds) Holds(ctx context.Context, ids []int64) (map[int64][]dashboard.Hold, error) {
	out := map[int64][]dashboard.Hold{}
	for _, id := range ids {
		c, err := h.st.CampaignByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if c.Status == campaign.StatusCompleted || c.Status == campaign.StatusCanceled {
			continue
		}
		byZone, err := h.st.PendingByZone(ctx, id)
		if err != nil {
			return nil, err
		}
		var pending int64
		for _, n := range byZone {
			pending += n
		}
		holds, _, err := holdsOf(ctx, h.st, c, pending)
		if err != nil {
			return nil, err
		}
		for _, hd := range holds {
			detail := hd.String()
			if hd.Recipients > 0 {
				detail = fmt.Sprintf("%d recipients: %s", hd.Recipients, detail)
			}
			out[id] = append(out[id], dashboard.Hold{Kind: string(hd.Reason), Detail: detail, Until: hd.Until})
		}
	}
	return out, nil
}

// dashboardSenders gives the dashboard a campaign's senders from the
// registry, with today's usage and how many campaigns share each.
type dashboardSenders struct{ st *store.Store }

func (s dashboardSenders) Senders(ctx context.Context, campaignID int64) ([]dashboard.SenderUsage, error) {
	c, err := s.st.CampaignByID(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	uses, err := s.st.SenderUses(ctx, time.Now(), sendStale, c.Senders()...)
	if err != nil {
		return nil, err
	}
	byCampaign, err := s.st.SenderCampaigns(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]*campaign.SenderUse{}
	for _, u := range uses {
		known[u.ID] = u
	}
	var out []dashboard.SenderUsage
	for _, id := range c.Senders() {
		su := dashboard.SenderUsage{Sender: id, Campaigns: len(byCampaign[id])}
		if u := known[id]; u != nil {
			su.Kind, su.MPS, su.DailyCap, su.SegmentsToday = string(u.Kind), u.EffectiveMPS(), u.DailyCap, u.Used
		}
		out = append(out, su)
	}
	return out, nil
}

// csvReport writes a campaign's report exactly as `smsblast report` does.
func csvReport(st *store.Store) dashboard.ReportFunc {
	return func(ctx context.Context, w io.Writer, c *campaign.Campaign) error {
		keys, err := st.ResultAttrKeys(ctx, c.ID)
		if err != nil {
			return err
		}
		rw := newCSVResults(w, keys)
		if err := st.Results(ctx, c.ID, nil, rw.write); err != nil {
			return err
		}
		return rw.flush()
	}
}
