package send

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/limiter"
	"github.com/smsblast/smsblast/twilio"
)

// TestRequest is one test send: the body of one recipient to the user's
// own numbers.
type TestRequest struct {
	Campaign string
	// To are the numbers to text, in E.164.
	To []string
	// Line picks the recipient by its CSV line; 0 takes the first imported.
	Line int
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
}

// Test sends the rendered body of one recipient — exactly as the campaign
// would send it: same template, smart encoding, sender and limiter — to
// each number of req.To, and records each message in test_sends. It
// changes no recipient, and counts in no budget, daily cap or frequency
// cap. A body that could not be sent (empty, too long, too many segments)
// is refused before any request; a number in opt_outs is skipped.
//
// Test messages are not reconciled: one whose answer is lost is recorded
// with status "unknown" and not sent again.
func Test(ctx context.Context, st campaign.TestStore, tw Messenger, req TestRequest) ([]campaign.TestSend, error) {
	c, err := st.CampaignByName(ctx, req.Campaign)
	if err != nil {
		return nil, err
	}
	tmpl, err := campaign.ParseTemplate(c.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("test campaign %q: %w", c.Name, err)
	}
	attrs, line, err := st.TestRecipient(ctx, c.ID, req.Line)
	if err != nil {
		return nil, err
	}
	body, err := tmpl.Render(attrs)
	if err != nil {
		return nil, fmt.Errorf("test campaign %q with line %d: %w", c.Name, line, err)
	}
	if c.SmartEncode {
		body = twilio.SmartEncode(body)
	}
	segments := twilio.SegmentCount(body)
	if berr := campaign.CheckBody(body, segments, c.MaxSegments); berr != nil {
		return nil, fmt.Errorf("test campaign %q with line %d: %w", c.Name, line, berr)
	}
	rate := c.Rate
	if rate <= 0 {
		rate = campaign.DefaultRate
	}
	lim, err := limiter.New(limiter.Config{Rate: rate, Concurrency: max(c.Concurrency, 1)})
	if err != nil {
		return nil, fmt.Errorf("set up rate limiter: %w", err)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var out []campaign.TestSend
	for _, to := range req.To {
		ts := campaign.TestSend{CampaignID: c.ID, SourceLine: line, To: to, From: c.Sender(), Segments: segments, SentAt: time.Now()}
		opted, err := st.OptedOut(ctx, to)
		if err != nil {
			return out, err
		}
		if opted {
			ts.Status, ts.ErrorMessage = "skipped", "opted out: never texted"
		} else if err := sendTest(ctx, tw, lim, c, body, timeout, &ts); err != nil {
			return out, err
		}
		// Recorded even after an interrupt: the message may have gone.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = st.RecordTestSend(rctx, &ts)
		cancel()
		if err != nil {
			return out, err
		}
		out = append(out, ts)
	}
	return out, nil
}

// sendTest makes one create request and fills in ts from its answer; it
// returns an error only when it made none (stopped while waiting).
func sendTest(ctx context.Context, tw Messenger, lim *limiter.Limiter, c *campaign.Campaign, body string, timeout time.Duration, ts *campaign.TestSend) error {
	release, err := lim.Acquire(ctx, c.Sender(), ts.Segments)
	if err != nil {
		return err
	}
	defer release()
	p := &twilio.CreateMessageParams{To: ts.To, From: c.Sender(), Body: body, ValidityPeriod: c.ValidityPeriod}
	if c.From == "" {
		p.From, p.MessagingServiceSID = "", c.MessagingServiceSID
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ts.SentAt = time.Now()
	msg, err := tw.CreateMessage(rctx, p)
	var te *twilio.Error
	switch {
	case err == nil:
		ts.MessageSID, ts.Status = msg.SID, msg.Status
		if msg.NumSegments > 0 {
			ts.Segments = msg.NumSegments
		}
	case errors.As(err, &te) && twilio.Classify(err) != twilio.ClassInDoubt:
		ts.Status, ts.ErrorCode, ts.ErrorMessage = "failed", te.Code, te.Message
	default:
		ts.Status, ts.ErrorMessage = "unknown", err.Error()
	}
	return nil
}
