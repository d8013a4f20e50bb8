package send

import (
	"context"
	"fmt"
	"iter"
	"strings"
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
		c.Sender = r.camp().Sender()
	}
	start := time.Now()
	body, err := r.render(c.Attrs)
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
	v, err := r.find(ctx, c, body)
	cancel()
	release()
	audit := &campaign.Audit{StartedAt: start, Latency: time.Since(start)}
	switch {
	case err != nil:
		r.e.log.Warn("look up message in Twilio; will look again", "recipient", c.RecipientID, "err", err)
		o.Status, o.Recheck = campaign.Sending, 5*time.Second
		return o
	case v.match != nil:
		msg := v.match
		r.e.stats.found.Add(1)
		audit.Result = campaign.AuditFound
		o.Audit = audit
		o.Status = statusOf(msg.Status)
		o.MessageSID, o.TwilioStatus = msg.SID, msg.Status
		o.ErrorCode, o.ErrorMessage = msg.ErrorCode, msg.ErrorMessage
		o.Segments, o.SentAt = msg.NumSegments, msg.DateCreated
		return o
	}
	// No match. Only after the safety window may that mean anything: until
	// then the list may yet show the attempt's own message (Twilio's list
	// lags, and it redacts a body only once the message has been sent).
	if wait := time.Until(c.InDoubtSince.Add(r.e.cfg.SafetyWindow)); wait > 0 {
		o.Status, o.Recheck = campaign.Sending, wait
		return o
	}
	if msg := v.doubt; msg != nil {
		// A message that may be this attempt's and no way to tell: only a
		// person can, so it is neither re-sent nor recorded as sent.
		r.e.stats.review.Add(1)
		audit.Result = campaign.AuditReview
		o.Audit = audit
		o.Status = campaign.Review
		o.MessageSID, o.TwilioStatus = msg.SID, msg.Status
		o.Segments, o.SentAt = msg.NumSegments, msg.DateCreated
		o.ErrorMessage = reviewReason(msg, v.doubts)
		return o
	}
	r.e.stats.requeued.Add(1)
	audit.Result = campaign.AuditNotFound
	o.Audit = audit
	if c.Attempt >= r.camp().MaxAttempts {
		o.Status = campaign.Failed
		o.ErrorMessage = "no answer from Twilio after the last attempt, and the message is not in Twilio's list: not sent"
		return o
	}
	o.Status = campaign.Pending
	o.ErrorMessage = "previous attempt got no answer and was not sent: retrying"
	return o
}

// reviewReason is the error_message of a recipient in review: what was seen
// and what a person should check.
func reviewReason(m *twilio.Message, n int) string {
	var b strings.Builder
	b.WriteString("in doubt, for a person to decide: Twilio's list shows message " + m.SID)
	if !m.DateCreated.IsZero() {
		b.WriteString(", created " + m.DateCreated.UTC().Format(time.RFC3339))
	}
	if m.Status != "" {
		b.WriteString(", status " + m.Status)
	}
	b.WriteString(", to this number from this campaign's sender, with its body redacted (message redaction):")
	b.WriteString(" it may be this recipient's text or another one sent to the same number")
	if n > 1 {
		fmt.Fprintf(&b, " (%d such messages; this is the newest)", n)
	}
	b.WriteString(". Check whether the recipient got this campaign's text, then run 'smsblast resolve' with --sent or --not-sent")
	return b.String()
}

// find looks in Twilio's list for the message an attempt may have created
// (see target). The list is filtered by To (and From) only, not DateSent: a
// message still queued has no date_sent, so a DateSent filter could hide
// exactly the message we look for.
func (r *run) find(ctx context.Context, c *campaign.Claim, body string) (verdict, error) {
	// The attempt's own sender: in a pool, the number the row was sent from.
	from := ""
	if r.camp().From != "" {
		from = c.Sender
	}
	p := &twilio.ListMessagesParams{To: c.Phone, From: from, PageSize: 100}
	t := target{
		phone: c.Phone, from: from, service: r.camp().MessagingServiceSID, body: body,
		notBefore: c.ClaimedAt.Add(-r.e.cfg.ClockSkew),
	}
	return t.scan(r.e.tw.ListMessages(ctx, p))
}

// target is what reconciliation looks for: the message one attempt may have
// created.
type target struct {
	phone     string // the recipient, E.164
	from      string // the number the attempt was sent from; empty behind a Messaging Service
	service   string // the campaign's Messaging Service, when from is empty
	body      string // the rendered body the attempt sent
	notBefore time.Time
}

// verdict is what a look at Twilio's list found.
type verdict struct {
	// match is the attempt's message: same recipient, sender and body.
	match *twilio.Message
	// doubt, when there is no match, is the newest message that may be the
	// attempt's but cannot be compared (its body is redacted); doubts
	// counts them.
	doubt  *twilio.Message
	doubts int
}

// scan walks the list, newest first, until the first message older than
// the claim (less the clock skew allowance). An exact match wins wherever it
// is in the window; without one, a message that may be it makes the
// recipient doubtful. Other messages are someone else's.
func (t *target) scan(list iter.Seq2[*twilio.Message, error]) (verdict, error) {
	var v verdict
	for m, err := range list {
		if err != nil {
			return verdict{}, err
		}
		if !m.DateCreated.IsZero() && m.DateCreated.Before(t.notBefore) {
			break
		}
		switch t.judge(m) {
		case same:
			return verdict{match: m}, nil
		case maybe:
			if v.doubt == nil {
				v.doubt = m
			}
			v.doubts++
		}
	}
	return v, nil
}

// likeness is how one listed message relates to the attempt looked for.
type likeness int

const (
	other likeness = iota // another message: to someone else, from someone else, or another body
	same                  // the attempt's message
	maybe                 // to this recipient from this sender, body redacted: cannot tell
)

// judge compares one listed message with the target.
//
//   - The recipient must be the same: exactly, or redacted (Twilio's phone
//     number redaction shows the last four digits as XXXX) with the rest
//     equal. The list was asked for this To, so a redacted number that
//     fits is this recipient's.
//   - The sender must be the campaign's: From is filtered by Twilio; behind
//     a Messaging Service, Twilio picks the From, so the service sid must
//     match instead.
//   - Then the body decides: equal is the attempt's message (Twilio does not
//     rewrite a body sent without SmartEncoded); empty is a body redacted by
//     the account's message redaction (a campaign never sends an empty
//     body), which may or may not be ours; anything else is another message.
func (t *target) judge(m *twilio.Message) likeness {
	if !samePhone(m.To, t.phone) {
		return other
	}
	if t.from == "" && m.MessagingServiceSID != t.service {
		return other
	}
	switch m.Body {
	case "":
		return maybe
	case t.body:
		return same
	}
	return other
}

// samePhone reports whether listed, a To as Twilio shows it, is phone:
// equal, or equal but for the last four digits shown as XXXX.
func samePhone(listed, phone string) bool {
	if listed == phone {
		return true
	}
	n := len(phone)
	if len(listed) != n || n < 5 || !strings.EqualFold(listed[n-4:], "XXXX") {
		return false
	}
	return listed[:n-4] == phone[:n-4]
}

// logVerdicts says, once per pass, what reconciliation decided.
func (r *run) logVerdicts(outs []campaign.Outcome) {
	var found, requeued, failed, waiting, review int
	var until time.Duration
	for _, o := range outs {
		switch {
		case o.Status == campaign.Sending:
			waiting++
			until = max(until, o.Recheck)
		case o.Status == campaign.Review:
			review++
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
	if review > 0 {
		// Never re-sent, never counted as sent: a person must look.
		args = append(args, "need_review", review,
			"why", "Twilio's list shows a message to the same number from this sender whose body is redacted",
			"next", "smsblast resolve "+r.c.Name)
		r.e.log.Warn("reconciled recipients in doubt against Twilio's message list", args...)
		return
	}
	r.e.log.Info("reconciled recipients in doubt against Twilio's message list", args...)
}
