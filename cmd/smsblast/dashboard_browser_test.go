package main

// Browser tests of the dashboard (issue 15): a real headless Chromium
// (Debian's chromium package) drives `smsblast serve` run in-process on a
// real PostgreSQL, while in-process `smsblast send`s send through the
// Twilio simulator, whose signed callbacks reach the same serve. They log
// in, watch a campaign run to completed with the page's counts equal to the
// database's and to `status --json`'s, pause a sending campaign from the
// keyboard and see its sender stop, resume and cancel it, retry by code,
// and check that a viewer's and a CSRF-less admin's posts are refused
// (403). The last one runs `smsblast demo` and photographs its campaign's
// page for the README (-update-screenshot writes it).

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite cmd/smsblast/dashboard/screenshot.png from the browser test")

const (
	screenshotPath = "dashboard/screenshot.png"
	browserView    = "view-token-0123456789abcdef0123456789"
	browserAdmin   = "admin-token-0123456789abcdef0123456789"
)

// chromiumPath finds Chromium: $CHROMIUM, else Debian's /usr/bin/chromium,
// else chromium on PATH. Without it the test fails, saying how to install
// it: the dashboard is only tested if a browser runs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("the dashboard's browser tests need Chromium, which is not installed: apt-get install chromium " +
		"(Debian/Ubuntu; .ci/run does it), or set CHROMIUM to a Chrome or Chromium binary")
	return ""
}

// startBrowser starts a headless Chromium with a fresh profile. The flags
// that stop its background traffic matter here: without them it tries
// Google's servers over and over.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// dashWorld is the whole setup: a database, the simulator, serve with the
// dashboard, and a browser.
type dashWorld struct {
	t       *testing.T
	env     map[string]string
	sim     *twiliosim.Server
	st      *store.Store
	base    string // serve's URL
	browser context.Context
}

func newDashWorld(t *testing.T) *dashWorld {
	t.Helper()
	sim := twiliosim.New(twiliosim.Options{
		DeliverAfter: 300 * time.Millisecond, Undelivered: 0.03, Seed: 7,
		Fail: map[string]int{"+14152000007": 30003, "+14152000011": 30005},
	})
	t.Cleanup(sim.Close)
	simSrv := serveSim(t, sim)
	w := &dashWorld{t: t, sim: sim, env: map[string]string{
		"DATABASE_URL":             pgtest.URL(t),
		"SMSBLAST_HOME":            t.TempDir(),
		"TWILIO_API_URL":           simSrv,
		"TWILIO_ACCOUNT_SID":       sim.AccountSID(),
		"TWILIO_AUTH_TOKEN":        sim.AuthToken(),
		"SMSBLAST_DASHBOARD_TOKEN": browserView,
		"SMSBLAST_ADMIN_TOKEN":     browserAdmin,
	}}
	ctx := context.Background()
	st, err := store.Open(ctx, w.env["DATABASE_URL"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	w.st = st
	w.base = w.startServe()
	w.browser = startBrowser(t) // closed before serve stops (cleanups run last first)
	return w
}

// serveSim serves the simulator on loopback.
func serveSim(t *testing.T, sim *twiliosim.Server) string {
	t.Helper()
	u, stop, err := serveLoopback(sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}

var servingLine = regexp.MustCompile(`msg="serving Twilio webhooks" addr=(\S+)`)

// startServe runs `smsblast serve --addr 127.0.0.1:0` in-process until the
// test ends, and returns its URL.
func (w *dashWorld) startServe() string {
	t := w.t
	logs := &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, getenv: func(k string) string { return w.env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, logs.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop:\n%s", logs.String())
		}
		for _, tok := range []string{browserView, browserAdmin} {
			if strings.Contains(logs.String(), tok) {
				t.Error("serve logged a dashboard token")
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := servingLine.FindStringSubmatch(logs.String()); m != nil {
			if !strings.Contains(logs.String(), "dashboard at http://"+m[1]+"/") {
				t.Fatalf("serve did not say where the dashboard is:\n%s", logs.String())
			}
			return "http://" + m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
	}
}

// importCampaign imports n valid recipients and two Twilio magic numbers
// that fail (21211, 21614), with callbacks to serve.
func (w *dashWorld) importCampaign(name string, n int, rate float64) *campaign.Campaign {
	t := w.t
	t.Helper()
	var b strings.Builder
	b.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&b, "+1415%07d,Name%d\n", 2000000+i, i)
	}
	b.WriteString("+15005550001,Invalid\n+15005550009,Landline\n")
	path := filepath.Join(t.TempDir(), name+".csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runApp(t, w.env, "import", name, path, "--from", "+15005550006", "--body", "Hi {{.name}}",
		"--status-callback", w.base+"/twilio/status", "--rate", fmt.Sprint(rate), "--concurrency", "20", "--send-window", "any")
	if code != 0 {
		t.Fatalf("import %s: exit %d: %s", name, code, errOut)
	}
	c, err := w.st.CampaignByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sendResult is how an in-process `smsblast send` ended.
type sendResult struct {
	code int
	out  string
}

// startSend runs `smsblast send NAME` in-process, as another shell would.
func (w *dashWorld) startSend(name string) <-chan sendResult {
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: out, stderr: errOut, getenv: func(k string) string { return w.env[k] }}
	ch := make(chan sendResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		code := a.run(ctx, []string{"send", name, "--safety-window", "0", "--heartbeat", "500ms"})
		ch <- sendResult{code, out.String() + errOut.String()}
	}()
	return ch
}

// do runs browser actions, failing the test on an error.
func (w *dashWorld) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.browser, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates JavaScript in the page (awaiting a promise) into T.
func eval[T any](w *dashWorld, js string) T {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.browser, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		w.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// submit triggers a navigation (a form's button, a link) and waits for the
// new page to load.
func (w *dashWorld) submit(what string, trigger chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.browser, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
}

// login logs in through the form.
func (w *dashWorld) login(token string) {
	w.t.Helper()
	w.do("open the login form", chromedp.Navigate(w.base+"/login"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token))
	w.submit("log in", chromedp.Click(chromedp.ID("login")))
}

// pageFigures are the figures a campaign page shows, as a reader sees them.
type pageFigures struct {
	Status       string           `json:"status"`
	Counts       map[string]int64 `json:"counts"`
	Total        int64            `json:"total"`
	DeliveryRate string           `json:"delivery_rate"`
	LiveWorkers  int              `json:"live_workers"`
	// Loaded is the time the page was loaded: unchanged when the live
	// refresh, not a reload, changed the figures.
	Loaded float64 `json:"loaded"`
}

const readFigures = `(() => {
	const num = s => Number(s.replace(/,/g, ""));
	const fig = name => document.querySelector('[data-figure="' + name + '"]').textContent.trim();
	const counts = {};
	document.querySelectorAll("tr[data-state]").forEach(tr => { counts[tr.dataset.state] = num(tr.querySelector(".n").textContent); });
	return { status: fig("status"), counts, total: num(fig("total")), delivery_rate: fig("delivery_rate"),
	         live_workers: num(fig("live_workers")), loaded: performance.timeOrigin };
})()`

func (w *dashWorld) figures() pageFigures { return eval[pageFigures](w, readFigures) }

// overflowing lists the elements that stick out of the viewport on the
// right, outside any scrolling box, innermost first: what makes a page
// wider than a phone.
const overflowing = `(() => {
	const out = [];
	const inScroller = el => { for (let p = el.parentElement; p; p = p.parentElement) { if (getComputedStyle(p).overflowX === "auto") return true; } return false; };
	document.querySelectorAll("body *").forEach(el => {
		const r = el.getBoundingClientRect();
		if (r.right > window.innerWidth + 1 && !inScroller(el) && ![...el.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1)) {
			out.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " (" + Math.round(r.right) + " px): " + el.textContent.trim().slice(0, 40));
		}
	});
	return out.slice(0, 8);
})()`

// dbFigures reads the campaign as `smsblast status` does.
func (w *dashWorld) dbFigures(c *campaign.Campaign) *campaign.Progress {
	w.t.Helper()
	ctx := context.Background()
	c, err := w.st.CampaignByID(ctx, c.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := w.st.Progress(ctx, c)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// sameCounts reports whether the page shows the database's counts.
func sameCounts(f pageFigures, p *campaign.Progress) bool {
	if f.Total != p.Total || f.Status != string(p.Campaign.Status) {
		return false
	}
	for _, s := range campaign.RecipientStatuses() {
		if f.Counts[string(s)] != p.Counts[s] {
			return false
		}
	}
	return true
}

func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	w := newDashWorld(t)
	watch := w.importCampaign("watch", 300, 100)

	// Log in as a viewer: the list of campaigns, behind the login form.
	w.do("open the dashboard", chromedp.Navigate(w.base+"/"))
	if loc := eval[string](w, "location.pathname"); loc != "/login" {
		t.Fatalf("the dashboard without a login opened %s, want /login", loc)
	}
	w.login(browserView)
	if got := eval[string](w, `document.querySelector("h1").textContent`); got != "Campaigns" {
		t.Fatalf("after logging in: %q, want the campaigns", got)
	}
	w.submit("open the campaign", chromedp.Click(chromedp.CSS(`a[href="/campaigns/`+fmt.Sprint(watch.ID)+`"]`)))

	// Watch it go out and come back, without reloading the page.
	first := w.figures()
	sent := w.startSend("watch")
	var seenMidway bool
	deadline := time.Now().Add(40 * time.Second)
	for {
		f := w.figures()
		if f.Loaded != first.Loaded {
			t.Fatal("the page reloaded: the counts must change by live refresh")
		}
		final := f.Counts["delivered"] + f.Counts["undelivered"] + f.Counts["failed"] + f.Counts["skipped"]
		if final > 0 && final < f.Total {
			seenMidway = true
		}
		p := w.dbFigures(watch)
		settled := p.Campaign.Status == campaign.StatusCompleted && p.Counts[campaign.Accepted]+p.Counts[campaign.Sent] == 0
		if settled && sameCounts(f, p) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page shows %+v; the database %s %v", f, p.Campaign.Status, p.Counts)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if r := <-sent; r.code != 0 || !strings.Contains(r.out, `campaign "watch" completed`) {
		t.Fatalf("send watch: exit %d\n%s", r.code, r.out)
	}
	if !seenMidway {
		t.Error("the page never showed the campaign part way: it did not refresh while sending")
	}
	// The page's numbers are status --json's.
	code, out, _ := runApp(t, w.env, "status", "watch", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d, %v", code, err)
	}
	f := w.figures()
	if f.Total != st.Total || f.Status != string(st.Status) || f.LiveWorkers != st.LiveWorkers {
		t.Errorf("page %+v; status --json total %d, status %s, live workers %d", f, st.Total, st.Status, st.LiveWorkers)
	}
	for _, s := range campaign.RecipientStatuses() {
		if f.Counts[string(s)] != st.Counts[s] {
			t.Errorf("%s: page %d, status --json %d", s, f.Counts[string(s)], st.Counts[s])
		}
	}
	var rate *float64
	if err := w.st.Pool().QueryRow(context.Background(), `SELECT delivery_rate::float8 FROM campaign_stats WHERE name = 'watch'`).Scan(&rate); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%.1f%%", 100**rate); f.DeliveryRate != want {
		t.Errorf("delivery rate: page %s, campaign_stats %s", f.DeliveryRate, want)
	}
	// A viewer sees masked numbers, and no action is offered.
	if masked := eval[bool](w, `[...document.querySelectorAll("td.phone")].every(td => td.textContent.includes("•"))`); !masked {
		t.Error("a viewer sees whole phone numbers")
	}

	// A viewer's posts are refused, with the viewer's own CSRF token too;
	// so is the report. Nothing changes.
	refused := eval[[]int](w, fmt.Sprintf(`(async () => {
		const tok = document.querySelector('input[name="csrf"]').value;
		const post = (p, body) => fetch("/campaigns/%[1]d/" + p, {method: "POST", body: new URLSearchParams(body), redirect: "manual"}).then(r => r.status);
		return [await post("pause", {csrf: tok}), await post("resume", {csrf: tok}), await post("cancel", {csrf: tok, confirm: "yes"}),
		        await post("retry", {csrf: tok, code: "21614"}), (await fetch("/campaigns/%[1]d/report.csv")).status];
	})()`, watch.ID))
	for i, code := range refused {
		if code != 403 {
			t.Errorf("viewer request %d answered %d, want 403", i, code)
		}
	}
	if c, _ := w.st.CampaignByID(context.Background(), watch.ID); c.Status != campaign.StatusCompleted {
		t.Errorf("after a viewer's refused posts the campaign is %s", c.Status)
	}

	// Log out, log in as an admin.
	w.submit("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	w.login(browserAdmin)
	pausable := w.importCampaign("pausable", 2000, 40)
	w.do("open pausable", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", w.base, pausable.ID)))

	// CSRF-less and forged posts from an admin session are refused too.
	refused = eval[[]int](w, fmt.Sprintf(`(async () => {
		const post = body => fetch("/campaigns/%d/pause", {method: "POST", body: new URLSearchParams(body), redirect: "manual"}).then(r => r.status);
		return [await post({}), await post({csrf: "forged"})];
	})()`, pausable.ID))
	if len(refused) != 2 || refused[0] != 403 || refused[1] != 403 {
		t.Errorf("admin posts without a valid CSRF token: %v, want 403s", refused)
	}

	// Pause a sending campaign from the keyboard; its sender stops.
	sending := w.startSend("pausable")
	waitFor(t, "pausable to start sending", 20*time.Second, func() bool { return len(w.sim.Messages()) >= 300+40 })
	w.do("reload pausable", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", w.base, pausable.ID)))
	reached := false
	for range 60 {
		w.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if eval[string](w, "document.activeElement.id") == "pause" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("the Pause button cannot be reached with Tab")
	}
	w.submit("press Enter on Pause", chromedp.KeyEvent(kb.Enter))
	if f := w.figures(); f.Status != "paused" {
		t.Fatalf("after Pause the page says %q", f.Status)
	}
	if flash := eval[string](w, `document.querySelector(".flash").textContent`); !strings.Contains(flash, "Paused") {
		t.Errorf("no word that it paused: %q", flash)
	}
	select {
	case r := <-sending:
		if !strings.Contains(r.out, `campaign "pausable" stopped`) || !strings.Contains(r.out, "paused from the dashboard") {
			t.Errorf("send pausable: exit %d, did not say it stopped for the pause:\n%s", r.code, r.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the sender did not stop within 15 s of the pause")
	}
	stopped := len(w.sim.Messages())
	time.Sleep(time.Second)
	if n := len(w.sim.Messages()); n != stopped {
		t.Errorf("Twilio got %d more messages after the sender stopped", n-stopped)
	}
	if stopped >= 300+2000 {
		t.Fatal("the pause came after everything was sent: the test proves nothing")
	}
	waitFor(t, "the page to show no sender process", 10*time.Second, func() bool { return w.figures().LiveWorkers == 0 })

	// Resume only marks it runnable: no sender runs, and the page says so.
	w.submit("resume", chromedp.Click(chromedp.ID("resume")))
	if f := w.figures(); f.Status != "running" {
		t.Errorf("after Resume the page says %q", f.Status)
	}
	if holds := eval[string](w, `document.querySelector(".holds").textContent`); !strings.Contains(holds, "no sender is running") {
		t.Errorf("holds after resume: %q", holds)
	}
	// Cancel asks first.
	w.submit("cancel…", chromedp.Click(chromedp.ID("cancel")))
	w.submit("confirm the cancel", chromedp.Click(chromedp.ID("confirm-cancel")))
	if c, _ := w.st.CampaignByID(context.Background(), pausable.ID); c.Status != campaign.StatusCanceled || w.figures().Status != "canceled" {
		t.Errorf("after the confirmed cancel: database %s, page %s", c.Status, w.figures().Status)
	}

	// Retry by code, on the completed campaign: its landline (21614).
	w.do("open watch", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", w.base, watch.ID)))
	if whole := eval[bool](w, `[...document.querySelectorAll("td.phone")].some(td => td.textContent.startsWith("+1"))`); !whole {
		t.Error("an admin sees no whole phone number")
	}
	w.submit("retry 21614", chromedp.Click(chromedp.CSS(`tr[data-code="21614"] button`)))
	if flash := eval[string](w, `document.querySelector(".flash").textContent`); !strings.Contains(flash, "1 recipient requeued") {
		t.Errorf("after retry: %q", flash)
	}
	if p := w.dbFigures(watch); p.Counts[campaign.Pending] != 1 {
		t.Errorf("after retry of 21614: %d pending, want 1", p.Counts[campaign.Pending])
	}

	// On a phone: nothing wider than the screen (wide tables scroll inside
	// their own box).
	w.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{fmt.Sprintf("/campaigns/%d", watch.ID), "/"} {
		w.do("open "+path+" on a phone", chromedp.Navigate(w.base+path))
		if wide := eval[[]string](w, overflowing); len(wide) > 0 {
			t.Errorf("%s is wider than a 390 px screen: %v", path, wide)
		}
	}
	w.do("desktop viewport", chromedp.EmulateViewport(1280, 900))

	// The demo's campaign, photographed for the README.
	code, out, errOut := runApp(t, w.env, append([]string{"demo"}, demoFast...)...)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(out, "smsblast demo: campaign "), "\n")
	demo, err := w.st.CampaignByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	w.do("open the demo's campaign", chromedp.Navigate(fmt.Sprintf("%s/campaigns/%d", w.base, demo.ID)))
	waitFor(t, "the demo's page to show the database's counts", 20*time.Second, func() bool {
		return sameCounts(w.figures(), w.dbFigures(demo))
	})
	w.screenshot()
}

// screenshot photographs the page at 1280 × 1500; -update-screenshot
// writes it beside the dashboard's code for the README.
func (w *dashWorld) screenshot() {
	t := w.t
	w.do("screenshot viewport", chromedp.EmulateViewport(1280, 1500))
	// Let the fonts and the bar settle: the live refresh has nothing to change.
	ctx, cancel := context.WithTimeout(w.browser, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() != 1280 {
		t.Fatalf("screenshot: %v, %v", err, img.Bounds())
	}
	if *updateScreenshot {
		if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", screenshotPath, len(shot))
	} else if _, err := os.Stat(screenshotPath); err != nil {
		t.Errorf("%s is missing (README shows it): go test ./cmd/smsblast -run TestDashboardInBrowser -update-screenshot", screenshotPath)
	}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
