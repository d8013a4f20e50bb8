package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"

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
		// Holds and Senders: the seams for send windows, schedules, caps,
		// budgets and the sender registry; adapt their store methods here
		// when they exist.
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
