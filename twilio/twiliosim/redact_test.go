package twiliosim

import (
	"flag"
	"fmt"
	"net/http"
	"testing"
)

// Message Redaction: list and fetch answers lose the body and the last four
// digits of the recipient's number, filters still match the real number,
// paging still works, and the ground truth keeps everything.
func TestRedaction(t *testing.T) {
	t.Parallel()
	const a, b = "+14155550100", "+14155550111"
	tests := []struct {
		redact         Redaction
		wantBody, toA  string
		createAnswerTo string
	}{
		{Redaction{}, "hello", a, a},
		{Redaction{Body: true}, "", a, a},
		{Redaction{Phone: true}, "hello", "+1415555XXXX", a},
		{Redaction{Body: true, Phone: true}, "", "+1415555XXXX", a},
	}
	for _, tt := range tests {
		t.Run(tt.redact.String(), func(t *testing.T) {
			t.Parallel()
			tb := setup(t, Options{Redact: tt.redact})
			status, created := tb.create(t, form("To", a, "From", testFrom, "Body", "hello"))
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, created)
			}
			// The create's own answer is not redacted (see Redaction).
			if created["body"] != "hello" || created["to"] != tt.createAnswerTo {
				t.Errorf("create answer: body %v, to %v", created["body"], created["to"])
			}
			sid := created["sid"].(string)
			for i := range 3 {
				tb.mustCreate(t, form("To", b, "MessagingServiceSid", testMG, "Body", fmt.Sprintf("b%d", i)))
			}

			got := tb.fetch(t, sid)
			// An empty string, not null: the shape Twilio documents for a
			// redacted body.
			if body, ok := got["body"].(string); !ok || body != tt.wantBody {
				t.Errorf("fetch: body %#v, want %q", got["body"], tt.wantBody)
			}
			if got["to"] != tt.toA || got["from"] != testFrom {
				t.Errorf("fetch: to %v from %v, want %s from %s", got["to"], got["from"], tt.toA, testFrom)
			}

			// The To filter matches the real number, server side.
			pages := tb.listAll(t, tb.messagesPath()+"?To=%2B14155550100")
			if len(pages) != 1 || len(pages[0]) != 1 {
				t.Fatalf("list To=%s: %v", a, pages)
			}
			m := pages[0][0]
			if m["sid"] != sid || m["body"] != tt.wantBody || m["to"] != tt.toA || m["from"] != testFrom {
				t.Errorf("list To=%s: %v", a, m)
			}
			// Paging over redacted pages still reaches every message once.
			seen := map[any]bool{}
			for _, p := range tb.listAll(t, tb.messagesPath()+"?To=%2B14155550111&PageSize=1") {
				for _, m := range p {
					if seen[m["sid"]] {
						t.Errorf("message %v listed twice", m["sid"])
					}
					seen[m["sid"]] = true
					if m["messaging_service_sid"] != testMG {
						t.Errorf("messaging_service_sid %v", m["messaging_service_sid"])
					}
					if tt.redact.Body && m["body"] != "" {
						t.Errorf("body %v not redacted", m["body"])
					}
				}
			}
			if len(seen) != 3 {
				t.Errorf("paged list of %s: %d messages, want 3", b, len(seen))
			}
			if n := tb.count(t, "From=%2B15005550006"); n != 1 {
				t.Errorf("From filter: %d messages, want 1", n)
			}

			// The ground truth is never redacted.
			if all := tb.sim.MessagesTo(a); len(all) != 1 || all[0].Body != "hello" || all[0].To != a {
				t.Errorf("MessagesTo(%s) = %+v", a, all)
			}
		})
	}
}

func TestRedactNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+14155550100":  "+1415555XXXX",
		"+447700900123": "+44770090XXXX",
		"+123":          "+XXX",
		"":              "",
	} {
		if got := redactNumber(in); got != want {
			t.Errorf("redactNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Redaction{
		"body":        {Body: true},
		"phone":       {Phone: true},
		"body,phone":  {Body: true, Phone: true},
		"Phone, Body": {Body: true, Phone: true},
		"none":        {},
	} {
		var o Options
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		o.RegisterFlags(fs)
		if err := fs.Parse([]string{"--redact", in}); err != nil {
			t.Errorf("--redact %q: %v", in, err)
			continue
		}
		if o.Redact != want {
			t.Errorf("--redact %q = %+v, want %+v", in, o.Redact, want)
		}
		var back Redaction
		if err := back.Set(o.Redact.String()); err != nil || back != want {
			t.Errorf("String %q does not parse back: %+v, %v", o.Redact.String(), back, err)
		}
	}
	var r Redaction
	if err := r.Set("bodies"); err == nil {
		t.Error(`--redact "bodies" accepted`)
	}
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	new(Options).RegisterFlags(fs)
	if d := fs.Lookup("redact").DefValue; d != "none" {
		t.Errorf("--redact default %q, want none", d)
	}
}
