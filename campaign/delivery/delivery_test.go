package delivery_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/delivery"
)

func TestAdvances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cur, next campaign.RecipientStatus
		want      bool
	}{
		{campaign.Accepted, campaign.Sent, true},
		{campaign.Sent, campaign.Delivered, true},
		{campaign.Accepted, campaign.Delivered, true},
		{campaign.Delivered, campaign.Sent, false},        // a late "sent" never undoes delivery
		{campaign.Delivered, campaign.Failed, false},      // the first final verdict stays
		{campaign.Undelivered, campaign.Delivered, false}, // … whichever it was
		{campaign.Sent, campaign.Sent, false},             // duplicates change nothing
		{campaign.Sent, campaign.Accepted, false},
		{campaign.Skipped, campaign.Delivered, false},
	}
	for _, tt := range tests {
		if got := campaign.Advances(tt.cur, tt.next); got != tt.want {
			t.Errorf("Advances(%s, %s) = %v, want %v", tt.cur, tt.next, got, tt.want)
		}
	}
	prev := -1
	for _, s := range campaign.RecipientStatuses() {
		if s.Rank() < prev {
			t.Errorf("RecipientStatuses not in rank order at %s", s)
		}
		prev = s.Rank()
	}
}

func TestParseStatusCallback(t *testing.T) {
	t.Parallel()
	const sid = "SM0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		form    url.Values
		want    campaign.StatusEvent
		wantErr string
	}{
		{"delivered with receipt", url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "RawDlrDoneDate": {"2402291230"}, "To": {"+14155550100"}},
			campaign.StatusEvent{MessageSID: sid, TwilioStatus: "delivered", Status: campaign.Delivered,
				DoneAt: time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC), To: "+14155550100"}, ""},
		{"undelivered with code", url.Values{"MessageSid": {sid}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}},
			campaign.StatusEvent{MessageSID: sid, TwilioStatus: "undelivered", Status: campaign.Undelivered, ErrorCode: 30003,
				ErrorMessage: "Unreachable destination handset"}, ""},
		{"older names", url.Values{"SmsSid": {sid}, "SmsStatus": {"Sent"}},
			campaign.StatusEvent{MessageSID: sid, TwilioStatus: "sent", Status: campaign.Sent}, ""},
		{"error code zero is no error", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "ErrorCode": {"0"}},
			campaign.StatusEvent{MessageSID: sid, TwilioStatus: "sent", Status: campaign.Sent}, ""},
		{"unreadable receipt date is ignored", url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "RawDlrDoneDate": {"9999999999"}},
			campaign.StatusEvent{MessageSID: sid, TwilioStatus: "delivered", Status: campaign.Delivered}, ""},
		{"no sid", url.Values{"MessageStatus": {"sent"}}, campaign.StatusEvent{}, "MessageSid is missing"},
		{"bad sid", url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"sent"}}, campaign.StatusEvent{}, "not a message sid"},
		{"no status", url.Values{"MessageSid": {sid}}, campaign.StatusEvent{}, "MessageStatus is missing"},
		{"inbound status", url.Values{"MessageSid": {sid}, "MessageStatus": {"received"}}, campaign.StatusEvent{}, "not an outbound"},
		{"bad code", url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "ErrorCode": {"3e4"}}, campaign.StatusEvent{}, "not a Twilio error code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := delivery.ParseStatusCallback(tt.form)
			if tt.wantErr != "" {
				if !errors.Is(err, delivery.ErrBadCallback) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want ErrBadCallback with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MessageSID != tt.want.MessageSID || got.TwilioStatus != tt.want.TwilioStatus || got.Status != tt.want.Status ||
				got.ErrorCode != tt.want.ErrorCode || !got.DoneAt.Equal(tt.want.DoneAt) || got.To != tt.want.To ||
				!strings.HasPrefix(got.ErrorMessage, tt.want.ErrorMessage) || (tt.want.ErrorMessage == "") != (got.ErrorMessage == "") {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseKeyword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want delivery.Keyword
	}{
		{"STOP", delivery.OptOutKeyword}, {" stop\n", delivery.OptOutKeyword}, {"Stop", delivery.OptOutKeyword},
		{"stopall", delivery.OptOutKeyword}, {"UNSUBSCRIBE", delivery.OptOutKeyword}, {"cancel", delivery.OptOutKeyword},
		{"End", delivery.OptOutKeyword}, {"QUIT", delivery.OptOutKeyword}, {"\u00a0STOP\u2003", delivery.OptOutKeyword},
		{"START", delivery.OptInKeyword}, {"unstop", delivery.OptInKeyword}, {"Yes", delivery.OptInKeyword},
		{"", delivery.NoKeyword}, {"STOP please", delivery.NoKeyword}, {"stop.", delivery.NoKeyword},
		{"Please stop", delivery.NoKeyword}, {"STOPP", delivery.NoKeyword}, {"HELP", delivery.NoKeyword},
		{"ſtop", delivery.NoKeyword}, // Unicode folding would make the long s an S; Twilio matches ASCII
	}
	for _, tt := range tests {
		if got := delivery.ParseKeyword(tt.body); got != tt.want {
			t.Errorf("ParseKeyword(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// FuzzParseStatusCallback feeds arbitrary form bodies to the callback
// parser: it must never panic, and whatever it accepts must be usable.
func FuzzParseStatusCallback(f *testing.F) {
	for _, s := range []string{
		"MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=delivered&RawDlrDoneDate=2401021530",
		"SmsSid=SM0123456789abcdef0123456789abcdef&SmsStatus=undelivered&ErrorCode=30003",
		"MessageSid=SM0123456789abcdef0123456789abcdef&MessageStatus=failed&ErrorCode=-1",
		"MessageSid=&MessageStatus=",
		"MessageSid=MM0123456789ABCDEF0123456789ABCDEF&MessageStatus=READ&ErrorCode=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		ev, err := delivery.ParseStatusCallback(form)
		if err != nil {
			if !errors.Is(err, delivery.ErrBadCallback) {
				t.Fatalf("error %v is not ErrBadCallback", err)
			}
			return
		}
		if len(ev.MessageSID) != 34 {
			t.Fatalf("accepted sid %q", ev.MessageSID)
		}
		if r := ev.Status.Rank(); r < campaign.Accepted.Rank() {
			t.Fatalf("accepted status %q maps to %q (rank %d)", ev.TwilioStatus, ev.Status, r)
		}
		if ev.ErrorCode < 0 || ev.ErrorCode > 99999 {
			t.Fatalf("error code %d", ev.ErrorCode)
		}
		if (ev.ErrorCode == 0) != (ev.ErrorMessage == "") && ev.ErrorCode == 0 {
			t.Fatalf("message %q without a code", ev.ErrorMessage)
		}
	})
}

// FuzzParseKeyword: a keyword is recognised exactly when the trimmed body,
// upper-cased, is one of Twilio's keywords.
func FuzzParseKeyword(f *testing.F) {
	for _, s := range []string{"STOP", " stop ", "Start", "yes\n", "unsubscribe", "STOP ME", "", "\u00a0quit", "ſtop", "\xff"} {
		f.Add(s)
	}
	optOut := []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
	optIn := []string{"START", "UNSTOP", "YES"}
	f.Fuzz(func(t *testing.T, body string) {
		got := delivery.ParseKeyword(body)
		w := strings.TrimSpace(body)
		for _, r := range w {
			if r >= 0x80 {
				w = "" // not ASCII: never a keyword
				break
			}
		}
		w = strings.ToUpper(w)
		want := delivery.NoKeyword
		for _, k := range optOut {
			if w == k {
				want = delivery.OptOutKeyword
			}
		}
		for _, k := range optIn {
			if w == k {
				want = delivery.OptInKeyword
			}
		}
		if got != want {
			t.Fatalf("ParseKeyword(%q) = %v, want %v", body, got, want)
		}
	})
}

// A parameter that appears twice is refused: Twilio's signature covers a
// repeated parameter's values sorted, so their order in the request is
// anybody's, and with it which one a reader of the first value would see.
func TestDuplicatedParametersRefused(t *testing.T) {
	t.Parallel()
	const sid = "SM0123456789abcdef0123456789abcdef"
	for _, body := range []string{
		"MessageSid=" + sid + "&MessageStatus=delivered&MessageStatus=failed",
		"MessageSid=" + sid + "&MessageSid=" + sid + "&MessageStatus=delivered",
		"MessageSid=" + sid + "&MessageStatus=undelivered&ErrorCode=30003&ErrorCode=30005",
	} {
		form, _ := url.ParseQuery(body)
		if _, err := delivery.ParseStatusCallback(form); !errors.Is(err, delivery.ErrBadCallback) || !strings.Contains(err.Error(), "appears 2 times") {
			t.Errorf("ParseStatusCallback(%s) = %v; want ErrBadCallback", body, err)
		}
	}
	for _, body := range []string{"From=%2B14155550100&From=%2B14155550101&Body=STOP", "From=%2B14155550100&Body=STOP&Body=START"} {
		form, _ := url.ParseQuery(body)
		if _, err := delivery.ParseInbound(form); !errors.Is(err, delivery.ErrBadCallback) {
			t.Errorf("ParseInbound(%s) = %v; want ErrBadCallback", body, err)
		}
	}
}

// FuzzParseInbound feeds arbitrary form bodies to the inbound parser: it
// never panics, and what it accepts has one sender and the keyword of its body.
func FuzzParseInbound(f *testing.F) {
	for _, s := range []string{
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B14155550100&To=%2B15005550006&Body=STOP",
		"From=%2B14155550100&Body=",
		"From=whatsapp%3A%2B14155550100&Body=start",
		"From=%2B1&From=%2B2&Body=STOP",
		"Body=STOP",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		m, err := delivery.ParseInbound(form)
		if err != nil {
			if !errors.Is(err, delivery.ErrBadCallback) {
				t.Fatalf("error %v is not ErrBadCallback", err)
			}
			return
		}
		if m.From == "" || len(form["From"]) != 1 || len(form["Body"]) > 1 {
			t.Fatalf("accepted %+v from %v", m, form)
		}
		if m.Keyword != delivery.ParseKeyword(form.Get("Body")) {
			t.Fatalf("keyword %v for body %q", m.Keyword, form.Get("Body"))
		}
	})
}
