package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smsblast/smsblast/campaign/delivery"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio"
)

// The webhook handlers of `smsblast serve`. HTTP only: parsing and the
// rules live in package campaign, SQL in package store.

const (
	// maxWebhookBody caps a webhook's form. Twilio's largest (an inbound
	// message with a 1600-character body and media fields) is a few KiB.
	maxWebhookBody = 64 << 10
	// webhookTimeout bounds the database work of one webhook. Twilio waits
	// 15 s for an answer; answering an error sooner lets it retry.
	webhookTimeout = 10 * time.Second
	// emptyTwiML answers an inbound message without replying to it.
	emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`
)

// webhookConfig configures the handlers.
type webhookConfig struct {
	Store *store.Store
	// AuthToken is the key of Twilio's signatures. Never logged.
	AuthToken string
	// PublicURL is the scheme://host[:port][/prefix] Twilio calls; the
	// request's path and query are appended to it to get the signed URL.
	// Empty: rebuilt from the request's Host and X-Forwarded-Proto.
	PublicURL string
	Log       *slog.Logger
	// Registry receives the handlers' metrics and the database collector.
	Registry *prometheus.Registry
	// StatsTTL is how long the database-derived metrics are cached.
	StatsTTL time.Duration
}

// webhooks serves /twilio/status, /twilio/inbound, /healthz and /metrics.
// It is safe for concurrent use.
type webhooks struct {
	cfg      webhookConfig
	received *prometheus.CounterVec
	rejected *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newWebhooks(cfg webhookConfig) *webhooks {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	w := &webhooks{
		cfg: cfg,
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsblast_callbacks_received_total",
			Help: "Signed webhooks accepted, by endpoint (status, inbound) and what they did (applied, stale, buffered, opted_out, opted_in, ignored, error).",
		}, []string{"endpoint", "result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsblast_callbacks_rejected_total",
			Help: "Webhooks refused, by endpoint and reason (unsigned, bad_signature, too_large, malformed).",
		}, []string{"endpoint", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsblast_callback_duration_seconds",
			Help:    "Time to verify, parse and durably record a webhook, by endpoint.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"endpoint"}),
	}
	cfg.Registry.MustRegister(w.received, w.rejected, w.duration,
		newStatsCollector(cfg.Store, cfg.StatsTTL, cfg.Log))
	return w
}

// routes returns the server's handler. ServeMux answers 405 to other methods.
func (w *webhooks) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /twilio/status", w.status)
	mux.HandleFunc("POST /twilio/inbound", w.inbound)
	mux.HandleFunc("GET /healthz", w.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.cfg.Registry, promhttp.HandlerOpts{}))
	return mux
}

// verified reads a webhook's form and checks its signature. On failure it
// has answered (403, 413 or 400), counted and logged the rejection, and
// returns nil.
func (w *webhooks) verified(rw http.ResponseWriter, r *http.Request, endpoint string) url.Values {
	r.Body = http.MaxBytesReader(rw, r.Body, maxWebhookBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.reject(rw, r, endpoint, "too_large", http.StatusRequestEntityTooLarge)
		} else {
			w.reject(rw, r, endpoint, "malformed", http.StatusBadRequest)
		}
		return nil
	}
	sig := r.Header.Get(twilio.SignatureHeader)
	if sig == "" {
		w.reject(rw, r, endpoint, "unsigned", http.StatusForbidden)
		return nil
	}
	// Only the body's parameters are signed as parameters; the query string
	// is part of the URL.
	if !twilio.ValidateSignature(w.cfg.AuthToken, w.signedURL(r), r.PostForm, sig) {
		w.reject(rw, r, endpoint, "bad_signature", http.StatusForbidden)
		return nil
	}
	return r.PostForm
}

// signedURL is the URL Twilio signed: --public-url plus the request's path
// and query, or, without --public-url, the URL rebuilt from the Host header
// and X-Forwarded-Proto (set by TLS-terminating proxies). Trusting those
// headers is safe: they only choose which URL the signature must match, and
// a signature cannot be made without the auth token.
func (w *webhooks) signedURL(r *http.Request) string {
	if w.cfg.PublicURL != "" {
		return w.cfg.PublicURL + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p, _, _ = strings.Cut(p, ",")
		scheme = strings.ToLower(strings.TrimSpace(p))
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// reject answers a refused webhook. The log line names the path and the
// peer, never the signature, the token or the form (which holds phone
// numbers and message bodies).
func (w *webhooks) reject(rw http.ResponseWriter, r *http.Request, endpoint, reason string, code int) {
	w.rejected.WithLabelValues(endpoint, reason).Inc()
	w.cfg.Log.Warn("webhook rejected", "endpoint", endpoint, "reason", reason, "path", r.URL.Path,
		"remote", r.RemoteAddr, "forwarded_for", r.Header.Get("X-Forwarded-For"))
	http.Error(rw, http.StatusText(code), code)
}

// status handles a status callback. It answers 2xx only once the event is
// committed: Twilio does not call again after a success.
func (w *webhooks) status(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { w.duration.WithLabelValues("status").Observe(time.Since(start).Seconds()) }()
	form := w.verified(rw, r, "status")
	if form == nil {
		return
	}
	ev, err := delivery.ParseStatusCallback(form)
	if err != nil {
		w.cfg.Log.Warn("status callback unreadable", "err", err)
		w.rejected.WithLabelValues("status", "malformed").Inc()
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookTimeout)
	defer cancel()
	res, err := w.cfg.Store.RecordStatus(ctx, ev)
	if err != nil {
		w.received.WithLabelValues("status", "error").Inc()
		w.cfg.Log.Error("record status callback; Twilio may retry", "sid", ev.MessageSID, "status", ev.TwilioStatus, "err", err)
		http.Error(rw, "could not record the callback", http.StatusServiceUnavailable)
		return
	}
	w.received.WithLabelValues("status", res.String()).Inc()
	w.cfg.Log.Debug("status callback", "sid", ev.MessageSID, "status", ev.TwilioStatus, "code", ev.ErrorCode, "result", res)
	rw.WriteHeader(http.StatusNoContent)
}

// inbound handles an incoming message: STOP and START keywords.
func (w *webhooks) inbound(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { w.duration.WithLabelValues("inbound").Observe(time.Since(start).Seconds()) }()
	form := w.verified(rw, r, "inbound")
	if form == nil {
		return
	}
	m, err := delivery.ParseInbound(form)
	if err != nil {
		w.cfg.Log.Warn("inbound message unreadable", "err", err)
		w.rejected.WithLabelValues("inbound", "malformed").Inc()
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), webhookTimeout)
	defer cancel()
	res, err := delivery.HandleInbound(ctx, w.cfg.Store, w.cfg.Log, m)
	if err != nil {
		w.received.WithLabelValues("inbound", "error").Inc()
		w.cfg.Log.Error("record inbound keyword; Twilio may retry", "sid", m.MessageSID, "err", err)
		http.Error(rw, "could not record the message", http.StatusServiceUnavailable)
		return
	}
	w.received.WithLabelValues("inbound", string(res)).Inc()
	rw.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(rw, emptyTwiML)
}

// healthz answers 200 when the database answers.
func (w *webhooks) healthz(rw http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := w.cfg.Store.Ping(ctx); err != nil {
		w.cfg.Log.Warn("health check: database unreachable", "err", err)
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(rw, "database unreachable\n")
		return
	}
	_, _ = io.WriteString(rw, "ok\n")
}
