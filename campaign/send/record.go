package send

import (
	"context"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// Outcomes are written in batches: up to recordBatch rows, or whatever
// arrived within recordLinger of the first. One batch is one round trip and
// one transaction (Store.Record).
const (
	recordBatch   = 500
	recordLinger  = 10 * time.Millisecond
	hardStopGrace = 2 * time.Second
)

// record writes outcomes until the channel closes. A failed write is retried
// with back-off until it succeeds — the database may be restarting — and
// given up only on a hard stop, which leaves those rows to reconciliation.
func (r *run) record() {
	buf := make([]campaign.Outcome, 0, recordBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case o, ok := <-r.out:
			if !ok {
				r.flush(buf)
				return
			}
			if len(buf) == 0 {
				timer.Reset(recordLinger)
			}
			buf = append(buf, o)
			if len(buf) < recordBatch {
				continue
			}
		case <-timer.C:
		}
		timer.Stop()
		r.flush(buf)
		buf = buf[:0]
	}
}

func (r *run) flush(batch []campaign.Outcome) {
	if len(batch) == 0 {
		return
	}
	backoff := newBackoff(50*time.Millisecond, 2*time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.soft), 30*time.Second)
		if r.hard.Err() != nil {
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), hardStopGrace)
		}
		_, err := r.e.store.Record(ctx, r.c.ID, r.worker, batch)
		cancel()
		if err == nil {
			break
		}
		if r.hard.Err() != nil {
			r.e.log.Error("record outcomes before a hard stop; they will be reconciled", "count", len(batch), "err", err)
			break
		}
		r.e.log.Warn("record outcomes; retrying", "count", len(batch), "err", err)
		sleepCtx(r.hard, backoff.next())
	}
	r.mu.Lock()
	for i := range batch {
		delete(r.held, batch[i].RecipientID)
	}
	r.mu.Unlock()
	for i := range batch {
		r.e.stats.count(&batch[i])
	}
}
