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

// The demo's campaign: Twilio's valid test sender, and a body whose
// template uses the file's columns.
const (
	demoFrom = "+15005550006"
	demoBody = "Hi {{.first_name}}, this is Acme Dental: see you {{.appointment}}. Reply C to confirm, STOP to opt out."
)

// demoFlags are the demo's settings.
type demoFlags struct {
	rate        float64
	concurrency int
	deliver     time.Duration
	timeout     time.Duration
	json        bool
}

// runDemo tells the story: import, send, an interrupt, the resume, the
// delivery receipts, the results in SQL. The story's claims are checked as
// it goes (demo_checks.go) and summed up in its report (demo_report.go).
func runDemo(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	var f demoFlags
	fs.Float64Var(&f.rate, "rate", 200, "segments per second, slow enough to watch")
	fs.IntVar(&f.concurrency, "concurrency", 20, "requests in flight to the simulator")
	fs.DurationVar(&f.deliver, "deliver-after", 500*time.Millisecond, "how long simulated carriers take to deliver")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up (exit 1) if the story has not ended by then")
	fs.BoolVar(&f.json, "json", false, "print the report and checks as JSON instead of the story")
	fs.validate = func([]string) error {
		s := campaign.Settings{Rate: &f.rate, Concurrency: &f.concurrency}
		if err := s.Validate(); err != nil {
			return settingUsage(err)
		}
		if err := durationIn("deliver-after", f.deliver, 0, time.Minute); err != nil {
			return err
		}
		return durationIn("timeout", f.timeout, time.Second, time.Hour)
	}
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
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
	d.printChecks()
	d.report.Simulator = sim.Stats()
	d.say("\nExplore it yourself:")
	d.say("  psql \"$(smsblast db url)\"          # %s", url)
	d.say("  smsblast status %s", name)
	d.say("  smsblast db sql \"SELECT * FROM recipient_results WHERE campaign = '%s' LIMIT 10\"", name)
	d.say("  smsblast report %s --format csv > results.csv", name)
	if failed := d.report.failed(); failed > 0 {
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
	d.title("Import testdata/demo.csv: 'smsblast import %s testdata/demo.csv --from %s --body … --send-window any'", name, demoFrom)
	fmt.Fprintln(d.out, "  (send window 'any': the simulator's handsets never sleep, so the demo runs at any hour;")
	fmt.Fprintln(d.out, "   a real campaign keeps the default 08:00-21:00 in each recipient's local time)")
	from, body := demoFrom, demoBody
	rate, conc := d.f.rate, d.f.concurrency
	anyTime := campaign.AnyTime
	settings := campaign.Settings{From: []string{from}, Body: &body, Rate: &rate, Concurrency: &conc, StatusCallback: &callback, Window: &anyTime}
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
	d.checkImport(res)
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
				clearProgressLine(d.app.stderr)
				d.say("^C  (the demo interrupts itself after %d of %d recipients, exactly as Ctrl-C would)", at, demoImported)
				interrupt()
				return
			}
		}
	}()
	err := d.app.send(soft, st, twCfg, c.Name, sf)
	interrupt()
	<-watched
	if err != nil && !errors.Is(err, errInterrupted) { // the interrupt is the demo's own
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
	d.checkInterrupted(at, rem)
	d.say("left for the resume: %d pending, %d in doubt (answer lost: the resume looks them up in Twilio's list before sending anything)",
		rem.Pending, rem.Sending)
	return nil
}

// awaitDelivery waits until every message Twilio took has its final status.
func (d *demo) awaitDelivery(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) error {
	start := time.Now()
	deadline := start.Add(20*d.f.deliver + 15*time.Second)
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
			d.checkDelivered(ctx, st, c, sim, waiting, time.Since(start))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for delivery receipts: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

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
	d.report.setResults(stats[0], fails[0])
	return nil
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
