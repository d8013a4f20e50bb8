package delivery

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/twilio"
)

// ParseStatusCallback reads a status callback's form parameters.
// MessageSid (or its older name SmsSid) and MessageStatus (or SmsStatus) are
// required; ErrorCode, when present, must be a number. A parameter it reads
// that appears more than once is refused (see once).
func ParseStatusCallback(form url.Values) (*campaign.StatusEvent, error) {
	if err := once(form, "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "ErrorCode", "ErrorMessage",
		"To", "From", "AccountSid", "RawDlrDoneDate"); err != nil {
		return nil, fmt.Errorf("parse status callback: %w", err)
	}
	sid := first(form, "MessageSid", "SmsSid")
	if sid == "" {
		return nil, fmt.Errorf("parse status callback: MessageSid is missing: %w", ErrBadCallback)
	}
	if !twilio.IsMessageSID(sid) {
		return nil, fmt.Errorf("parse status callback: MessageSid %.40q is not a message sid: %w", sid, ErrBadCallback)
	}
	tstat := strings.ToLower(first(form, "MessageStatus", "SmsStatus"))
	if tstat == "" {
		return nil, fmt.Errorf("parse status callback for %s: MessageStatus is missing: %w", sid, ErrBadCallback)
	}
	st, ok := campaign.FromTwilioStatus(tstat)
	if !ok {
		return nil, fmt.Errorf("parse status callback for %s: MessageStatus %.20q is not an outbound message status: %w", sid, tstat, ErrBadCallback)
	}
	ev := &campaign.StatusEvent{
		MessageSID:   sid,
		TwilioStatus: tstat,
		Status:       st,
		To:           form.Get("To"),
		From:         form.Get("From"),
		AccountSID:   form.Get("AccountSid"),
		Params:       form,
	}
	if s := strings.TrimSpace(form.Get("ErrorCode")); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil || code < 0 || code > 99999 {
			return nil, fmt.Errorf("parse status callback for %s: ErrorCode %.20q is not a Twilio error code: %w", sid, s, ErrBadCallback)
		}
		// Twilio sends ErrorCode=0 on some successful statuses: no error.
		ev.ErrorCode = code
	}
	if ev.ErrorCode != 0 {
		ev.ErrorMessage = form.Get("ErrorMessage")
		if ev.ErrorMessage == "" {
			if info, ok := twilio.Describe(ev.ErrorCode); ok {
				ev.ErrorMessage = info.Description
			}
		}
	}
	if s := form.Get("RawDlrDoneDate"); len(s) == 10 {
		if t, err := time.Parse("0601021504", s); err == nil {
			ev.DoneAt = t
		}
	}
	return ev, nil
}

// once refuses a request in which one of the parameters smsblast reads
// appears more than once. Twilio sends each once; and since its signature
// covers a repeated parameter's values in sorted order, not in the order
// sent, whoever replays a signed request could reorder them unnoticed and
// choose which one a reader of the first value sees.
func once(form url.Values, names ...string) error {
	for _, n := range names {
		if len(form[n]) > 1 {
			return fmt.Errorf("%s appears %d times: %w", n, len(form[n]), ErrBadCallback)
		}
	}
	return nil
}

// first returns the first non-empty value among the names.
func first(form url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(form.Get(n)); v != "" {
			return v
		}
	}
	return ""
}
