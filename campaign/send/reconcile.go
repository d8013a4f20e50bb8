package send

import (
	"context"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"

	"github.com/smsblast/smsblast/twilio"
)

// reconciler settles rows in doubt until claiming stops. It claims rows whose
// lease ended (in_doubt_since set by a lost answer, or a dead worker's) and
// asks Twilio whether their message exists (invariant 4).
func (r *run) reconciler() {
	tick := time.NewTicker(r.e.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.soft.Done():
			return
		case <-tick.C:
		}
		for r.soft.Err() == nil {
			claims, err := r.e.store.ClaimInDoubt(r.soft, r.c.ID, r.worker, r.concurrency, r.e.cfg.Lease)
			if err != nil {
				if r.soft.Err() == nil {
					r.e.log.Warn("claim recipients in doubt", "err", err)
				}
				break
			}
			if len(claims) == 0 {
				break
			}
			outs := make([]campaign.Outcome, len(claims))
			var wg sync.WaitGroup
			for i := range claims {
				wg.Go(func() { outs[i] = r.reconcile(&claims[i]) })
			}
			wg.Wait()
			r.logVerdicts(outs)
			for _, o := range outs {
				r.emit(o)
			}
		}
	}
}

// reconcile decides one row in doubt.
func (r *run) reconcile(c *campaign.Claim) campaign.Outcome {
	o := campaign.Outcome{RecipientID: c.RecipientID, Attempt: c.Attempt}
	if c.Sender == "" { // claimed before rows named their sender
		c.Sender = r.c.Sender()
	}
	start := time.Now()
	body, err := r.tmpl.Render(c.Attrs)
	if err != nil { // cannot have been sent: the sender renders first
		o.Status, o.ErrorMessage = campaign.Failed, err.Error()
		return o
	}
	release, err := r.lim.Acquire(r.soft, c.Sender, 0)
	if err != nil {
		o.Status, o.Recheck = campaign.Sending, 0
		return o
	}
	ctx, cancel := context.WithTimeout(r.hard, 2*r.e.cfg.RequestTimeout)
	msg, err := r.find(ctx, c, body)
	cancel()
	release()
	audit := &campaign.Audit{StartedAt: start, Latency: time.Since(start)}
	switch {
	case err != nil:
		r.e.log.Warn("look up message in Twilio; will look again", "recipient", c.RecipientID, "err", err)
		o.Status, o.Recheck = campaign.Sending, 5*time.Second
		return o
	case msg != nil:
		r.e.stats.found.Add(1)
		audit.Result = campaign.AuditFound
		o.Audit = audit
		o.Status = statusOf(msg.Status)
		o.MessageSID, o.TwilioStatus = msg.SID, msg.Status
		o.ErrorCode, o.ErrorMessage = msg.ErrorCode, msg.ErrorMessage
		o.Segments, o.SentAt = msg.NumSegments, msg.DateCreated
		return o
	}
	// Not found. Only after the safety window may that mean "not sent".
	if wait := time.Until(c.InDoubtSince.Add(r.e.cfg.SafetyWindow)); wait > 0 {
		o.Status, o.Recheck = campaign.Sending, wait
		return o
	}
	r.e.stats.requeued.Add(1)
	audit.Result = campaign.AuditNotFound
	o.Audit = audit
	if c.Attempt >= r.c.MaxAttempts {
		o.Status = campaign.Failed
		o.ErrorMessage = "no answer from Twilio after the last attempt, and the message is not in Twilio's list: not sent"
		return o
	}
	o.Status = campaign.Pending
	o.ErrorMessage = "previous attempt got no answer and was not sent: retrying"
	return o
}

// find looks for the message an attempt may have created: same To, same
// sender, same body, created no earlier than the claim less ClockSkew.
//
// The list is filtered by To (and From) only, not DateSent: a message still
// queued has no date_sent, so a DateSent filter could hide exactly the
// message we look for. Twilio lists newest first, so the walk stops at the
// first message older than the claim. Bodies must match exactly; Twilio does
// not rewrite a body sent without SmartEncoded.
func (r *run) find(ctx context.Context, c *campaign.Claim, body string) (*twilio.Message, error) {
	p := &twilio.ListMessagesParams{To: c.Phone, PageSize: 100}
	if r.c.From != "" {
		p.From = c.Sender
	}
	notBefore := c.ClaimedAt.Add(-r.e.cfg.ClockSkew)
	for m, err := range r.e.tw.ListMessages(ctx, p) {
		if err != nil {
			return nil, err
		}
		if !m.DateCreated.IsZero() && m.DateCreated.Before(notBefore) {
			return nil, nil
		}
		if m.Body != body || m.To != c.Phone {
			continue
		}
		if r.c.From == "" && m.MessagingServiceSID != r.c.MessagingServiceSID {
			continue
		}
		return m, nil
	}
	return nil, nil
}

// logVerdicts says, once per pass, what reconciliation decided.
func (r *run) logVerdicts(outs []campaign.Outcome) {
	var found, requeued, failed, waiting int
	var until time.Duration
	for _, o := range outs {
		switch {
		case o.Status == campaign.Sending:
			waiting++
			until = max(until, o.Recheck)
		case o.Audit != nil && o.Audit.Result == campaign.AuditFound:
			found++
		case o.Status == campaign.Pending:
			requeued++
		default:
			failed++
		}
	}
	args := []any{"found", found, "not_sent_requeued", requeued}
	if failed > 0 {
		args = append(args, "not_sent_out_of_attempts", failed)
	}
	if waiting > 0 {
		args = append(args, "waiting", waiting,
			"check_again_at", time.Now().Add(until).Format(time.TimeOnly))
	}
	r.e.log.Info("reconciled recipients in doubt against Twilio's message list", args...)
}
