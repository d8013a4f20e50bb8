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
	pool := r.camp().Senders()
	working := r.working.Load() && r.soft.Err() == nil
	mine := make([]campaign.SenderShare, len(pool))
	for i, id := range pool {
		active := working
		if u := prev.uses[id]; u != nil && u.Capped() {
			active = false
		}
		mine[i] = campaign.SenderShare{Sender: id, Active: active}
	}
	var plan ratePlan
	b, err := r.e.store.Beat(ctx, campaign.BeatRequest{
		CampaignID: r.c.ID, WorkerID: r.worker, Stale: 5 * cfg.Heartbeat, Now: cfg.Now(), Shares: mine,
		Plan: func(b *campaign.Beat) []campaign.SenderShare {
			plan = r.planRates(b)
			for i := range mine {
				mine[i].Demand, mine[i].Rate = plan.own, plan.senders[mine[i].Sender]
				if !mine[i].Active {
					mine[i].Rate = 0
				}
			}
			return mine
		},
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
			if r.pause.CompareAndSwap(nil, &reason) {
				r.elsewhere.Store(true)
				r.canceled.Store(b.Status == campaign.StatusCanceled)
			}
			r.e.log.Info("campaign "+string(b.Status)+": stopping", "reason", b.StatusReason)
			r.stop(nil)
		}
	case campaign.StatusCompleted: // another worker finished the last recipients
		r.done.Store(true)
		r.stop(nil)
	}
	prices := prev.prices
	if b.Campaign != nil {
		if c := r.camp(); c.BudgetAmount != b.Campaign.BudgetAmount || !c.UpdatedAt.Equal(b.Campaign.UpdatedAt) || prices == nil {
			if p, err := r.e.store.Prices(ctx, r.c.ID); err == nil {
				prices = p
			}
		}
		r.cur.Store(b.Campaign)
	}
	r.senders.Store(&senderSnapshot{uses: b.Senders, rules: b.Rules, prices: prices})
	r.applyRates(plan, b.LiveWorkers)
}

// ratePlan is what a heartbeat decided this worker may send.
type ratePlan struct {
	// own is this worker's share of its campaign's own rate (+Inf: none).
	own float64
	// senders is each sender bucket's rate; 0 for none of its own.
	senders map[string]float64
	// ceiling is the campaign bucket's: own, or the senders' sum, so that
	// throttling (AIMD) always has a rate to cut; +Inf when unlimited.
	ceiling float64
}

// planRates decides, from a heartbeat's reading, the rate of each sender's
// bucket — its share of a registered sender's MPS (senderShare);
// DefaultRate split among this campaign's workers for an unregistered one
// when the campaign has no rate of its own — and of the campaign's bucket.
func (r *run) planRates(b *campaign.Beat) ratePlan {
	rate := r.camp().Rate
	if r.e.cfg.Rate > 0 {
		rate = r.e.cfg.Rate
	} else if b.Rate >= 0 {
		rate = b.Rate
	}
	live := float64(max(b.LiveWorkers, 1))
	p := ratePlan{own: math.Inf(1), senders: map[string]float64{}}
	if rate > 0 {
		p.own = rate / live
	}
	total := 0.0
	for _, id := range r.camp().Senders() {
		switch u := b.Senders[id]; {
		case u != nil:
			p.senders[id] = senderShare(u, r.worker, r.c.ID, p.own)
		case rate <= 0:
			p.senders[id] = campaign.DefaultRate / live
		default:
			total = math.Inf(1) // unregistered, under the campaign's own rate
		}
		total += p.senders[id]
	}
	p.ceiling = min(p.own, total)
	return p
}

// applyRates sets the limiter to a plan, after the heartbeat published it.
func (r *run) applyRates(p ratePlan, workers int) {
	r.ownShare.Store(&p.own)
	for _, id := range r.camp().Senders() {
		rate := p.senders[id]
		if rate > 0 && rate != r.senderRates[id] {
			r.e.log.Debug("sender rate share", "sender", id, "segments_per_second", rate)
		}
		r.senderRates[id] = rate
		r.lim.SetSenderRate(id, rate) // 0: no bucket of its own
	}
	if p.ceiling != r.lim.Ceiling() {
		r.e.log.Info("rate share", "segments_per_second", p.ceiling, "workers", workers)
		if math.IsInf(p.ceiling, 1) {
			r.lim.SetRate(0) // unlimited
		} else {
			r.lim.SetRate(p.ceiling)
		}
	}
	estimate := p.ceiling
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
