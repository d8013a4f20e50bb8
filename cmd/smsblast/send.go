package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio"
)

func sendCommand() *command {
	return &command{
		name:    "send",
		args:    "CAMPAIGN",
		summary: "launch or resume a campaign; runs until nothing is left to send",
		examples: `  smsblast send spring-sale --rate 10
  smsblast send spring-sale --rate 100 --concurrency 50   # on several machines at once: the rate is shared
  smsblast send spring-sale --test +14155550100           # the first recipient's message, to your phone only
  smsblast send spring-sale --test +14155550100,+14155550101 --test-line 17
  (Ctrl-C once: finish requests in flight and stop, resumable; twice: stop at once)`,
		run: runSend,
	}
}

// sendFlags are send's engine settings; the safety ones are for tests and
// experts and are documented in the README.
type sendFlags struct {
	rate           float64
	concurrency    int
	lease          time.Duration
	requestTimeout time.Duration
	safetyWindow   time.Duration
	heartbeat      time.Duration
	metricsAddr    string
	noWait         bool
	json           bool
	test           senderList
	testLine       int
}

func runSend(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	var f sendFlags
	fs.Float64Var(&f.rate, "rate", 0, "messages (segments) per second for the whole campaign, stored on it (default: the campaign's)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "requests in flight per sender process, stored on the campaign (default: the campaign's)")
	fs.DurationVar(&f.lease, "lease", 30*time.Second, "how long a claimed recipient is held without renewal")
	fs.DurationVar(&f.requestTimeout, "request-timeout", 10*time.Second, "timeout of one request to Twilio (with a 2s margin, under --lease)")
	fs.DurationVar(&f.safetyWindow, "safety-window", 2*time.Minute, "how long a message of an unanswered request may take to appear in Twilio's list")
	fs.DurationVar(&f.heartbeat, "heartbeat", time.Second, "how often a sender reports and checks for pause/cancel")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve this sender's live Prometheus metrics (in flight, rate, outcomes) at http://ADDR/metrics")
	fs.BoolVar(&f.noWait, "no-wait", false, "when all that is left is held (a daily cap, a retry's back-off), exit 0 instead of waiting, saying until when")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
	fs.Var(&f.test, "test", "send only a test: the first recipient's rendered message to these numbers (+1…,+1… or the flag repeated); no recipient changes")
	fs.IntVar(&f.testLine, "test-line", 0, "with --test, the message of the recipient on this CSV line instead of the first")
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		return f.validate(fs.FlagSet)
	}
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if len(f.test) > 0 || f.testLine != 0 {
		return a.runTestSend(ctx, fs, pos[0], f)
	}
	twCfg, err := twilio.ConfigFromEnv(a.getenv)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	return a.send(ctx, st, twCfg, pos[0], f)
}

// Bounds of send's durations. The floors keep a sender able to work (a
// request gets a second, a lease outlasts its request and a few
// heartbeats); the ceilings refuse what can only be a slip of the finger.
const (
	minLease, maxLease                   = 2 * time.Second, time.Hour
	minRequestTimeout, maxRequestTimeout = time.Second, 5 * time.Minute
	minHeartbeat, maxHeartbeat           = 10 * time.Millisecond, time.Minute
	maxSafetyWindow                      = 24 * time.Hour
)

// validate checks send's flags, each by name, then how they fit together.
func (f *sendFlags) validate(fs *flag.FlagSet) error {
	var s campaign.Settings
	if given(fs, "rate") {
		s.Rate = &f.rate
	}
	if given(fs, "concurrency") {
		s.Concurrency = &f.concurrency
	}
	if err := s.Validate(); err != nil {
		return settingUsage(err)
	}
	for _, err := range []error{
		durationIn("lease", f.lease, minLease, maxLease),
		durationIn("request-timeout", f.requestTimeout, minRequestTimeout, maxRequestTimeout),
		durationIn("heartbeat", f.heartbeat, minHeartbeat, maxHeartbeat),
		durationIn("safety-window", f.safetyWindow, 0, maxSafetyWindow),
	} {
		if err != nil {
			return err
		}
	}
	if given(fs, "test-line") {
		if f.testLine < 2 || f.testLine > 1_000_000_000 {
			return usagef("--test-line %d: give the line of a recipient in the CSV (the header is line 1)", f.testLine)
		}
		if len(f.test) == 0 {
			return usagef("--test-line: give the numbers to send the test to with --test")
		}
	}
	if f.metricsAddr != "" {
		if err := addrFlag("metrics-addr", f.metricsAddr); err != nil {
			return err
		}
	}
	if 3*f.heartbeat > f.lease {
		return usagef("--heartbeat %s: give at most a third of --lease (%s), so that leases are renewed in time", f.heartbeat, f.lease)
	}
	if margin := min(2*time.Second, f.requestTimeout/2); f.requestTimeout+margin >= f.lease {
		return usagef("--request-timeout %s: give less than --lease (%s) minus a margin of %s", f.requestTimeout, f.lease, margin)
	}
	// What the engine checks itself, should the two ever disagree.
	if err := f.engineConfig(0, nil).Validate(); err != nil {
		return usagef("--lease, --request-timeout, --heartbeat, --safety-window: %v", err)
	}
	return nil
}

// send runs the engine with a progress display; demo reuses it.
func (a *app) send(ctx context.Context, st *store.Store, twCfg twilio.Config, name string, f sendFlags) error {
	c, err := st.CampaignByName(ctx, name)
	if err != nil {
		return err
	}
	if c.Status == campaign.StatusCanceled { // before its settings change: it is over
		return fmt.Errorf("send campaign %q: %w", name, campaign.ErrCanceled)
	}
	defer a.keepPartitions(ctx, st)()
	if f.rate > 0 || f.concurrency > 0 {
		if err := st.UpdateSending(ctx, c.ID, f.rate, f.concurrency); err != nil {
			return err
		}
	}
	conc := c.Concurrency
	if f.concurrency > 0 {
		conc = f.concurrency
	}
	a.warnConcurrency(conc)
	twCfg.Timeout = f.requestTimeout
	twCfg.MaxConns = conc
	tw, err := twilio.New(twCfg)
	if err != nil {
		return err
	}
	defer tw.CloseIdleConnections()
	eng, err := send.New(st, tw, f.engineConfig(conc, a.log))
	if err != nil {
		return err
	}
	if f.metricsAddr != "" {
		// The metrics outlive a soft stop: they show the drain.
		mctx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
		defer stopMetrics()
		addr, err := a.serveSendMetrics(mctx, f.metricsAddr, name, eng)
		if err != nil {
			return err
		}
		a.log.Info("serving sender metrics", "url", "http://"+addr+"/metrics")
	}
	a.hintUnregistered(ctx, st, c)
	total := newSendTotal(st, c.ID)
	total.refresh(ctx, 0)
	prog := a.startProgress(c.Name, "msg", func() progressSample {
		s := eng.Stats()
		done := s.Accepted + s.Failed + s.Skipped
		p := progressSample{
			done: done, total: total.get(ctx, done),
			note:  sendNote(s, time.Now()),
			attrs: sendAttrs(s, time.Now()),
		}
		if !s.WaitingUntil.IsZero() {
			p.note = "waiting: " + s.WaitingFor
			p.attrs = append(p.attrs, "waiting", s.WaitingFor)
		}
		return p
	})
	sum, err := eng.Run(ctx, a.hard, name)
	prog.stop()
	if sum == nil {
		return err
	}
	// Recipients in review do not keep a campaign from completing, so say
	// when a person has some to settle (one count, when the run ends).
	var review int64
	if sum.Done {
		var cerr error
		if review, cerr = st.CountInReview(context.WithoutCancel(ctx), c.ID); cerr != nil {
			a.log.Warn("count recipients in review", "err", cerr)
		}
	}
	a.printSummary(sum, review, f.json)
	switch {
	case err != nil:
		return err
	case sum.Done, sum.Held: // Held: --no-wait, and all that is left waits
		return nil
	case sum.Elsewhere:
		return errStopped
	case sum.Paused: // by the campaign's own budget: where it was meant to end
		return nil
	case ctx.Err() != nil:
		return errInterrupted
	}
	return nil
}

// engineConfig is the engine's configuration from the flags.
func (f *sendFlags) engineConfig(concurrency int, log *slog.Logger) send.Config {
	cfg := send.Config{
		Concurrency:    concurrency,
		Lease:          f.lease,
		RequestTimeout: f.requestTimeout,
		SafetyWindow:   f.safetyWindow,
		Heartbeat:      f.heartbeat,
		Logger:         log,
		NoWait:         f.noWait,
	}
	if f.safetyWindow == 0 { // on the command line, 0 means none at all (the simulator)
		cfg.SafetyWindow = send.NoSafetyWindow
	}
	return cfg
}

// hintUnregistered says in one line, for each of the campaign's senders not
// in the registry, that it sends at the campaign's own rate and how to
// register it so that its throughput is shared by every campaign.
func (a *app) hintUnregistered(ctx context.Context, st *store.Store, c *campaign.Campaign) {
	uses, err := st.SenderUses(ctx, time.Now(), sendStale, c.Senders()...)
	if err != nil {
		return
	}
	known := map[string]bool{}
	for _, u := range uses {
		known[u.ID] = true
	}
	for _, id := range c.Senders() {
		if !known[id] {
			rate := fmt.Sprintf("the campaign's --rate (%g/s)", c.Rate)
			if c.Rate == 0 {
				rate = fmt.Sprintf("%d segments/s", campaign.DefaultRate)
			}
			a.log.Info(fmt.Sprintf("sender %s is not registered: it sends at %s; to share its real throughput among campaigns run: smsblast senders set %s --mps N", id, rate, id))
		}
	}
}

func (a *app) printSummary(sum *send.Summary, review int64, asJSON bool) {
	if asJSON {
		writeJSON(a.stdout, struct {
			*send.Summary
			NeedsReview int64 `json:"needs_review"`
		}{sum, review})
		return
	}
	defer a.printNeedsReview(sum.Campaign, review)
	s := sum.Stats
	name := sum.Campaign
	switch {
	case sum.AlreadyDone:
		fmt.Fprintf(a.stdout, "campaign %q is already completed: nothing to send\n", name)
		return
	case sum.Done:
		fmt.Fprintf(a.stdout, "campaign %q completed\n", name)
	case sum.Elsewhere && sum.Canceled:
		fmt.Fprintf(a.stdout, "campaign %q stopped: %s; it will not be sent\n", name, campaign.Printable(sum.StatusReason))
	case sum.Elsewhere:
		fmt.Fprintf(a.stdout, "campaign %q stopped: %s; 'smsblast send %s' resumes it\n", name, campaign.Printable(sum.StatusReason), name)
	case sum.Paused:
		fmt.Fprintf(a.stdout, "campaign %q stopped: %s\n", name, campaign.Printable(sum.StatusReason))
	case sum.Held:
		fmt.Fprintf(a.stdout, "campaign %q: all that is left is held; not waiting (--no-wait)\n", name)
		for _, h := range sum.Holds {
			fmt.Fprintf(a.stdout, "  held: %s\n", h)
		}
	default:
		fmt.Fprintf(a.stdout, "campaign %q interrupted: run 'smsblast send %s' to resume\n", name, name)
	}
	fmt.Fprintf(a.stdout, "this run: %d accepted, %d failed, %d skipped (opted out), %d retried, %d in doubt (%d found, %d requeued, %d for review) in %v\n",
		s.Accepted, s.Failed, s.Skipped, s.Retried, s.InDoubt, s.Found, s.Requeued, s.Review, sum.Elapsed.Round(time.Millisecond))
	if s.TransportErrors > 0 {
		fmt.Fprintf(a.stdout, "%d requests got no answer from Twilio (connection refused, reset or timed out); see the log for the kinds\n", s.TransportErrors)
	}
}

// sendTotal is the progress display's total for a send: what this run has
// done plus what the campaign has left, re-read every few seconds. So an
// import during the send grows it, other senders' work shrinks it, and
// done never passes it. Used by the progress goroutine only.
type sendTotal struct {
	st     *store.Store
	id     int64
	total  int64
	readAt time.Time
}

// sendTotalEvery is how often the total is re-read from the database.
const sendTotalEvery = 2 * time.Second

func newSendTotal(st *store.Store, id int64) *sendTotal { return &sendTotal{st: st, id: id} }

// refresh reads what is left, taking done as this run's count now; on an
// error the last total stands.
func (t *sendTotal) refresh(ctx context.Context, done int64) {
	t.readAt = time.Now()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if rem, err := t.st.Remaining(rctx, t.id); err == nil {
		t.total = done + rem.Pending + rem.Sending
	}
}

// get is the total to show with done.
func (t *sendTotal) get(ctx context.Context, done int64) int64 {
	if time.Since(t.readAt) >= sendTotalEvery {
		t.refresh(ctx, done)
	}
	return max(t.total, done)
}

// unreachableAfter is how long Twilio must have failed to answer before
// the progress line says so plainly: shorter outages are the log's.
const unreachableAfter = time.Minute

// sendNote ends send's progress line: the failures so far, and Twilio's
// silence once it has lasted over a minute.
func sendNote(s send.Stats, now time.Time) string {
	note := fmt.Sprintf("(failed %d, skipped %d, in doubt %d)", s.Failed, s.Skipped, s.InDoubt)
	if d, ok := unreachableFor(s, now); ok {
		note += fmt.Sprintf("  Twilio unreachable for %s: %s", d, campaign.Printable(s.LastTransportError))
	}
	return note
}

// sendAttrs end send's progress log line.
func sendAttrs(s send.Stats, now time.Time) []any {
	attrs := []any{"failed", s.Failed, "in_doubt", s.InDoubt}
	if s.TransportErrors > 0 {
		attrs = append(attrs, "transport_errors", s.TransportErrors)
	}
	if d, ok := unreachableFor(s, now); ok {
		attrs = append(attrs, "twilio_unreachable_for", d.String(), "twilio_error", s.LastTransportError)
	}
	return attrs
}

// unreachableFor is how long Twilio has not answered, if over unreachableAfter.
func unreachableFor(s send.Stats, now time.Time) (time.Duration, bool) {
	if s.UnreachableSince.IsZero() {
		return 0, false
	}
	d := now.Sub(s.UnreachableSince).Round(time.Second)
	return d, d > unreachableAfter
}
