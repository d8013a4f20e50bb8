package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
	json           bool
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
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if f.rate < 0 {
		return usagef("--rate must be positive, got %v", f.rate)
	}
	if f.concurrency < 0 {
		return usagef("--concurrency must be positive, got %d", f.concurrency)
	}
	if err := f.engineConfig(0, nil).Validate(); err != nil {
		return usagef("--request-timeout, --lease: %v", err)
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

// send runs the engine with a progress display; demo reuses it.
func (a *app) send(ctx context.Context, st *store.Store, twCfg twilio.Config, name string, f sendFlags) error {
	c, err := st.CampaignByName(ctx, name)
	if err != nil {
		return err
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
	var left int64 // what this run starts from, for the progress display
	if rem, err := st.Remaining(ctx, c.ID); err == nil {
		left = rem.Pending + rem.Sending
	}
	prog := a.startProgress(c.Name, "msg", func() progressSample {
		s := eng.Stats()
		return progressSample{
			done: s.Accepted + s.Failed + s.Skipped, total: left,
			note:  fmt.Sprintf("(failed %d, skipped %d, in doubt %d)", s.Failed, s.Skipped, s.InDoubt),
			attrs: []any{"failed", s.Failed, "in_doubt", s.InDoubt},
		}
	})
	sum, err := eng.Run(ctx, a.hard, name)
	prog.stop()
	if sum == nil {
		return err
	}
	a.printSummary(sum, f.json)
	return err
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
	}
	if f.safetyWindow == 0 { // on the command line, 0 means none at all (the simulator)
		cfg.SafetyWindow = send.NoSafetyWindow
	}
	return cfg
}

func (a *app) printSummary(sum *send.Summary, asJSON bool) {
	if asJSON {
		writeJSON(a.stdout, sum)
		return
	}
	s := sum.Stats
	switch {
	case sum.AlreadyDone:
		fmt.Fprintf(a.stdout, "campaign %q is already completed: nothing to send\n", sum.Campaign)
		return
	case sum.Done:
		fmt.Fprintf(a.stdout, "campaign %q completed\n", sum.Campaign)
	case sum.Paused:
		fmt.Fprintf(a.stdout, "campaign %q stopped: %s\n", sum.Campaign, sum.StatusReason)
	default:
		fmt.Fprintf(a.stdout, "campaign %q interrupted: run 'smsblast send %s' to resume\n", sum.Campaign, sum.Campaign)
	}
	fmt.Fprintf(a.stdout, "this run: %d accepted, %d failed, %d skipped (opted out), %d retried, %d in doubt (%d found, %d requeued) in %v\n",
		s.Accepted, s.Failed, s.Skipped, s.Retried, s.InDoubt, s.Found, s.Requeued, sum.Elapsed.Round(time.Millisecond))
}
