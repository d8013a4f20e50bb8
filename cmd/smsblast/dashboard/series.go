package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// The charts cover the last hour: at 1,000 messages a second, 3.6 million
// send attempts and as many verdicts, seconds of reading. Their buckets
// hardly change once past, so each campaign's series are kept between
// reads and each read asks only for the buckets from seriesMargin before
// the last read on: what the page costs no longer grows with the rate.
//
// A row written more than seriesMargin after the time it is counted at (a
// request recorded late, a verdict committed late) lands in a bucket
// already read; every seriesRefresh the whole hour is read again, which
// takes it in.
const (
	seriesMargin  = time.Minute
	seriesRefresh = 5 * time.Minute
)

// chartSeries keeps each campaign's chart buckets between reads.
type chartSeries struct {
	mu sync.Mutex
	m  map[int64]*campaignSeries
}

type campaignSeries struct {
	mu       sync.Mutex // one read at a time per campaign
	sends    []campaign.SendBucket
	verdicts []campaign.VerdictBucket
	readAt   time.Time // when the last read began; zero before the first
	fullAt   time.Time // when the last read of the whole hour began
	used     time.Time
}

// of returns campaign id's series, dropping those no page has read for
// cacheIdle (campaigns nobody watches any more).
func (cs *chartSeries) of(id int64, now time.Time) *campaignSeries {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[int64]*campaignSeries{}
	}
	for k, s := range cs.m {
		if now.Sub(s.used) > cacheIdle {
			delete(cs.m, k)
		}
	}
	s := cs.m[id]
	if s == nil {
		s = &campaignSeries{}
		cs.m[id] = s
	}
	s.used = now
	return s
}

// readSeries brings campaign id's chart buckets up to now: the whole hour
// on the first read and every seriesRefresh, else the buckets from
// seriesMargin before the last read on. It returns copies.
func (d *Dashboard) readSeries(ctx context.Context, id int64, now time.Time) ([]campaign.SendBucket, []campaign.VerdictBucket, error) {
	s := d.series.of(id, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	full := s.readAt.IsZero() || now.Sub(s.fullAt) >= seriesRefresh || now.Before(s.readAt)
	sendsFrom := windowStart(now, sendStep, int(chartWindow/sendStep))
	verdictsFrom := windowStart(now, verdictStep, int(chartWindow/verdictStep))
	sendsKeep, verdictsKeep := sendsFrom, verdictsFrom
	if !full {
		since := s.readAt.Add(-seriesMargin)
		sendsFrom = later(sendsFrom, since.Truncate(sendStep))
		verdictsFrom = later(verdictsFrom, since.Truncate(verdictStep))
	}
	var sends []campaign.SendBucket
	var verdicts []campaign.VerdictBucket
	err := all(ctx,
		func(ctx context.Context) (err error) {
			sends, err = d.cfg.Store.SendSeries(ctx, id, sendsFrom, sendStep)
			return err
		},
		func(ctx context.Context) (err error) {
			verdicts, err = d.cfg.Store.VerdictSeries(ctx, id, verdictsFrom, verdictStep)
			return err
		})
	if err != nil {
		return nil, nil, err
	}
	s.sends = append(between(s.sends, sendsKeep, sendsFrom, func(b campaign.SendBucket) time.Time { return b.Start }), sends...)
	s.verdicts = append(between(s.verdicts, verdictsKeep, verdictsFrom, func(b campaign.VerdictBucket) time.Time { return b.Start }), verdicts...)
	s.readAt = now
	if full {
		s.fullAt = now
	}
	return append([]campaign.SendBucket(nil), s.sends...), append([]campaign.VerdictBucket(nil), s.verdicts...), nil
}

// between returns a new slice of the buckets of bs that start at from or
// later and before to.
func between[B any](bs []B, from, to time.Time, start func(B) time.Time) []B {
	var out []B
	for _, b := range bs {
		if t := start(b); !t.Before(from) && t.Before(to) {
			out = append(out, b)
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
