package send

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// heartbeat runs until ctx ends (after the recorders finished): it reports
// the worker alive, follows the campaign's state and rate, renews leases on
// held rows, and ends the leases of workers that died on this host.
func (r *run) heartbeat(ctx context.Context) {
	cfg := &r.e.cfg
	tick := time.NewTicker(cfg.Heartbeat)
	defer tick.Stop()
	renewEvery := cfg.Lease / 5
	lastRenew := time.Now()
	lastDeadCheck := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastRenew) >= renewEvery {
			if r.renew(ctx) {
				lastRenew = time.Now()
			}
		}
		r.beat(ctx)
		if time.Since(lastDeadCheck) >= 5*cfg.Heartbeat {
			lastDeadCheck = time.Now()
			r.expireDeadWorkers(ctx)
		}
	}
}

// beat reports the worker alive and follows what the heartbeat learns: a
// pause, cancel or completion stops claiming; the campaign's own rate is
// split among its live workers, and each registered sender's MPS among every
// process sending from it (senderShare). A worker is presumed gone after
// missing a few heartbeats; that only affects how rates are split, never who
// may send.
func (r *run) beat(ctx context.Context) {
	r.beatMu.Lock()
	defer r.beatMu.Unlock()
	cfg := &r.e.cfg
	prev := r.senders.Load()
	pool := r.c.Senders()
	working := r.working.Load() && r.soft.Err() == nil
	campaignRate := r.c.Rate
	if cfg.Rate > 0 {
		campaignRate = cfg.Rate
	}
	demand := math.Inf(1) // the most this worker would take: its campaign's own share
	if p := r.ownShare.Load(); p != nil {
		demand = *p
	} else if campaignRate > 0 {
		demand = campaignRate
	}
	mine := make([]campaign.SenderShare, len(pool))
	for i, id := range pool {
		active := working
		if u := prev.uses[id]; u != nil && u.Capped() {
			active = false
		}
		rate := r.shares[id]
		if !active {
			rate = 0
		}
		mine[i] = campaign.SenderShare{Sender: id, Active: active, Demand: demand, Rate: rate}
	}
	b, err := r.e.store.Beat(ctx, campaign.BeatRequest{
		CampaignID: r.c.ID, WorkerID: r.worker, Stale: 5 * cfg.Heartbeat, Now: cfg.Now(), Shares: mine,
	})
	if err != nil {
		if ctx.Err() == nil {
			r.e.log.Warn("heartbeat", "err", err)
		}
		return
	}
	switch b.Status {
	case campaign.StatusPaused, campaign.StatusCanceled:
		if r.soft.Err() == nil {
			reason := string(b.Status)
			if b.StatusReason != "" {
				reason += ": " + b.StatusReason
			}
			r.pause.CompareAndSwap(nil, &reason)
			r.e.log.Info("campaign "+string(b.Status)+": stopping", "reason", b.StatusReason)
			r.stop(nil)
		}
	case campaign.StatusCompleted: // another worker finished the last recipients
		r.done.Store(true)
		r.stop(nil)
	}
	if cfg.Rate <= 0 {
		campaignRate = b.Rate
	}
	r.senders.Store(&senderSnapshot{uses: b.Senders})
	r.applyRates(b, campaignRate)
}

// applyRates sets the limiter from a heartbeat: a bucket per sender (its
// share of a registered sender's MPS; DefaultRate split among this
// campaign's workers for an unregistered one when the campaign has no rate
// of its own), and the campaign bucket at the campaign's share, or at the
// senders' sum, so that throttling (AIMD) always has a rate to cut.
func (r *run) applyRates(b campaign.Beat, campaignRate float64) {
	live := float64(max(b.LiveWorkers, 1))
	ceiling := math.Inf(1)
	if campaignRate > 0 {
		ceiling = campaignRate / live
	}
	own := ceiling
	r.ownShare.Store(&own)
	total := 0.0
	for _, id := range r.c.Senders() {
		rate := 0.0
		switch u := b.Senders[id]; {
		case u != nil:
			rate = senderShare(u, r.worker, r.c.ID, ceiling)
			r.shares[id] = rate
		case campaignRate <= 0:
			rate = campaign.DefaultRate / live
		}
		if rate > 0 && rate != r.senderRates[id] {
			r.e.log.Info("sender rate share", "sender", id, "segments_per_second", rate, "registered", b.Senders[id] != nil)
		}
		r.senderRates[id] = rate
		r.lim.SetSenderRate(id, rate) // 0: no bucket of its own
		if rate == 0 {
			total = math.Inf(1)
		}
		total += rate
	}
	ceiling = min(ceiling, total)
	if ceiling != r.lim.Ceiling() {
		r.e.log.Info("rate share", "segments_per_second", ceiling, "workers", b.LiveWorkers)
		if math.IsInf(ceiling, 1) {
			r.lim.SetRate(0) // unlimited
		} else {
			r.lim.SetRate(ceiling)
		}
	}
	estimate := ceiling
	if math.IsInf(estimate, 1) {
		estimate = 4 * maxBatch
	}
	r.setBatch(estimate)
}

// renew extends the leases of every row this worker holds, by id. A row the
// database no longer gives back was taken over by another worker after this
// worker's lease ran out: it is marked lost and will not be sent. Deadlines
// move only for rows the renewal confirmed, measured from before the
// statement was sent.
func (r *run) renew(ctx context.Context) bool {
	r.mu.Lock()
	ids := make([]int64, 0, len(r.held))
	for id := range r.held {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return true
	}
	t0 := r.now()
	kept, err := r.e.store.RenewLeases(ctx, r.worker, ids, r.e.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			r.e.log.Warn("renew leases; sending stops before they expire", "err", err)
		}
		return false
	}
	ok := make(map[int64]bool, len(kept))
	for _, id := range kept {
		ok[id] = true
	}
	deadline := t0 + int64(r.e.cfg.Lease)
	r.mu.Lock()
	for _, id := range ids {
		h := r.held[id]
		if h == nil { // recorded meanwhile
			continue
		}
		if ok[id] {
			h.deadline.Store(deadline)
		} else {
			// Not renewed: recorded as in doubt meanwhile, or taken over.
			// Either way this worker must not send it.
			h.lost.Store(true)
		}
	}
	r.mu.Unlock()
	return true
}

// expireDeadWorkers ends the leases of this campaign's workers that ran on
// this host and whose process is gone, so their rows are reconciled now
// rather than when the leases run out.
func (r *run) expireDeadWorkers(ctx context.Context) {
	ws, err := r.e.store.Workers(ctx, r.c.ID)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.e.log.Warn("list workers", "err", err)
		}
		return
	}
	var dead []string
	for _, w := range ws {
		if w.ID != r.worker && w.Hostname == r.e.cfg.Hostname && !r.e.cfg.Alive(w.PID) {
			dead = append(dead, w.ID)
		}
	}
	if len(dead) == 0 {
		return
	}
	n, err := r.e.store.ExpireLeases(ctx, r.c.ID, dead)
	if err != nil {
		r.e.log.Warn("expire leases of dead workers", "err", err)
		return
	}
	r.e.log.Info("found dead workers on this host; their recipients will be reconciled",
		"workers", len(dead), "recipients", n)
}
