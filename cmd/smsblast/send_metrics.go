package main

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smsblast/smsblast/campaign/send"
)

// engineCollector exposes a running sender's live figures — what only the
// process knows: requests in flight, the limiter's rate, this run's
// counters. serve's /metrics covers what the database knows.
type engineCollector struct {
	eng      *send.Engine
	campaign string
}

var (
	descInFlight = prometheus.NewDesc("smsblast_sender_requests_in_flight",
		"Requests to Twilio in flight in this sender.", []string{"campaign"}, nil)
	descLimiterRate = prometheus.NewDesc("smsblast_sender_rate",
		"The limiter's current rate in segments per second (lower than the ceiling after throttling).", []string{"campaign"}, nil)
	descLimiterCeiling = prometheus.NewDesc("smsblast_sender_rate_ceiling",
		"This sender's share of the campaign's rate, segments per second.", []string{"campaign"}, nil)
	descOutcomes = prometheus.NewDesc("smsblast_sender_recipients_total",
		"Recipients this sender settled, by outcome.", []string{"campaign", "outcome"}, nil)
)

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInFlight, descLimiterRate, descLimiterCeiling, descOutcomes} {
		ch <- d
	}
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.eng.Stats()
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight), c.campaign)
	ch <- prometheus.MustNewConstMetric(descLimiterRate, prometheus.GaugeValue, s.Rate, c.campaign)
	ch <- prometheus.MustNewConstMetric(descLimiterCeiling, prometheus.GaugeValue, s.Ceiling, c.campaign)
	for outcome, n := range map[string]int64{
		"accepted": s.Accepted, "failed": s.Failed, "skipped": s.Skipped, "retried": s.Retried,
		"in_doubt": s.InDoubt, "found": s.Found, "requeued": s.Requeued, "released": s.Released,
	} {
		ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(n), c.campaign, outcome)
	}
}

// serveSendMetrics serves /metrics for a running sender on addr until ctx
// ends; it returns the address it listens on.
func (a *app) serveSendMetrics(ctx context.Context, addr, name string, eng *send.Engine) (string, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(engineCollector{eng: eng, campaign: name})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen for --metrics-addr %s: %w", addr, err)
	}
	go func() {
		if err := a.serveHTTP(ctx, ln, mux); err != nil {
			a.log.Warn("metrics server", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}
