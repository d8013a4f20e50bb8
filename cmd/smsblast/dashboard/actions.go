package dashboard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// The admin's actions. Each is a POST from a form on the campaign's page
// (behind action: an admin session and its CSRF token), does what the
// command of the same name does, logs who did it and redirects back to the
// page with a message (post/redirect/get, so a reload does not repeat it).

// done redirects to the campaign's page with an action's message.
func (d *Dashboard) done(w http.ResponseWriter, r *http.Request, c *campaign.Campaign, what string, extra ...string) {
	d.campaigns.drop(c.ID)
	d.list.drop(struct{}{})
	u := fmt.Sprintf("/campaigns/%d?done=%s", c.ID, what)
	for i := 0; i+1 < len(extra); i += 2 {
		u += "&" + extra[i] + "=" + urlQueryEscape(extra[i+1])
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (d *Dashboard) logAction(r *http.Request, c *campaign.Campaign, action string, args ...any) {
	d.cfg.Log.Info("dashboard: "+action, append([]any{"campaign", c.Name, "by", "admin", "remote", r.RemoteAddr}, args...)...)
}

// setStatus pauses or cancels, as `smsblast pause|cancel` do.
func (d *Dashboard) setStatus(w http.ResponseWriter, r *http.Request, id identity, to campaign.Status, reason, done string) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	from, err := d.cfg.Store.SetStatus(r.Context(), c.Name, to, reason)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.logAction(r, c, string(to), "was", from)
	if from == to || from == campaign.StatusCompleted || from == campaign.StatusCanceled {
		d.done(w, r, c, "already")
		return
	}
	d.done(w, r, c, done)
}

func (d *Dashboard) pause(w http.ResponseWriter, r *http.Request, id identity) {
	d.setStatus(w, r, id, campaign.StatusPaused, "paused from the dashboard", "paused")
}

func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request, id identity) {
	if r.PostForm.Get("confirm") != "yes" {
		d.fail(w, r, id, http.StatusBadRequest, "Canceling needs the confirmation form.")
		return
	}
	d.setStatus(w, r, id, campaign.StatusCanceled, "canceled from the dashboard", "canceled")
}

// resume only marks the campaign runnable; the senders pick it up.
func (d *Dashboard) resume(w http.ResponseWriter, r *http.Request, id identity) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	from, err := d.cfg.Store.ResumeCampaign(r.Context(), c.ID)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.logAction(r, c, "resume", "was", from)
	if from != campaign.StatusPaused {
		d.done(w, r, c, "already")
		return
	}
	d.done(w, r, c, "resumed")
}

// retry requeues failures by code, as `smsblast retry --codes` does; with
// no code, the retryable ones, as `smsblast retry` does.
func (d *Dashboard) retry(w http.ResponseWriter, r *http.Request, id identity) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	var codes []int
	for _, s := range r.PostForm["code"] {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			d.fail(w, r, id, http.StatusBadRequest, fmt.Sprintf("%q is not a Twilio error code.", s))
			return
		}
		codes = append(codes, n)
	}
	n, err := d.cfg.Store.Requeue(r.Context(), c.ID, codes)
	if err != nil {
		d.serverError(w, r, id, err)
		return
	}
	d.logAction(r, c, "retry", "codes", codes, "requeued", n)
	d.done(w, r, c, "retried", "n", strconv.FormatInt(n, 10))
}

// confirmData is the data of confirm.html.
type confirmData struct {
	page
	C *campaign.Campaign
}

// confirmCancel asks before canceling: a page of its own, so it works
// without JavaScript and the button cannot be pressed by accident.
func (d *Dashboard) confirmCancel(w http.ResponseWriter, r *http.Request, id identity) {
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	d.render(w, r, http.StatusOK, "confirm", confirmData{page: d.page(r, id, "Cancel "+c.Name), C: c})
}

// reportWriteSlack is how long the next write of a report may take: the
// server's write timeout is meant for pages, and a ten-million-row report
// takes minutes to stream, so each write moves the deadline on. A client
// that stops reading is still cut off.
const reportWriteSlack = 30 * time.Second

// deadlineWriter extends the connection's write deadline before each write.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (dw *deadlineWriter) Write(p []byte) (int, error) {
	_ = dw.rc.SetWriteDeadline(time.Now().Add(reportWriteSlack)) // unsupported: keep the server's
	return dw.w.Write(p)
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// report streams the campaign's report as CSV: `smsblast report`'s file,
// for admins only (it holds every phone number and CSV column).
func (d *Dashboard) report(w http.ResponseWriter, r *http.Request, id identity) {
	if d.cfg.Report == nil {
		d.fail(w, r, id, http.StatusNotFound, "This server has no report download.")
		return
	}
	c := d.campaignFromPath(w, r, id)
	if c == nil {
		return
	}
	name := strings.Trim(unsafeFileChars.ReplaceAllString(c.Name, "-"), "-.")
	if name == "" {
		name = "campaign-" + strconv.FormatInt(c.ID, 10)
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`-report.csv"`)
	h.Set("Cache-Control", "no-store")
	d.logAction(r, c, "report download")
	bw := bufio.NewWriterSize(&deadlineWriter{w: w, rc: http.NewResponseController(w)}, 64<<10)
	err := d.cfg.Report(r.Context(), bw, c)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		if !errors.Is(err, r.Context().Err()) || r.Context().Err() == nil {
			d.cfg.Log.Error("dashboard: report download failed", "campaign", c.Name, "err", err)
		}
		// The status line is gone: end the connection so the download
		// fails instead of looking complete.
		panic(http.ErrAbortHandler)
	}
}
