package send

import (
	"net/url"
	"testing"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/delivery"
)

// Every Twilio message status goes through the one mapping
// (campaign.FromTwilioStatus) on both paths: the API's answer (a create, or
// a message found when reconciling) and a status callback. They agree on
// every status a callback may carry; the API path also keeps a message it
// cannot name (Twilio has it: accepted), where a callback is refused.
func TestTwilioStatusMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		twilio   string
		want     campaign.RecipientStatus
		callback bool // a status callback may carry it
	}{
		{"queued", campaign.Accepted, true},
		{"accepted", campaign.Accepted, true},
		{"scheduled", campaign.Accepted, true},
		{"sending", campaign.Accepted, true},
		{"sent", campaign.Sent, true},
		{"partially_delivered", campaign.Sent, true},
		{"delivered", campaign.Delivered, true},
		{"read", campaign.Delivered, true},
		{"undelivered", campaign.Undelivered, true},
		{"failed", campaign.Failed, true},
		{"canceled", campaign.Failed, true},
		{"receiving", campaign.Accepted, false},
		{"received", campaign.Accepted, false},
		{"something_new", campaign.Accepted, false},
	}
	for _, tt := range tests {
		t.Run(tt.twilio, func(t *testing.T) {
			if got := statusOf(tt.twilio); got != tt.want {
				t.Errorf("API answer %q → %q, want %q", tt.twilio, got, tt.want)
			}
			form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "MessageStatus": {tt.twilio}}
			ev, err := delivery.ParseStatusCallback(form)
			switch {
			case !tt.callback && err == nil:
				t.Errorf("callback %q accepted as %q; it is not an outbound message's status", tt.twilio, ev.Status)
			case tt.callback && err != nil:
				t.Errorf("callback %q: %v", tt.twilio, err)
			case tt.callback && ev.Status != tt.want:
				t.Errorf("callback %q → %q, want %q (the API path says %q)", tt.twilio, ev.Status, tt.want, statusOf(tt.twilio))
			}
		})
	}
}
