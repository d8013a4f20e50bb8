package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/csvimport"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// demoRecipients is testdata/demo.csv, embedded so that an installed binary
// runs the demo from any directory. TestDemoCSV keeps the copies identical.
//
//go:generate cp ../../testdata/demo.csv demo.csv
//go:embed demo.csv
var demoRecipients []byte

func demoCommand() *command {
	return &command{
		name:    "demo",
		args:    "",
		summary: "the whole story in under a minute: import, send, Ctrl-C, resume, delivery, SQL (simulated Twilio)",
		examples: `  smsblast demo                  # on the embedded PostgreSQL; no Twilio account needed
  smsblast demo --rate 500       # faster
  smsblast demo --json           # the checks and counts as JSON, for scripts
  DATABASE_URL=postgres://localhost/smsblast smsblast demo`,
		run: runDemo,
	}
}

// What the demo's file holds (see demoCSV in demo_csv_test.go) and so what
// its import must report: the demo is a smoke test as well as a tour.
const (
	demoRead       = 2556
	demoImported   = 2507
	demoDuplicates = 40
	demoRejected   = 9
	demoFrom       = "+15005550006" // Twilio's valid test sender
	demoBody       = "Hi {{.first_name}}, this is Acme Dental: see you {{.appointment}}. Reply C to confirm, STOP to opt out."
	demoOptedOut   = "+15005550004"
)

// demoRefused are Twilio's magic test numbers that fail on create, with
// their codes (Twilio documents them for test credentials). +15005550004 (21610) is the opted-out one.
var demoRefused = map[string]int{
	"+15005550001": 21211,
	"+15005550002": 21612,
	"+15005550003": 21408,
	"+15005550009": 21614,
}

// demoCarrierFailures are recipients of the demo file whose messages the
// simulated carriers refuse after Twilio accepted them, reported by status
// callback; on top of these, a few percent end undelivered at random.
var demoCarrierFailures = map[string]int{
	"+15102000007": 30006, // a landline
	"+16462000333": 30005, // unknown handset
	"+12122001234": 30004, // blocked
}

// demoReport is the --json output: what happened and which checks held.
type demoReport struct {
	Campaign    string           `json:"campaign"`
	DatabaseURL string           `json:"database_url"`
	Import      demoImport       `json:"import"`
	Interrupt   demoInterrupt    `json:"interrupt"`
	Counts      map[string]int64 `json:"counts"`
	Failures    []demoFailure    `json:"failures"`
	Simulator   twiliosim.Stats  `json:"simulator"`
	Checks      []demoCheck      `json:"checks"`
	OK          bool             `json:"ok"`
	Elapsed     float64          `json:"elapsed_seconds"`
}

type demoImport struct {
	Read       int            `json:"read"`
	Imported   int            `json:"imported"`
	Duplicates int            `json:"duplicates"`
	Rejected   int            `json:"rejected"`
	RejectedBy map[string]int `json:"rejected_by"`
	Segments   int            `json:"segments"`
}

// demoInterrupt is where the first send stopped.
type demoInterrupt struct {
	// Done is how many recipients had an answer when the demo interrupted.
	Done int64 `json:"done"`
	// Pending and InDoubt are what the resume started from.
	Pending int64 `json:"pending"`
	InDoubt int64 `json:"in_doubt"`
}

type demoFailure struct {
	Status      string `json:"status"`
	Code        int    `json:"error_code"`
	Description string `json:"description"`
	Count       int    `json:"count"`
}

type demoCheck struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
	Got  string `json:"got,omitempty"`
}

// demoFlags are the demo's settings.
type demoFlags struct {
	rate        float64
	concurrency int
	deliver     time.Duration
	timeout     time.Duration
	json        bool
}

func runDemo(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	var f demoFlags
	fs.Float64Var(&f.rate, "rate", 200, "segments per second, slow enough to watch")
	fs.IntVar(&f.concurrency, "concurrency", 20, "requests in flight to the simulator")
	fs.DurationVar(&f.deliver, "deliver-after", 500*time.Millisecond, "how long simulated carriers take to deliver")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up (exit 1) if the story has not ended by then")
	fs.BoolVar(&f.json, "json", false, "print the report and checks as JSON instead of the story")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if !(f.rate > 0) {
		return usagef("--rate must be more than 0, got %v", f.rate)
	}
	if f.concurrency <= 0 {
		return usagef("--concurrency must be at least 1, got %d", f.concurrency)
	}
	// The engine's info lines would drown the story; --log-level still
	// brings them back.
	levelSet := false
	fs.Visit(func(fl *flag.Flag) { levelSet = levelSet || fl.Name == "log-level" })
	if !levelSet {
		fs.logLevel = "warn"
		if err := a.setupLog(fs); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	stdout := a.stdout
	d := &demo{app: a, f: f, out: stdout, start: time.Now()}
	if f.json {
		// The story goes nowhere (send's own summaries too); only the
		// report is printed.
		d.out = io.Discard
		a.stdout = io.Discard
		defer func() { a.stdout = stdout }()
	}
	err := d.run(ctx, fs)
	if f.json && d.report.Campaign != "" {
		d.report.Elapsed = time.Since(d.start).Seconds()
		writeJSON(stdout, d.report)
	}
	return err
}

// demo is one run of the story.
type demo struct {
	app    *app
	f      demoFlags
	out    io.Writer
	start  time.Time
	report demoReport
	step   int
}

// say prints a line of the story.
func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

// title starts a numbered step of the story.
func (d *demo) title(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n", d.step, fmt.Sprintf(format, args...))
}

// check records whether one claim of the story held.
func (d *demo) check(ok bool, what string, gotf string, args ...any) {
	c := demoCheck{What: what, OK: ok}
	if !ok {
		c.Got = fmt.Sprintf(gotf, args...)
	}
	d.report.Checks = append(d.report.Checks, c)
}

func (d *demo) run(ctx context.Context, fs *flagSet) error {
	a := d.app
	url, err := a.databaseURL(ctx, fs)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, url, a.storeOptions())
	if err != nil {
		return err
	}
	defer st.Close()
	// A new campaign every run, so the demo can be run again and again.
	name := "demo-" + d.start.Format("20060102-150405")
	for n := 2; ; n++ {
		_, err := st.CampaignByName(ctx, name)
		if errors.Is(err, campaign.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		name = fmt.Sprintf("demo-%s-%d", d.start.Format("20060102-150405"), n)
	}
	d.report.Campaign, d.report.DatabaseURL = name, url
	d.say("smsblast demo: campaign %s", name)
	switch {
	case fs.db != nil && *fs.db != "":
		d.say("database: --db")
	case a.getenv("DATABASE_URL") != "":
		d.say("database: $DATABASE_URL")
	default:
		e, _ := a.embedded()
		d.say("database: the embedded PostgreSQL in %s (no DATABASE_URL set); it keeps running for psql until 'smsblast db stop'", e.Home)
	}

	// Twilio, simulated, with a realistic share of trouble.
	sim := twiliosim.New(twiliosim.Options{
		Latency: 40 * time.Millisecond, Jitter: 30 * time.Millisecond,
		Fail5xx: 0.01, Fail429: 0.01, LoseResponse: 0.005,
		DeliverAfter: d.f.deliver, Undelivered: 0.03, Fail: demoCarrierFailures,
		// One seed, so every run meets the same trouble; the simulator's
		// sids are unique across runs regardless, as Twilio's are.
		Seed: 1, Logger: a.log,
	})
	defer sim.Close()
	simURL, stopSim, err := serveLoopback(sim)
	if err != nil {
		return err
	}
	defer stopSim()
	d.say("Twilio: a simulator at %s: 40±30 ms per request, 1%% answered 5xx, 1%% 429, 0.5%% responses lost, 3%% undelivered", simURL)
	hookURL, stopHooks, err := d.serve(ctx, url, sim.AuthToken())
	if err != nil {
		return err
	}
	defer stopHooks()
	callback := hookURL + "/twilio/status"
	d.say("status callbacks: %s, served by 'smsblast serve --addr %s' in-process", callback, strings.TrimPrefix(hookURL, "http://"))

	if err := d.importRecipients(ctx, st, name, callback); err != nil {
		return err
	}
	c, err := st.CampaignByName(ctx, name)
	if err != nil {
		return err
	}
	twCfg := twilio.Config{AccountSID: sim.AccountSID(), AuthToken: sim.AuthToken(), BaseURL: simURL}
	sf := sendFlags{
		lease: 30 * time.Second, requestTimeout: 10 * time.Second, heartbeat: time.Second,
		// The simulator lists a message the moment it exists, so a lost
		// response is settled at once rather than after Twilio's window.
		safetyWindow: 0,
	}

	d.title("Send at %g segments/s (a UCS-2 name makes a message two segments): 'smsblast send %s'", d.f.rate, name)
	if err := d.sendUntilHalfway(ctx, st, c, twCfg, sf); err != nil {
		return err
	}
	d.title("Resume, as you would after Ctrl-C, kill -9 or a reboot: 'smsblast send %s' again", name)
	if err := a.send(ctx, st, twCfg, name, sf); err != nil {
		return fmt.Errorf("resume campaign %s: %w", name, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("demo interrupted: %w", ctx.Err())
	}

	d.title("Wait for the delivery receipts (Twilio's status callbacks)")
	if err := d.awaitDelivery(ctx, st, c, sim); err != nil {
		return err
	}
	d.title("Results, in SQL")
	if err := d.results(ctx, st, name); err != nil {
		return err
	}
	d.title("Checks: did the story hold?")
	if err := d.verify(ctx, st, c, sim); err != nil {
		return err
	}
	d.report.Simulator = sim.Stats()
	d.say("\nExplore it yourself:")
	d.say("  psql \"$(smsblast db url)\"          # %s", url)
	d.say("  smsblast status %s", name)
	d.say("  smsblast db sql \"SELECT * FROM recipient_results WHERE campaign = '%s' LIMIT 10\"", name)
	d.say("  smsblast report %s --format csv > results.csv", name)
	failed := 0
	for _, c := range d.report.Checks {
		if !c.OK {
			failed++
		}
	}
	d.report.OK = failed == 0
	if failed > 0 {
		return fmt.Errorf("demo: %d of %d checks failed: the story did not hold (see the checks)", failed, len(d.report.Checks))
	}
	d.say("\nAll %d checks held, in %v.", len(d.report.Checks), time.Since(d.start).Round(100*time.Millisecond))
	return nil
}

// serveLoopback serves h on a random loopback port, as the simulator and
// the webhook server of the demo only ever talk to this process.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func (d *demo) importRecipients(ctx context.Context, st *store.Store, name, callback string) error {
	d.title("Import testdata/demo.csv: 'smsblast import %s testdata/demo.csv --from %s --body …'", name, demoFrom)
	from, body := demoFrom, demoBody
	rate, conc := d.f.rate, d.f.concurrency
	settings := campaign.Settings{From: &from, Body: &body, Rate: &rate, Concurrency: &conc}
	if callback != "" {
		settings.StatusCallback = &callback
	}
	res, err := csvimport.New(st, csvimport.Config{Logger: d.app.log}).Import(ctx, csvimport.Request{
		Campaign: name,
		Settings: settings,
		Source:   "demo.csv",
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(demoRecipients)), nil },
	})
	if err != nil {
		return fmt.Errorf("import demo.csv into %s: %w", name, err)
	}
	printImport(d.out, res)
	d.report.Import = demoImport{
		Read: res.Read, Imported: res.Imported, Duplicates: res.Duplicates, Rejected: res.Rejected,
		RejectedBy: res.RejectedBy, Segments: res.TotalSegments,
	}
	d.check(res.Read == demoRead && res.Imported == demoImported && res.Duplicates == demoDuplicates && res.Rejected == demoRejected,
		fmt.Sprintf("import: %d rows read, %d imported, %d duplicates (national formats of numbers already in the file), %d rejected",
			demoRead, demoImported, demoDuplicates, demoRejected),
		"%d read, %d imported, %d duplicates, %d rejected", res.Read, res.Imported, res.Duplicates, res.Rejected)
	return nil
}

// sendUntilHalfway sends and, once half the recipients are done, cancels
// the soft context exactly as the first Ctrl-C does in main: the engine
// stops claiming, finishes the requests in flight and records them.
func (d *demo) sendUntilHalfway(ctx context.Context, st *store.Store, c *campaign.Campaign, twCfg twilio.Config, sf sendFlags) error {
	soft, interrupt := context.WithCancel(ctx)
	defer interrupt()
	var at int64
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-soft.Done():
				return
			case <-t.C:
			}
			rem, err := st.Remaining(soft, c.ID)
			if err != nil {
				continue
			}
			if left := rem.Pending + rem.Sending; left <= demoImported/2 {
				at = demoImported - left
				if isTerminal(d.app.stderr) {
					fmt.Fprint(d.app.stderr, "\r\033[K") // the progress bar's line
				}
				d.say("^C  (the demo interrupts itself after %d of %d recipients, exactly as Ctrl-C would)", at, demoImported)
				interrupt()
				return
			}
		}
	}()
	err := d.app.send(soft, st, twCfg, c.Name, sf)
	interrupt()
	<-watched
	if err != nil {
		return fmt.Errorf("send campaign %s: %w", c.Name, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("demo interrupted: %w", ctx.Err())
	}
	rem, err := st.Remaining(ctx, c.ID)
	if err != nil {
		return err
	}
	d.report.Interrupt = demoInterrupt{Done: at, Pending: rem.Pending, InDoubt: rem.Sending}
	d.check(at > 0 && rem.Pending > 0,
		"interrupted halfway: the sender stopped claiming, finished its requests in flight and exited",
		"%d done before the interrupt, then %d pending", at, rem.Pending)
	d.say("left for the resume: %d pending, %d in doubt (answer lost: the resume looks them up in Twilio's list before sending anything)",
		rem.Pending, rem.Sending)
	return nil
}

// awaitDelivery waits until every message Twilio took has its final status.
func (d *demo) awaitDelivery(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) error {
	start := time.Now()
	deadline := start.Add(20*d.f.deliver + 15*time.Second)
	if c.StatusCallback == "" {
		deadline = start // no callbacks: nothing will change
	}
	for {
		p, err := st.Progress(ctx, c)
		if err != nil {
			return err
		}
		waiting := p.Counts[campaign.Accepted] + p.Counts[campaign.Sent]
		if waiting == 0 || time.Now().After(deadline) {
			d.say("%d delivered, %d undelivered, %d failed, %d skipped; %d still waiting for a receipt (%v)",
				p.Counts[campaign.Delivered], p.Counts[campaign.Undelivered], p.Counts[campaign.Failed],
				p.Counts[campaign.Skipped], waiting, time.Since(start).Round(100*time.Millisecond))
			var stuck string
			if waiting > 0 {
				stuck = d.stuck(ctx, st, c, sim)
			}
			d.check(waiting == 0, "every message Twilio accepted reached a final status through its callbacks",
				"%d accepted or sent still waiting after %v: %s", waiting, time.Since(start).Round(time.Second), stuck)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for delivery receipts: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stuck describes a few recipients still waiting for a final status, with
// what Twilio says of their message, so a failed check points at the cause.
func (d *demo) stuck(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) string {
	var out []string
	err := st.Results(ctx, c.ID, []campaign.RecipientStatus{campaign.Accepted, campaign.Sent}, func(r *campaign.Result) error {
		if len(out) == 5 {
			return errEnough
		}
		twilioSays := "unknown to Twilio"
		if m, ok := sim.Message(r.MessageSID); ok {
			twilioSays = "Twilio says " + m.Status
		}
		out = append(out, fmt.Sprintf("%s is %s, sid %s, %s", r.Phone, r.Status, r.MessageSID, twilioSays))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err.Error()
	}
	return strings.Join(out, "; ")
}

// errEnough stops a walk over results early.
var errEnough = errors.New("enough")

// results prints what a user would query: the campaign_stats view and the
// failures by error code, through the same table printer as 'db sql'.
func (d *demo) results(ctx context.Context, st *store.Store, name string) error {
	const statsSQL = `SELECT total, delivered, undelivered, failed, skipped, delivery_rate, avg_rate
FROM campaign_stats WHERE name = $1`
	const failuresSQL = `SELECT status, error_code, error_description, count(*)
FROM recipient_results WHERE campaign = $1 AND error_code IS NOT NULL
GROUP BY 1, 2, 3 ORDER BY 4 DESC, 2`
	d.say("SELECT … FROM campaign_stats WHERE name = '%s';", name)
	stats, err := st.Query(ctx, statsSQL, name)
	if err != nil {
		return err
	}
	printResultTables(d.out, stats)
	d.say("\nFailures by error code (recipient_results joins twilio_errors for the words):")
	fails, err := st.Query(ctx, failuresSQL, name)
	if err != nil {
		return err
	}
	printResultTables(d.out, fails)
	d.report.Counts = map[string]int64{}
	if rows := stats[0].Rows; len(rows) == 1 {
		for i, c := range stats[0].Columns {
			var n int64
			if _, err := fmt.Sscan(orEmpty(rows[0][i]), &n); err == nil && !strings.Contains(c.Name, "rate") {
				d.report.Counts[c.Name] = n
			}
		}
	}
	d.report.Failures = []demoFailure{}
	for _, row := range fails[0].Rows {
		var fl demoFailure
		fl.Status, fl.Description = orEmpty(row[0]), orEmpty(row[2])
		fmt.Sscan(orEmpty(row[1]), &fl.Code)
		fmt.Sscan(orEmpty(row[3]), &fl.Count)
		d.report.Failures = append(d.report.Failures, fl)
	}
	return nil
}

// orEmpty is a query's text value, NULL as "".
func orEmpty(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

// verify compares the database with what the simulated Twilio holds.
func (d *demo) verify(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) error {
	byPhone := map[string]*campaign.Result{}
	err := st.Results(ctx, c.ID, nil, func(r *campaign.Result) error {
		kept := *r // Results reuses r
		byPhone[r.Phone] = &kept
		return nil
	})
	if err != nil {
		return err
	}
	msgs := sim.Messages()
	byTo := map[string][]twiliosim.Message{}
	for _, m := range msgs {
		byTo[m.To] = append(byTo[m.To], m)
	}

	d.check(len(byPhone) == demoImported, fmt.Sprintf("duplicates not imported: %d recipients in the database", demoImported),
		"%d recipients", len(byPhone))

	// Exactly once: every recipient Twilio took has exactly one message,
	// the one whose sid the database holds; nobody else has any.
	var twice, missing, strays, unsent []string
	wantSent := 0
	for phone, r := range byPhone {
		got := byTo[phone]
		switch r.Status {
		case campaign.Accepted, campaign.Sent, campaign.Delivered, campaign.Undelivered:
			wantSent++
			if len(got) != 1 {
				twice = append(twice, fmt.Sprintf("%s has %d messages", phone, len(got)))
			} else if got[0].SID != r.MessageSID {
				missing = append(missing, fmt.Sprintf("%s: database sid %s, Twilio %s", phone, r.MessageSID, got[0].SID))
			}
		case campaign.Pending, campaign.Sending:
			unsent = append(unsent, phone+" "+string(r.Status))
		default: // failed or skipped: Twilio refused, nothing was created
			if len(got) != 0 && r.ErrorCode < 30000 {
				strays = append(strays, fmt.Sprintf("%s is %s but has %d messages", phone, r.Status, len(got)))
			}
		}
	}
	for to := range byTo {
		if _, ok := byPhone[to]; !ok {
			strays = append(strays, to+" is not a recipient")
		}
	}
	wantMessages := demoImported - len(demoRefused) - 1
	d.check(len(twice) == 0 && len(missing) == 0 && len(msgs) == wantMessages,
		fmt.Sprintf("exactly once: each of the %d valid recipients has exactly one message in Twilio, with the sid the database recorded", wantMessages),
		"%d messages for %d sendable recipients; %s", len(msgs), wantSent, firstFew(append(twice, missing...)))
	d.check(len(unsent) == 0 && len(strays) == 0, "nobody skipped: no recipient left pending or sending, no message to anyone else",
		"%s", firstFew(append(unsent, strays...)))

	var wrong []string
	for phone, code := range demoRefused {
		if r := byPhone[phone]; r == nil || r.Status != campaign.Failed || r.ErrorCode != code {
			wrong = append(wrong, fmt.Sprintf("%s: %s, want failed %d", phone, describeResult(r), code))
		}
	}
	sort.Strings(wrong)
	d.check(len(wrong) == 0, "Twilio's magic numbers failed with their codes: 21211, 21612, 21408, 21614", "%s", firstFew(wrong))

	r := byPhone[demoOptedOut]
	optedOut := r != nil && r.OptedOutAt != nil
	d.check(optedOut && r.Status == campaign.Skipped && len(byTo[demoOptedOut]) == 0,
		"the opted-out number (21610) was skipped, never texted, and is in opt_outs",
		"%s is %s with %d messages; in opt_outs: %v", demoOptedOut, describeResult(r), len(byTo[demoOptedOut]), optedOut)

	wrong = wrong[:0]
	for phone, code := range demoCarrierFailures {
		if r := byPhone[phone]; r == nil || r.Status != campaign.Undelivered || r.ErrorCode != code {
			wrong = append(wrong, fmt.Sprintf("%s: %s, want undelivered %d", phone, describeResult(r), code))
		}
	}
	sort.Strings(wrong)
	d.check(len(wrong) == 0, "carrier failures arrived by callback with their codes: 30006, 30005, 30004", "%s", firstFew(wrong))

	for _, ck := range d.report.Checks {
		mark := "✓"
		if !ck.OK {
			mark = "✗"
		}
		d.say("  %s %s", mark, ck.What)
		if !ck.OK {
			d.say("      got: %s", ck.Got)
		}
	}
	return nil
}

func firstFew(s []string) string {
	sort.Strings(s)
	if len(s) > 5 {
		return strings.Join(s[:5], "; ") + fmt.Sprintf("; … %d more", len(s)-5)
	}
	return strings.Join(s, "; ")
}

// serve runs `smsblast serve` in this process, as a user would in another
// terminal, on a free loopback port with the simulator's auth token (for
// the callbacks' signatures), and waits until it answers /healthz. The
// returned stop shuts it down gracefully.
func (d *demo) serve(ctx context.Context, dbURL, authToken string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	env := map[string]string{"DATABASE_URL": dbURL, "TWILIO_AUTH_TOKEN": authToken}
	var stderr bytes.Buffer
	sub := &app{
		stdin:  strings.NewReader(""),
		stdout: io.Discard,
		stderr: &lockedWriter{w: &stderr},
		getenv: func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return d.app.getenv(k)
		},
		hard: d.app.hard,
	}
	srvCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	exited := make(chan int, 1)
	go func() {
		exited <- sub.run(srvCtx, []string{"serve", "--addr", addr, "--public-url", base, "--log-level", "warn"})
	}()
	shutdown := func() {
		stop()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); ; {
		select {
		case code := <-exited:
			stop()
			return "", nil, fmt.Errorf("start smsblast serve: exit %d: %s", code, strings.TrimSpace(stderr.String()))
		default:
		}
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, shutdown, nil
			}
		}
		if time.Now().After(deadline) {
			shutdown()
			return "", nil, fmt.Errorf("start smsblast serve on %s: /healthz did not answer 200 within 15s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedWriter serialises writes from the in-process server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// describeResult is a recipient's state and code for a failed check.
func describeResult(r *campaign.Result) string {
	if r == nil {
		return "not imported"
	}
	return fmt.Sprintf("%s %d", r.Status, r.ErrorCode)
}
