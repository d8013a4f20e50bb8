package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func serveCommand() *command {
	return &command{
		name:    "serve",
		args:    "",
		summary: "Twilio webhooks (status callbacks, inbound STOP/START), /healthz, /metrics and the web dashboard at /",
		examples: `  TWILIO_AUTH_TOKEN=… smsblast serve --addr 127.0.0.1:8080 --public-url https://sms.example.com

  Twilio signs the URL it calls, so --public-url must be the scheme and host
  (and any path prefix a proxy strips) that Twilio is configured with; the
  request path is appended. Without --public-url the URL is rebuilt from the
  Host header and X-Forwarded-Proto, which is right only if the proxy passes
  both through unchanged.

  Point the campaign's status callbacks here when importing it:
    smsblast import spring-sale list.csv --from +1… --body … \
        --status-callback https://sms.example.com/twilio/status
  and the number's incoming-message webhook (Twilio console) at
    https://sms.example.com/twilio/inbound

  TWILIO_AUTH_TOKEN is required (environment only, never a flag), also when
  sending with an API key: Twilio signs webhooks with the account's auth token.

  The dashboard at / needs SMSBLAST_DASHBOARD_TOKEN to read it and
  SMSBLAST_ADMIN_TOKEN to pause, resume, cancel, retry and download reports
  (environment only). With neither set it is served only on a loopback
  address, read-only:
    SMSBLAST_DASHBOARD_TOKEN=$(openssl rand -hex 32) SMSBLAST_ADMIN_TOKEN=$(openssl rand -hex 32) \
        TWILIO_AUTH_TOKEN=… smsblast serve --addr 127.0.0.1:8080`,
		run: runServe,
	}
}

// Server timeouts. Twilio's webhook requests are small and Twilio gives up
// after 15 s, so nothing legitimate needs more; slow clients are cut off.
const (
	serveReadHeaderTimeout = 5 * time.Second
	serveReadTimeout       = 10 * time.Second
	serveWriteTimeout      = 20 * time.Second
	serveIdleTimeout       = 120 * time.Second
	serveShutdownTimeout   = 10 * time.Second
	// serveMaxConns sizes the database pool: each webhook holds a
	// connection for one round trip.
	serveMaxConns = 32
)

func runServe(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	publicURL := fs.String("public-url", "", "the URL Twilio calls, scheme://host[:port][/prefix], for signatures (default: from the Host header)")
	statsTTL := fs.Duration("metrics-cache", 10*time.Second, "how long /metrics reuses its database reads")
	queueCheck := fs.Duration("queue-check", 10*time.Second, "how often to measure each registered sender's queue delay from the callbacks (the queue-delay guard)")
	fs.validate = func([]string) error {
		if err := addrFlag("addr", *addr); err != nil {
			return err
		}
		if *publicURL != "" {
			u, err := url.Parse(*publicURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				return usagef("--public-url: %s is not an http(s) URL of the form https://host[:port][/prefix]", campaign.QuoteShort(*publicURL, 60))
			}
		}
		if err := durationIn("queue-check", *queueCheck, time.Second, time.Hour); err != nil {
			return err
		}
		return durationIn("metrics-cache", *statsTTL, 0, time.Hour)
	}
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	token := strings.TrimSpace(a.getenv("TWILIO_AUTH_TOKEN"))
	if token == "" {
		return errors.New("TWILIO_AUTH_TOKEN is not set: serve checks Twilio's signatures with the account's auth token (also needed when sending with an API key)")
	}
	dbURL, err := a.databaseURL(ctx, fs)
	if err != nil {
		return err
	}
	opts := a.storeOptions()
	opts.MaxConns, opts.ApplicationName = serveMaxConns, "smsblast serve"
	st, err := store.Open(ctx, dbURL, opts)
	if err != nil {
		return err
	}
	defer st.Close()
	defer a.keepPartitions(ctx, st)()
	if *publicURL == "" {
		a.log.Warn("no --public-url: signatures are checked against the URL rebuilt from the Host header and X-Forwarded-Proto")
	}
	wh := newWebhooks(webhookConfig{Store: st, AuthToken: token, PublicURL: *publicURL, Log: a.log, StatsTTL: *statsTTL})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	go a.watchSenderQueues(ctx, st, *queueCheck)
	h, closeDashboard, err := a.serveDashboard(st, ln.Addr(), wh.routes())
	if err != nil {
		ln.Close()
		return err
	}
	defer closeDashboard()
	a.log.Info("serving Twilio webhooks", "addr", ln.Addr().String(),
		"status", "/twilio/status", "inbound", "/twilio/inbound", "health", "/healthz", "metrics", "/metrics")
	return a.serveHTTP(ctx, ln, h)
}

// watchSenderQueues is the queue-delay guard: every interval it measures,
// from the status callbacks just received, how long Twilio holds each
// registered sender's messages, and lets the store move each sender's MPS
// factor (see store.ObserveSenderQueues); send processes read it at their
// heartbeat. It logs when a sender is slowed down or recovers.
func (a *app) watchSenderQueues(ctx context.Context, st *store.Store, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	factors := map[string]float64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := st.ObserveSenderQueues(ctx, max(interval, 30*time.Second)); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("measure sender queue delays", "err", err)
			}
			continue
		}
		uses, err := st.SenderUses(ctx, time.Now(), sendStale)
		if err != nil {
			continue
		}
		for _, u := range uses {
			if f, ok := factors[u.ID]; ok && f != u.Factor {
				a.log.Info("queue-delay guard: sender rate changed", "sender", u.ID, "queue_delay", u.QueueDelay.Round(time.Second),
					"max_queue_delay", u.MaxQueueDelay, "sending_at_mps", round2(u.EffectiveMPS()), "declared_mps", u.MPS)
			}
			factors[u.ID] = u.Factor
		}
	}
}

// serveHTTP serves h on ln until ctx is canceled, then shuts down
// gracefully: requests in progress (for serve, each a callback being
// recorded) finish, up to serveShutdownTimeout or a second interrupt.
func (a *app) serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	stop := context.AfterFunc(a.hard, cancel)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
		return fmt.Errorf("stop serving HTTP: %w", err)
	}
	a.log.Info("stopped serving HTTP", "addr", ln.Addr().String())
	return nil
}
