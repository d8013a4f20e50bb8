package send

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/smsblast/smsblast/campaign"

	"github.com/smsblast/smsblast/twilio"
)

// sender sends queued rows until the queue closes. After a soft stop it
// gives queued rows back instead of sending them.
func (r *run) sender() {
	for h := range r.queue {
		r.inQueue.Add(-1)
		r.send(h)
	}
}

// send takes one claimed row through render, limiter, lease check, request
// and classification, and hands the outcome to the recorders.
func (r *run) send(h *held) {
	if r.soft.Err() != nil || h.lost.Load() {
		r.giveBack(h)
		return
	}
	body, err := r.render(h.Attrs)
	if err != nil {
		r.emit(campaign.Outcome{RecipientID: h.RecipientID, Attempt: h.Attempt, Status: campaign.Failed,
			ErrorMessage: err.Error(), Audit: &campaign.Audit{StartedAt: time.Now(), Result: "failed"}})
		return
	}
	segments := twilio.SegmentCount(body)
	// A body Twilio would refuse, or longer than the campaign allows, is
	// failed here without a request: the import rejects such rows, but a
	// later `set --body` or `--max-segments` may make one.
	if berr := campaign.CheckBody(body, segments, r.camp().MaxSegments); berr != nil {
		r.emit(campaign.Outcome{RecipientID: h.RecipientID, Attempt: h.Attempt, Status: campaign.Failed,
			ErrorMessage: "not sent: " + berr.Error(), Audit: &campaign.Audit{StartedAt: time.Now(), Result: campaign.AuditFailed}})
		return
	}
	release, err := r.lim.Acquire(r.soft, h.Sender, segments)
	if err != nil { // soft stop while waiting for the rate
		r.giveBack(h)
		return
	}
	defer release()
	// Invariant 2: send only if the lease outlasts the whole request.
	if h.lost.Load() || r.now()+int64(r.e.cfg.RequestTimeout+r.e.cfg.LeaseMargin) > h.deadline.Load() {
		r.e.log.Warn("lease too close to expiry: not sending", "recipient", h.RecipientID)
		r.giveBack(h)
		return
	}
	camp := r.camp()
	// Time, checked again right before the request: a recipient claimed at
	// 20:59:59.9 is not texted at 21:00:01, and nothing goes after the stop.
	now := r.e.cfg.Now()
	if h.place != nil && !h.place.OpenFor(now, r.e.cfg.WindowMargin) {
		r.emit(campaign.Outcome{RecipientID: h.RecipientID, Attempt: h.Attempt, Status: campaign.Pending,
			Unclaim: true, HoldUntil: reopening(h.place, now), Hold: campaign.HoldWindow})
		return
	}
	validity, ok := validityFor(camp, now)
	if !ok {
		r.giveBack(h) // the stop time has come: the row will be expired
		return
	}
	p := &twilio.CreateMessageParams{
		To:             h.Phone,
		From:           h.Sender,
		Body:           body,
		StatusCallback: camp.StatusCallback,
		ValidityPeriod: validity,
	}
	if camp.From == "" {
		p.From, p.MessagingServiceSID = "", camp.MessagingServiceSID
	}
	ctx, cancel := context.WithTimeout(r.hard, r.e.cfg.RequestTimeout)
	start := time.Now()
	msg, err := r.e.tw.CreateMessage(ctx, p)
	latency := time.Since(start)
	cancel()
	r.emit(r.classify(h, msg, err, segments, start, latency))
}

// render is a recipient's body as it is sent: the template over its
// columns, smart-encoded when the campaign says so. Twilio's own
// SmartEncoded parameter is never used: the engine must know the body (to
// count its segments, and to find it in Twilio's list when in doubt).
func (r *run) render(attrs map[string]string) (string, error) {
	body, err := r.tmpl.Render(attrs)
	if err != nil {
		return "", err
	}
	if r.c.SmartEncode {
		body = twilio.SmartEncode(body)
	}
	return body, nil
}

// validityFor is the ValidityPeriod of a message sent now: the campaign's,
// shortened so that Twilio gives up on a message still queued at the
// campaign's stop time instead of delivering it after (Twilio's longest,
// 10 hours, at most). ok is false when the stop time is under a second away.
func validityFor(c *campaign.Campaign, now time.Time) (seconds int, ok bool) {
	seconds = c.ValidityPeriod
	if c.StopAt.IsZero() {
		return seconds, true
	}
	left := int(c.StopAt.Sub(now) / time.Second)
	if left < 1 {
		return 0, false
	}
	if seconds == 0 || seconds > left {
		seconds = min(left, int(campaign.MaxValidity/time.Second))
	}
	return seconds, true
}

// classify turns a create's result into the row's next state, and feeds the
// limiter and the outage detector.
func (r *run) classify(h *held, msg *twilio.Message, err error, segments int, start time.Time, latency time.Duration) campaign.Outcome {
	o := campaign.Outcome{RecipientID: h.RecipientID, Attempt: h.Attempt, Segments: segments}
	audit := &campaign.Audit{StartedAt: start, Latency: latency}
	o.Audit = audit
	var te *twilio.Error
	if errors.As(err, &te) {
		audit.HTTPStatus = te.Status
		o.ErrorCode = te.Code
		o.ErrorMessage = te.Message
	} else if err != nil {
		o.ErrorMessage = err.Error()
	}
	class := twilio.Classify(err)
	throttle := class == twilio.ClassRetryable && te != nil && te.Status == http.StatusTooManyRequests
	now := time.Now()
	var trErr *twilio.TransportError
	unanswered := errors.As(err, &trErr) && !errors.Is(err, context.Canceled)
	if unanswered {
		r.transport.failed(trErr, now)
	} else if err == nil || te != nil {
		r.transport.answered(now)
	}
	overloaded := r.throttles.observe(throttle, now)
	// Answers lost, or Twilio not reached at all, are an outage when most
	// requests end so: pause a moment rather than cycle every recipient
	// through failures.
	outage := r.outage.observe(class == twilio.ClassInDoubt || unanswered, now)
	switch class {
	case twilio.ClassAccepted:
		audit.HTTPStatus = http.StatusCreated
		audit.Result = campaign.AuditAccepted
		o.Status = statusOf(msg.Status)
		o.MessageSID, o.TwilioStatus = msg.SID, msg.Status
		if msg.NumSegments > 0 {
			o.Segments = msg.NumSegments
		}
		o.SentAt = msg.DateCreated
		if o.SentAt.IsZero() {
			o.SentAt = start
		}
	case twilio.ClassRetryable:
		// Slow down on a real overload (see throttleGate), on a full sender
		// queue (21611), and whenever Twilio names a time to wait.
		retryAfter := twilio.RetryAfterOf(err)
		switch {
		case outage:
			r.lim.Throttled(5 * time.Second)
		case overloaded || retryAfter > 0 || (te != nil && !throttle):
			r.lim.Throttled(retryAfter)
		}
		audit.Result = campaign.AuditRetry
		o.Status = campaign.Pending
		if te == nil || throttle {
			// Nothing reached Twilio, or Twilio refused to process it: a
			// throttle, not an attempt. Give the attempt back.
			o.Unclaim = true
			o.RetryIn = r.retryDelay(1, retryAfter)
			return o
		}
		// 21611, the sender's queue is full: a real refusal that counts.
		if h.Attempt >= r.camp().MaxAttempts {
			o.Status = campaign.Failed
			audit.Result = campaign.AuditFailed
			return o
		}
		o.RetryIn = r.retryDelay(h.Attempt, retryAfter)
	case twilio.ClassInDoubt:
		audit.Result = campaign.AuditInDoubt
		o.Status = campaign.Sending // Record ends the lease now; the reconciler takes it
		if o.ErrorMessage == "" {
			o.ErrorMessage = "no answer from Twilio"
		}
		r.e.stats.inDoubt.Add(1)
		// Most answers lost looks like an outage: slow down and pause a
		// moment rather than push every recipient into doubt.
		if outage {
			r.lim.Throttled(5 * time.Second)
		}
	case twilio.ClassRecipient:
		audit.Result = campaign.AuditFailed
		o.Status = campaign.Failed
	case twilio.ClassOptOut:
		audit.Result = campaign.AuditSkipped
		o.Status = campaign.Skipped
		o.OptOut = h.Phone
	case twilio.ClassCampaign:
		audit.Result = campaign.AuditCampaignError
		o.Status = campaign.Pending
		o.Unclaim = true
		r.campaignFatal(err)
	}
	return o
}

// campaignFatal pauses the campaign on an error that every recipient would
// hit (bad credentials, bad sender) and stops this worker.
func (r *run) campaignFatal(err error) {
	reason := fmt.Sprintf("paused by Twilio error: %v", err)
	wrapped := fmt.Errorf("campaign %q %s: %w", r.c.Name, "paused", err)
	if !r.fatal.CompareAndSwap(nil, &wrapped) {
		return
	}
	r.pause.Store(&reason)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.soft), 10*time.Second)
	defer cancel()
	if perr := r.e.store.PauseCampaign(ctx, r.c.ID, reason); perr != nil {
		r.e.log.Error("pause campaign", "err", perr)
	}
	r.e.log.Error("campaign paused", "campaign", r.c.Name, "err", err)
	r.stop(wrapped)
}

// giveBack returns an unsent row to pending without spending its attempt.
func (r *run) giveBack(h *held) {
	r.emit(campaign.Outcome{RecipientID: h.RecipientID, Attempt: h.Attempt, Status: campaign.Pending, Unclaim: true})
}

func (r *run) emit(o campaign.Outcome) { r.out <- o }

// statusOf maps the status of a message Twilio took (a create's answer, or
// one found in its list) through the one mapping, campaign.FromTwilioStatus.
// A status that mapping does not know still means Twilio has the message.
func statusOf(twilioStatus string) campaign.RecipientStatus {
	if st, ok := campaign.FromTwilioStatus(twilioStatus); ok {
		return st
	}
	return campaign.Accepted
}
