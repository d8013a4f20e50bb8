package send

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// What a run does when it has nothing to send or may not send: whether the
// campaign is done, the holds on the whole campaign (a start time ahead,
// every sender's cap used up), the stop time passing, a budget spent, and
// saying what it waits for and until when.

// finished checks, when a claim found nothing, whether the campaign is done;
// if not it waits a little for due rows, rows in doubt, or other workers.
func (r *run) finished() bool {
	if r.holding() > 0 {
		sleepCtx(r.soft, 10*time.Millisecond)
		return false
	}
	rem, ok := r.remaining()
	if !ok {
		return false
	}
	if rem.Pending == 0 && rem.Sending == 0 {
		completed, err := r.e.store.CompleteCampaign(r.soft, r.c.ID)
		if err != nil {
			r.e.log.Warn("mark campaign completed", "err", err)
			return false
		}
		if !completed {
			// Recipients arrived meanwhile (an import), or the campaign is
			// no longer running: after a heartbeat, which follows a pause
			// or a cancel, the next claim takes it from here.
			sleepCtx(r.soft, r.e.cfg.Heartbeat)
			return false
		}
		r.done.Store(true)
		return true
	}
	wait := r.e.cfg.Heartbeat
	if rem.Sending == 0 && !rem.NextDue.IsZero() {
		// All that is left waits: for a retry's back-off, a daily cap's
		// next day. Sleep until the first is due (a heartbeat at most, to
		// follow pause and cancel), or with NoWait stop and say why.
		d := rem.NextDue.Sub(r.e.cfg.Now())
		if d > r.e.cfg.Heartbeat {
			holds := r.holdsNow(rem)
			if r.e.cfg.NoWait {
				r.holdsLeft.Store(&holds)
				r.e.log.Info("all that is left is held; not waiting (--no-wait)", "holds", holdsText(holds))
				return true
			}
			r.waiting(holds)
		}
		if d > 0 && d < wait {
			wait = d
		}
	}
	sleepCtx(r.soft, wait)
	return false
}

// holding is how many recipients this run has claimed and not yet recorded.
func (r *run) holding() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// remaining reads how many of the campaign's recipients are left; on an
// error it says so, waits a second and reports false.
func (r *run) remaining() (campaign.Remaining, bool) {
	rem, err := r.e.store.Remaining(r.soft, r.c.ID)
	if err != nil {
		if r.soft.Err() == nil {
			r.e.log.Warn("count remaining recipients", "err", err)
			sleepCtx(r.soft, time.Second)
		}
		return rem, false
	}
	return rem, true
}

// campaignHolds are what holds the whole campaign back now, before any
// recipient is read: a start time still ahead, or every sender's daily cap
// used up. Nothing is claimed then (rather than every due recipient being
// read and held, one write each).
func (r *run) campaignHolds(c *campaign.Campaign, now time.Time) []campaign.Hold {
	if c.StartAt.After(now) {
		return c.StartHold(now, 0)
	}
	if snap := r.senders.Load(); snap.allCapped(c) {
		return campaign.SenderHolds(c, snap.uses)
	}
	return nil
}

// heldBack waits while the whole campaign is held: with NoWait the run
// stops, saying until when; otherwise it waits until the hold ends or a
// heartbeat (which follows what may lift it: a new cap day, a raised cap, a
// changed start time). A campaign that reaches its start becomes running.
func (r *run) heldBack(holds []campaign.Hold) bool {
	rem, ok := r.remaining()
	if !ok {
		return false
	}
	if len(holds) == 1 {
		holds[0].Recipients = rem.Pending
	}
	if r.e.cfg.NoWait {
		r.holdsLeft.Store(&holds)
		r.e.log.Info("all that is left is held; not waiting (--no-wait)", "holds", holdsText(holds))
		return true
	}
	r.waiting(holds)
	wait := r.e.cfg.Heartbeat
	if d := holds[0].Until.Sub(r.e.cfg.Now()); d > 0 && d < wait {
		wait = d
	}
	sleepCtx(r.soft, wait)
	if holds[0].Reason == campaign.HoldStart && !r.camp().StartAt.After(r.e.cfg.Now()) {
		if _, err := r.e.store.StartCampaign(r.soft, r.c.ID, r.e.cfg.Now()); err != nil && r.soft.Err() == nil {
			r.e.log.Warn("mark campaign running", "err", err)
		}
		r.e.log.Info("start time reached: sending")
	}
	return false
}

// expire ends, once the campaign's stop time has passed, every recipient
// still pending: nothing is sent from then on. It runs until nothing is left
// pending, since rows claimed before the stop come back unsent after it.
// Rows in doubt are still reconciled (they may have been sent in time).
func (r *run) expire() {
	n, err := r.e.store.ExpirePending(r.soft, r.c.ID)
	if err != nil {
		if r.soft.Err() == nil {
			r.e.log.Warn("expire unsent recipients", "err", err)
			sleepCtx(r.soft, time.Second)
		}
		return
	}
	r.e.stats.expired.Add(n)
	if !r.expired.Swap(true) {
		r.e.log.Info("stop time passed: unsent recipients expired", "stop_at", r.camp().StopAt, "expired", n)
	}
}

// holdsNow says why the pending recipients wait: the daily caps used up
// (as a heartbeat reads them now), recipients outside their send window,
// or else their retry back-off.
func (r *run) holdsNow(rem campaign.Remaining) []campaign.Hold {
	r.beat(r.soft)
	c := r.camp()
	holds := campaign.SenderHolds(c, r.senders.Load().uses)
	if len(holds) == 1 && len(c.Senders()) == 1 {
		holds[0].Recipients = rem.Pending
		return holds
	}
	if byZone, err := r.e.store.PendingByZone(r.soft, r.c.ID); err == nil {
		holds = append(holds, c.WindowHolds(byZone, r.e.cfg.Now())...)
	}
	var held int64
	for _, h := range holds {
		held += h.Recipients
	}
	if len(holds) == 0 || held < rem.Pending {
		holds = append(holds, campaign.Hold{Reason: campaign.HoldRetry, Recipients: rem.Pending - held, Until: rem.NextDue,
			Detail: fmt.Sprintf("%d recipients wait for a retry", rem.Pending-held)})
	}
	return holds
}

// waiting logs, once per change, what the run waits for and until when, and
// shows it in Stats for the progress line.
func (r *run) waiting(holds []campaign.Hold) {
	text := holdsText(holds)
	if prev := r.waitingFor.Swap(&text); prev == nil || *prev != text {
		r.e.log.Info("all that is left is held; waiting", "holds", text)
	}
	until := holds[0].Until
	for _, h := range holds[1:] {
		if h.Until.Before(until) {
			until = h.Until
		}
	}
	r.waitingUntil.Store(&until)
}

func holdsText(holds []campaign.Hold) string {
	parts := make([]string, len(holds))
	for i, h := range holds {
		parts[i] = h.String()
	}
	return strings.Join(parts, "; ")
}

// budgetSpent pauses the campaign once its budget is spent and nothing is
// in flight that could be given back; until then it waits a moment.
func (r *run) budgetSpent(why string) bool {
	if r.holding() == 0 {
		rem, err := r.e.store.Remaining(r.soft, r.c.ID)
		if err == nil && rem.Sending == 0 {
			r.pauseFor(why)
			return true
		}
	}
	r.budgetReached.Store(nil)
	sleepCtx(r.soft, 50*time.Millisecond)
	return false
}

// pauseFor pauses the campaign with a reason that concerns every
// recipient left (its budget is spent) and stops claiming; requests in
// flight finish. `smsblast set` and a new send continue it.
func (r *run) pauseFor(reason string) {
	if !r.pause.CompareAndSwap(nil, &reason) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.soft), 10*time.Second)
	defer cancel()
	if err := r.e.store.PauseCampaign(ctx, r.c.ID, reason); err != nil {
		r.e.log.Error("pause campaign", "err", err)
	}
	r.e.log.Warn("campaign paused: "+reason, "campaign", r.c.Name)
	r.stop(nil)
}
