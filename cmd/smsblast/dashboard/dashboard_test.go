package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// testBundle is a dashboard on a real database, served over loopback.
type testBundle struct {
	st  *store.Store
	d   *Dashboard
	srv *httptest.Server
	c   *campaign.Campaign // running, 200 recipients, failures of two codes
}

// newTestBundle serves a dashboard with these tokens over a campaign
// "watched": 200 recipients, 120 delivered, 20 undelivered (30003), 10
// failed (21211), 50 pending; started and running.
func newTestBundle(t *testing.T, viewToken, adminToken string) *testBundle {
	t.Helper()
	st := pgtest.Store(t)
	ctx := context.Background()
	c := &campaign.Campaign{Name: "watched", From: "+15005550006", BodyTemplate: "hi", Status: campaign.StatusRunning}
	if err := st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE campaigns SET started_at = now() WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err := st.Pool().Exec(ctx, `
		INSERT INTO recipients (campaign_id, phone, attrs, status, attempts, error_code, message_sid, segments, sent_at, updated_at)
		SELECT $1, '+1415555' || lpad(g::text, 4, '0'), jsonb_build_object('name', 'n' || g), s, 1,
		       CASE s WHEN 'undelivered' THEN 30003 WHEN 'failed' THEN 21211 END,
		       CASE WHEN s IN ('delivered', 'undelivered') THEN 'SM' || md5(g::text) END, 1,
		       CASE WHEN s <> 'pending' THEN now() - g * interval '1 second' END, now() - g * interval '1 second'
		FROM generate_series(1, 200) g,
		     LATERAL (SELECT CASE WHEN g <= 120 THEN 'delivered' WHEN g <= 140 THEN 'undelivered'
		                          WHEN g <= 150 THEN 'failed' ELSE 'pending' END AS s) x`, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{
		Store: st, DashboardToken: viewToken, AdminToken: adminToken,
		Report: func(ctx context.Context, w io.Writer, c *campaign.Campaign) error {
			cw := csv.NewWriter(w)
			cw.Write([]string{"phone", "status"})
			err := st.Results(ctx, c.ID, nil, func(r *campaign.Result) error {
				return cw.Write([]string{r.Phone, string(r.Status)})
			})
			cw.Flush()
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(func() { srv.Close(); d.Close() })
	return &testBundle{st: st, d: d, srv: srv, c: c}
}

// browser is an HTTP client with its own cookies that does not follow
// redirects, so tests see them.
type browser struct {
	t *testing.T
	b *testBundle
	c *http.Client
}

func (b *testBundle) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, b: b, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// get returns a response's status, body and headers.
func (br *browser) get(path string) (int, string, http.Header) {
	br.t.Helper()
	res, err := br.c.Get(br.b.srv.URL + path)
	if err != nil {
		br.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

func (br *browser) post(path string, form url.Values) (int, string, http.Header) {
	br.t.Helper()
	res, err := br.c.PostForm(br.b.srv.URL+path, form)
	if err != nil {
		br.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the first CSRF token on a page.
func csrf(t *testing.T, html string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", html)
	}
	return m[1]
}

// login logs in with token through the form and checks the outcome.
func (br *browser) login(token string, wantStatus int) {
	br.t.Helper()
	code, html, _ := br.get("/login?next=/")
	if code != http.StatusOK {
		br.t.Fatalf("GET /login: %d", code)
	}
	code, _, _ = br.post("/login", url.Values{"csrf": {csrf(br.t, html)}, "token": {token}, "next": {"/"}})
	if code != wantStatus {
		br.t.Fatalf("POST /login: %d, want %d", code, wantStatus)
	}
}

func (b *testBundle) campaignPath(suffix string) string {
	return fmt.Sprintf("/campaigns/%d%s", b.c.ID, suffix)
}

func (b *testBundle) status(t *testing.T) campaign.Status {
	t.Helper()
	c, err := b.st.CampaignByID(context.Background(), b.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// Read-only pages need the dashboard token; actions and the report an
// admin session and, for actions, the session's CSRF token: everything
// else is refused with 403 and changes nothing.
func TestAccessControl(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, testViewToken, testAdminToken)
	anon := b.browser(t)
	if code, _, h := anon.get("/"); code != http.StatusSeeOther || h.Get("Location") != "/login?next=%2F" {
		t.Errorf("anonymous GET /: %d to %q, want the login form", code, h.Get("Location"))
	}
	if code, _, _ := anon.get("/live"); code != http.StatusUnauthorized {
		t.Errorf("anonymous live JSON: %d, want 401", code)
	}
	if code, _, _ := anon.get("/static/style.css"); code != http.StatusOK {
		t.Errorf("style sheet for the login page: %d", code)
	}
	if code, _, _ := anon.post(b.campaignPath("/pause"), nil); code != http.StatusForbidden {
		t.Errorf("anonymous pause: %d, want 403", code)
	}

	viewer := b.browser(t)
	viewer.login("wrong", http.StatusUnauthorized)
	viewer.login(testViewToken, http.StatusSeeOther)
	code, page, _ := viewer.get(b.campaignPath(""))
	page = html.UnescapeString(page) // + is written &#43;
	if code != http.StatusOK || !strings.Contains(page, "+14•••••••21") || strings.Contains(page, "+14155550") {
		t.Errorf("viewer's campaign page: %d; want masked numbers only", code)
	}
	if strings.Contains(page, `action="/campaigns/`) {
		t.Error("the viewer's page offers actions")
	}
	viewerCSRF := csrf(t, page) // the log-out form's
	for _, p := range []string{"/pause", "/resume", "/retry"} {
		if code, _, _ := viewer.post(b.campaignPath(p), url.Values{"csrf": {viewerCSRF}}); code != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, code)
		}
	}
	if code, _, _ := viewer.post(b.campaignPath("/cancel"), url.Values{"csrf": {viewerCSRF}, "confirm": {"yes"}}); code != http.StatusForbidden {
		t.Errorf("viewer cancel: %d, want 403", code)
	}
	if code, _, _ := viewer.get(b.campaignPath("/report.csv")); code != http.StatusForbidden {
		t.Errorf("viewer report: %d, want 403", code)
	}
	if got := b.status(t); got != campaign.StatusRunning {
		t.Fatalf("after refused actions the campaign is %s", got)
	}

	adm := b.browser(t)
	adm.login(testAdminToken, http.StatusSeeOther)
	code, page, _ = adm.get(b.campaignPath(""))
	page = html.UnescapeString(page)
	if code != http.StatusOK || !strings.Contains(page, "+14155550121") || !strings.Contains(page, `id="pause"`) {
		t.Fatalf("admin's campaign page: %d; want whole numbers and a pause button", code)
	}
	token := csrf(t, page)
	if code, _, _ := adm.post(b.campaignPath("/pause"), nil); code != http.StatusForbidden {
		t.Errorf("admin pause without a CSRF token: %d, want 403", code)
	}
	if code, _, _ := adm.post(b.campaignPath("/pause"), url.Values{"csrf": {viewerCSRF}}); code != http.StatusForbidden {
		t.Errorf("admin pause with another session's CSRF token: %d, want 403", code)
	}
	if got := b.status(t); got != campaign.StatusRunning {
		t.Fatalf("after CSRF-less posts the campaign is %s", got)
	}
	code, _, h := adm.post(b.campaignPath("/pause"), url.Values{"csrf": {token}})
	if code != http.StatusSeeOther || b.status(t) != campaign.StatusPaused {
		t.Fatalf("admin pause: %d, campaign %s", code, b.status(t))
	}
	if _, page, _ := adm.get(h.Get("Location")); !strings.Contains(page, "Paused. Running senders stop") || !strings.Contains(page, "paused from the dashboard") {
		t.Error("the page after pausing does not say so")
	}
	if code, _, _ := adm.post(b.campaignPath("/resume"), url.Values{"csrf": {token}}); code != http.StatusSeeOther || b.status(t) != campaign.StatusRunning {
		t.Errorf("admin resume: %d, campaign %s", code, b.status(t))
	}
	code, _, h = adm.post(b.campaignPath("/retry"), url.Values{"csrf": {token}, "code": {"30003"}})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "n=20") {
		t.Errorf("retry 30003: %d to %q, want 20 requeued", code, h.Get("Location"))
	}
	if code, _, _ := adm.post(b.campaignPath("/retry"), url.Values{"csrf": {token}, "code": {"x"}}); code != http.StatusBadRequest {
		t.Errorf("retry of a code that is no number: %d, want 400", code)
	}
	if code, page, _ := adm.get(b.campaignPath("/cancel")); code != http.StatusOK || !strings.Contains(page, "Yes, cancel watched") {
		t.Errorf("cancel confirmation page: %d", code)
	}
	if code, _, _ := adm.post(b.campaignPath("/cancel"), url.Values{"csrf": {token}}); code != http.StatusBadRequest || b.status(t) == campaign.StatusCanceled {
		t.Errorf("cancel without the confirmation: %d, campaign %s", code, b.status(t))
	}
	if code, _, _ := adm.post(b.campaignPath("/cancel"), url.Values{"csrf": {token}, "confirm": {"yes"}}); code != http.StatusSeeOther || b.status(t) != campaign.StatusCanceled {
		t.Errorf("confirmed cancel: %d, campaign %s", code, b.status(t))
	}

	code, report, h := adm.get(b.campaignPath("/report.csv"))
	rows, err := csv.NewReader(strings.NewReader(report)).ReadAll()
	if code != http.StatusOK || err != nil || len(rows) != 201 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
		h.Get("Content-Disposition") != `attachment; filename="watched-report.csv"` {
		t.Errorf("report: %d, %d rows, %v, %q", code, len(rows), err, h.Get("Content-Disposition"))
	}

	code, _, _ = adm.post("/logout", url.Values{"csrf": {token}})
	if code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := adm.get("/"); code != http.StatusSeeOther {
		t.Errorf("after logout GET /: %d, want the login form", code)
	}
}

// Without tokens (serve allows that on loopback only) the pages are open
// and read-only; with only an admin token, reading is open and actions
// need the admin login.
func TestOpenModes(t *testing.T) {
	t.Parallel()
	open := newTestBundle(t, "", "")
	br := open.browser(t)
	if code, page, _ := br.get("/"); code != http.StatusOK || !strings.Contains(page, "watched") {
		t.Errorf("GET / with no tokens: %d", code)
	}
	if code, page, _ := br.post(open.campaignPath("/pause"), nil); code != http.StatusForbidden || !strings.Contains(page, "SMSBLAST_ADMIN_TOKEN") {
		t.Errorf("pause with no admin token: %d, want 403 naming the variable", code)
	}
	if code, _, h := br.get("/login"); code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Errorf("login with no tokens: %d to %q", code, h.Get("Location"))
	}

	adminOnly := newTestBundle(t, "", testAdminToken)
	br = adminOnly.browser(t)
	if code, page, _ := br.get(adminOnly.campaignPath("")); code != http.StatusOK || !strings.Contains(page, "admin log in") {
		t.Errorf("campaign page with only an admin token: %d, want it readable with a login link", code)
	}
	if code, _, _ := br.post(adminOnly.campaignPath("/pause"), nil); code != http.StatusForbidden {
		t.Errorf("anonymous pause: %d", code)
	}
	br.login(testViewToken, http.StatusUnauthorized) // no dashboard token: not a token here
	br.login(testAdminToken, http.StatusSeeOther)
	_, page, _ := br.get(adminOnly.campaignPath(""))
	if code, _, _ := br.post(adminOnly.campaignPath("/pause"), url.Values{"csrf": {csrf(t, page)}}); code != http.StatusSeeOther || adminOnly.status(t) != campaign.StatusPaused {
		t.Errorf("admin pause: %d", code)
	}
}

// The login form: CSRF-protected, refused over plain HTTP from another
// machine, and its cookie Secure behind a TLS proxy.
func TestLoginRules(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, testViewToken, testAdminToken)
	br := b.browser(t)
	if code, _, _ := br.post("/login", url.Values{"token": {testAdminToken}}); code != http.StatusForbidden {
		t.Errorf("login without a CSRF token: %d, want 403", code)
	}

	// Requests from another machine, straight to the handler.
	loginForm := func(remote, proto string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://dash.example/login", nil)
		r.RemoteAddr = remote
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		w := httptest.NewRecorder()
		b.d.ServeHTTP(w, r)
		token := csrf(t, w.Body.String())
		post := httptest.NewRequest("POST", "http://dash.example/login",
			strings.NewReader(url.Values{"csrf": {token}, "token": {testAdminToken}}.Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.RemoteAddr = remote
		if proto != "" {
			post.Header.Set("X-Forwarded-Proto", proto)
		}
		for _, c := range w.Result().Cookies() {
			post.AddCookie(c)
		}
		w = httptest.NewRecorder()
		b.d.ServeHTTP(w, post)
		return w
	}
	if w := loginForm("203.0.113.7:4000", ""); w.Code != http.StatusForbidden {
		t.Errorf("login over plain HTTP from another machine: %d, want 403", w.Code)
	}
	w := loginForm("203.0.113.7:4000", "https")
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login through a TLS proxy: %d", w.Code)
	}
	var session *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == securePrefix+sessionCookieName {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode ||
		strings.Contains(session.Value, testAdminToken) {
		t.Errorf("session cookie through a TLS proxy: %+v", session)
	}
}

// Every answer carries the security headers, errors and assets included.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", "")
	br := b.browser(t)
	for _, p := range []string{"/", b.campaignPath(""), b.campaignPath("/live"), "/login", "/static/live.js", "/nope", "/campaigns/999"} {
		_, _, h := br.get(p)
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	// No inline script or style on any page: the CSP would block it.
	_, page, _ := br.get(b.campaignPath(""))
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="|\son[a-z]+="`).MatchString(page) {
		t.Error("the campaign page has inline script, style or an event handler")
	}
}

// No phone number in any URL: not in links, forms or scripts.
func TestNoPhoneNumberInURLs(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", testAdminToken)
	br := b.browser(t)
	br.login(testAdminToken, http.StatusSeeOther)
	_, page, _ := br.get(b.campaignPath(""))
	if !strings.Contains(html.UnescapeString(page), "+14155550121") {
		t.Fatalf("the admin's page shows no phone number: the test proves nothing:\n%s", page)
	}
	for _, m := range regexp.MustCompile(`(?:href|action|src)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "/static/") && regexp.MustCompile(`\d{7}`).MatchString(m[1]) {
			t.Errorf("URL %q holds a phone number", m[1])
		}
	}
}

// The campaign page shows the figures Progress reads (`smsblast status`),
// and its live JSON carries the same regions as the page.
func TestCampaignPageFigures(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", "")
	br := b.browser(t)
	_, page, _ := br.get(b.campaignPath(""))
	p, err := b.st.Progress(context.Background(), b.c)
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`<tr data-state="(\w+)">.*?<td class="num n">([\d,]+)</td>`).FindAllStringSubmatch(page, -1)
	if len(rows) != len(states) {
		t.Fatalf("%d state rows, want %d", len(rows), len(states))
	}
	for _, m := range rows {
		n, _ := strconv.ParseInt(strings.ReplaceAll(m[2], ",", ""), 10, 64)
		if want := p.Counts[campaign.RecipientStatus(m[1])]; n != want {
			t.Errorf("%s: page %d, status %d", m[1], n, want)
		}
	}
	for _, want := range []string{`data-figure="total">200<`, `data-figure="delivery_rate">85.7%<`, `data-code="30003"`,
		`href="https://www.twilio.com/docs/errors/21211"`, "Unreachable destination handset"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	_, body, h := br.get(b.campaignPath("/live"))
	var live liveJSON
	if err := json.Unmarshal([]byte(body), &live); err != nil || h.Get("Content-Type") != "application/json" {
		t.Fatalf("live: %v, %q", err, h.Get("Content-Type"))
	}
	for _, name := range campaignRegions {
		r, ok := live.Regions[name]
		if !ok || !strings.Contains(page, fmt.Sprintf(`data-live="%s" data-h="%s"`, name, r.Hash)) {
			t.Errorf("live region %s: missing, or not the page's", name)
		}
	}
	if code, _, _ := br.get("/campaigns/999"); code != http.StatusNotFound {
		t.Errorf("unknown campaign: %d", code)
	}
	if code, page, _ := br.get("/"); code != http.StatusOK || !strings.Contains(page, `href="/campaigns/`+strconv.FormatInt(b.c.ID, 10)+`"`) {
		t.Errorf("campaigns page: %d, without a link to the campaign", code)
	}
}

// The live JSON leaves out the regions the page already has.
func TestLiveSendsOnlyChanges(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", "")
	br := b.browser(t)
	_, page, _ := br.get(b.campaignPath(""))
	var known []string
	for _, m := range regexp.MustCompile(`data-live="(\w+)" data-h="(\w+)"`).FindAllStringSubmatch(page, -1) {
		known = append(known, m[1]+"."+m[2])
	}
	if len(known) != len(campaignRegions) {
		t.Fatalf("%d live regions on the page, want %d", len(known), len(campaignRegions))
	}
	_, body, _ := br.get(b.campaignPath("/live?known=" + url.QueryEscape(strings.Join(known, ","))))
	var live liveJSON
	if err := json.Unmarshal([]byte(body), &live); err != nil || len(live.Regions) != 0 {
		t.Errorf("live JSON with every hash known: %v, %d regions, want none", err, len(live.Regions))
	}
	if _, err := b.st.SetStatus(context.Background(), "watched", campaign.StatusPaused, "by the test"); err != nil {
		t.Fatal(err)
	}
	_, body, _ = br.get(b.campaignPath("/live?known=" + url.QueryEscape(strings.Join(known, ","))))
	live = liveJSON{}
	if err := json.Unmarshal([]byte(body), &live); err != nil {
		t.Fatal(err)
	}
	if _, ok := live.Regions["status"]; !ok || !strings.Contains(string(live.Regions["status"].HTML), "by the test") {
		t.Errorf("after a pause the live JSON has regions %v, want the status", live.Regions)
	}
	if _, ok := live.Regions["charts"]; ok {
		t.Error("the unchanged charts were sent again")
	}
}

func TestWriteBodyGzip(t *testing.T) {
	t.Parallel()
	big := []byte(strings.Repeat("<tr><td>1,234</td></tr>\n", 2000))
	for _, tt := range []struct {
		accept string
		body   []byte
		gz     bool
	}{
		{"gzip, deflate, br", big, true},
		{"", big, false},
		{"gzip;q=0", big, false},
		{"gzip", []byte("<p>small</p>"), false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", tt.accept)
		w := httptest.NewRecorder()
		writeBody(w, r, http.StatusOK, "text/html", tt.body)
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tt.gz {
			t.Errorf("Accept-Encoding %q, %d bytes: gzipped %v, want %v", tt.accept, len(tt.body), got, tt.gz)
		}
		if tt.gz && w.Body.Len() >= len(tt.body)/4 {
			t.Errorf("gzipped %d bytes into %d", len(tt.body), w.Body.Len())
		}
	}
}

// slowStore is a Store whose campaign reads wait for a gate.
type slowStore struct {
	Store
	gate chan struct{}
}

func (s *slowStore) Overview(ctx context.Context, c *campaign.Campaign) (*campaign.Overview, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.Overview(ctx, c)
}

// A first read that takes long answers a page that says so and reloads
// itself; once the read is done, the page shows.
func TestFirstReadTakesLong(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", "")
	slow := &slowStore{Store: b.st, gate: make(chan struct{})}
	d, err := New(Config{Store: slow})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.firstWait = 50 * time.Millisecond
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	w := get(b.campaignPath(""))
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `<meta http-equiv="refresh" content="3">`) {
		t.Fatalf("first view of a slow campaign: %d\n%s", w.Code, w.Body.String())
	}
	if w := get(b.campaignPath("/live")); w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"regions":{}}` {
		t.Errorf("live JSON while reading: %d %s", w.Code, w.Body.String())
	}
	close(slow.gate)
	deadline := time.Now().Add(10 * time.Second)
	for get(b.campaignPath("")).Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the page never showed after the read ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
