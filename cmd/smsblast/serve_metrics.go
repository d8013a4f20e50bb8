package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

// Metrics read from the database on scrape. `serve` is not the process that
// sends, so what senders did is read from what they recorded: campaign_stats
// for recipients by state, send_attempts for outcomes, codes and latencies.
// Every `send` process, on any machine, is counted, and nothing is lost when
// one exits.

// sendLatencyBounds are the send latency histogram's buckets, in seconds.
var sendLatencyBounds = []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	descUp = prometheus.NewDesc("smsblast_database_up",
		"1 if the last read of the database-derived metrics succeeded.", nil, nil)
	descRecipients = prometheus.NewDesc("smsblast_campaign_recipients",
		"Recipients by campaign and state (campaign_stats).", []string{"campaign", "status"}, nil)
	descDeliveryRate = prometheus.NewDesc("smsblast_campaign_delivery_rate",
		"Delivered out of the messages Twilio took, 0..1 (campaign_stats.delivery_rate).", []string{"campaign"}, nil)
	descRate = prometheus.NewDesc("smsblast_campaign_rate",
		"Configured send rate, segments per second, shared by every sender of the campaign.", []string{"campaign"}, nil)
	descAvgRate = prometheus.NewDesc("smsblast_campaign_average_rate",
		"Achieved rate, messages per second between the first and last send (campaign_stats.avg_rate).", []string{"campaign"}, nil)
	descSends = prometheus.NewDesc("smsblast_send_attempts_total",
		"Requests to Twilio by campaign, outcome (accepted, retry, in_doubt, failed, skipped, campaign_error, found, not_found) and Twilio error code (0: none), from send_attempts.",
		[]string{"campaign", "outcome", "code"}, nil)
	descLatency = prometheus.NewDesc("smsblast_send_latency_seconds",
		"Latency of requests to Twilio by campaign, from send_attempts.", []string{"campaign"}, nil)
)

// statsCollector is a prometheus.Collector over the database. Reads are
// cached for ttl, and concurrent scrapes share one read, so a scraper cannot
// turn /metrics into a load on a million-row campaign. Safe for concurrent use.
type statsCollector struct {
	st  *store.Store
	ttl time.Duration
	log *slog.Logger

	mu      sync.Mutex
	readAt  time.Time
	ok      bool
	stats   []campaign.DeliveryStats
	sends   []campaign.SendCount
	latency []campaign.LatencyHistogram
}

func newStatsCollector(st *store.Store, ttl time.Duration, log *slog.Logger) *statsCollector {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	return &statsCollector{st: st, ttl: ttl, log: log}
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRecipients, descDeliveryRate, descRate, descAvgRate, descSends, descLatency} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.readAt) >= c.ttl {
		c.refresh()
	}
	up := 0.0
	if c.ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
	if !c.ok {
		return
	}
	for _, s := range c.stats {
		for _, st := range campaign.RecipientStatuses() {
			ch <- prometheus.MustNewConstMetric(descRecipients, prometheus.GaugeValue, float64(s.Counts[st]), s.Name, string(st))
		}
		if s.DeliveryRate >= 0 {
			ch <- prometheus.MustNewConstMetric(descDeliveryRate, prometheus.GaugeValue, s.DeliveryRate, s.Name)
		}
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, s.Rate, s.Name)
		ch <- prometheus.MustNewConstMetric(descAvgRate, prometheus.GaugeValue, s.AverageRate, s.Name)
	}
	for _, s := range c.sends {
		ch <- prometheus.MustNewConstMetric(descSends, prometheus.CounterValue, float64(s.Count),
			s.Campaign, s.Outcome, strconv.Itoa(s.Code))
	}
	for _, h := range c.latency {
		ch <- prometheus.MustNewConstHistogram(descLatency, h.Count, h.Sum, h.Buckets, h.Campaign)
	}
}

// refresh reads the three queries; the caller holds c.mu.
func (c *statsCollector) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.readAt = time.Now()
	var err error
	if c.stats, err = c.st.DeliveryStats(ctx); err == nil {
		if c.sends, err = c.st.SendCounts(ctx); err == nil {
			c.latency, err = c.st.SendLatency(ctx, sendLatencyBounds)
		}
	}
	c.ok = err == nil
	if err != nil {
		c.log.Warn("read metrics from the database", "err", err)
	}
}
