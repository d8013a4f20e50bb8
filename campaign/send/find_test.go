package send

import (
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

const (
	findPhone   = "+14155550100"
	findFrom    = "+15005550006"
	findService = "MG0123456789abcdef0123456789abcdef"
	findBody    = "Hi Ada, code 7"
)

var findClaim = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// listOf is a Messages list as Twilio would page it: newest first.
func listOf(msgs ...*twilio.Message) iter.Seq2[*twilio.Message, error] {
	return func(yield func(*twilio.Message, error) bool) {
		for _, m := range msgs {
			if !yield(m, nil) {
				return
			}
		}
	}
}

// msg is a listed message: to the recipient, from the campaign's number,
// with the body looked for, created a second after the claim, unless
// changed.
func msg(sid string, change ...func(*twilio.Message)) *twilio.Message {
	m := &twilio.Message{SID: sid, To: findPhone, From: findFrom, Body: findBody, Status: "delivered",
		DateCreated: findClaim.Add(time.Second)}
	for _, c := range change {
		c(m)
	}
	return m
}

func body(b string) func(*twilio.Message) { return func(m *twilio.Message) { m.Body = b } }
func to(p string) func(*twilio.Message)   { return func(m *twilio.Message) { m.To = p } }
func created(d time.Duration) func(*twilio.Message) {
	return func(m *twilio.Message) { m.DateCreated = findClaim.Add(d) }
}
func service(sid string) func(*twilio.Message) {
	return func(m *twilio.Message) { m.From, m.MessagingServiceSID = "+15017122661", sid }
}

// find's decision table: what reconciliation concludes from a list.
func TestFindDecides(t *testing.T) {
	t.Parallel()
	byNumber := target{phone: findPhone, from: findFrom, body: findBody, notBefore: findClaim.Add(-time.Minute)}
	byService := target{phone: findPhone, service: findService, body: findBody, notBefore: findClaim.Add(-time.Minute)}
	tests := []struct {
		name   string
		target target
		list   []*twilio.Message
		match  string // sid of the exact match, or ""
		doubt  string // sid of the doubtful candidate, or ""
		doubts int
	}{
		{"empty list: not found", byNumber, nil, "", "", 0},
		{"exact match", byNumber, []*twilio.Message{msg("SM1")}, "SM1", "", 0},
		{"another body is another message", byNumber, []*twilio.Message{msg("SM1", body("Hi Ada, code 8"))}, "", "", 0},
		{"redacted body: doubt", byNumber, []*twilio.Message{msg("SM1", body(""))}, "", "SM1", 1},
		{"redacted body and number: doubt", byNumber, []*twilio.Message{msg("SM1", body(""), to("+1415555XXXX"))}, "", "SM1", 1},
		{"redacted number, same body: found", byNumber, []*twilio.Message{msg("SM1", to("+1415555XXXX"))}, "SM1", "", 0},
		{"redacted number, lower case x", byNumber, []*twilio.Message{msg("SM1", to("+1415555xxxx"))}, "SM1", "", 0},
		{"redacted number that is someone else's", byNumber, []*twilio.Message{msg("SM1", body(""), to("+1415556XXXX"))}, "", "", 0},
		{"another recipient", byNumber, []*twilio.Message{msg("SM1", body(""), to("+14155550101"))}, "", "", 0},
		{"exact match wins over a newer doubt", byNumber,
			[]*twilio.Message{msg("SM2", body(""), created(3*time.Second)), msg("SM1")}, "SM1", "", 0},
		{"exact match wins over an older doubt", byNumber,
			[]*twilio.Message{msg("SM2"), msg("SM1", body(""), created(-time.Second))}, "SM2", "", 0},
		{"several doubts: the newest, counted", byNumber,
			[]*twilio.Message{msg("SM3", body(""), created(5*time.Second)), msg("SM2", body("other"), created(4*time.Second)),
				msg("SM1", body(""), created(2*time.Second))}, "", "SM3", 2},
		{"before the window: ignored, and the walk stops", byNumber,
			[]*twilio.Message{msg("SM2", body(""), created(-2*time.Minute)), msg("SM1", created(-3*time.Minute))}, "", "", 0},
		{"inside the clock skew allowance", byNumber, []*twilio.Message{msg("SM1", body(""), created(-30*time.Second))}, "", "SM1", 1},
		{"no creation date: still looked at", byNumber, []*twilio.Message{msg("SM1", body(""), func(m *twilio.Message) { m.DateCreated = time.Time{} })}, "", "SM1", 1},
		{"service: exact match", byService, []*twilio.Message{msg("SM1", service(findService))}, "SM1", "", 0},
		{"service: redacted body", byService, []*twilio.Message{msg("SM1", service(findService), body(""))}, "", "SM1", 1},
		{"service: another service's message", byService,
			[]*twilio.Message{msg("SM1", service("MGffffffffffffffffffffffffffffffff"), body(""))}, "", "", 0},
		{"service: a plain number's message", byService, []*twilio.Message{msg("SM1", body(""))}, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := tt.target.scan(listOf(tt.list...))
			if err != nil {
				t.Fatal(err)
			}
			if got := sidOf(v.match); got != tt.match {
				t.Errorf("match %q, want %q", got, tt.match)
			}
			if got := sidOf(v.doubt); got != tt.doubt || v.doubts != tt.doubts {
				t.Errorf("doubt %q (%d), want %q (%d)", got, v.doubts, tt.doubt, tt.doubts)
			}
		})
	}
}

// A list that fails part way is an error, never a verdict: "not found" on a
// half-read list could re-send a message that was on the next page.
func TestFindListError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	list := func(yield func(*twilio.Message, error) bool) {
		if yield(msg("SM1", body("")), nil) {
			yield(nil, boom)
		}
	}
	tg := target{phone: findPhone, from: findFrom, body: findBody, notBefore: findClaim}
	v, err := tg.scan(list)
	if !errors.Is(err, boom) || v.doubt != nil || v.match != nil {
		t.Errorf("scan = %+v, %v; want only the error", v, err)
	}
}

func TestSamePhone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		listed string
		want   bool
	}{
		{findPhone, true},
		{"+1415555XXXX", true},
		{"+1415555XXX0", false},
		{"+141555XXXX", false},
		{"+1415556XXXX", false},
		{"XXXX", false},
		{"", false},
	} {
		if got := samePhone(tt.listed, findPhone); got != tt.want {
			t.Errorf("samePhone(%q, %q) = %v, want %v", tt.listed, findPhone, got, tt.want)
		}
	}
}

func TestReviewReason(t *testing.T) {
	t.Parallel()
	got := reviewReason(msg("SM1", body("")), 2)
	for _, want := range []string{"SM1", "2024-05-01T12:00:01Z", "delivered", "redact", "2 such messages", "smsblast resolve", "--sent", "--not-sent"} {
		if !strings.Contains(got, want) {
			t.Errorf("reason lacks %q: %s", want, got)
		}
	}
}

func sidOf(m *twilio.Message) string {
	if m == nil {
		return ""
	}
	return m.SID
}
