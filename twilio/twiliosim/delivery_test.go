package twiliosim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsblast/smsblast/twilio"
)

// callbackSink is an httptest server recording status callbacks, checking
// each signature, and failing the first attempt of every callback when asked.
type callbackSink struct {
	t         *testing.T
	srv       *httptest.Server
	token     string
	failFirst bool

	mu       sync.Mutex
	seen     map[string]int // sid+status → attempts
	received []url.Values   // accepted callbacks, in arrival order
	badSigs  int
}

func newCallbackSink(t *testing.T, token string, failFirst bool) *callbackSink {
	c := &callbackSink{t: t, token: token, failFirst: failFirst, seen: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

// url is the callback URL, with a query string so signing the exact URL matters.
func (c *callbackSink) url() string { return c.srv.URL + "/status?campaign=7&tag=a%20b" }

func (c *callbackSink) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	full := "http://" + r.Host + r.URL.RequestURI()
	ok := twilio.ValidateSignature(c.token, full, r.PostForm, r.Header.Get("X-Twilio-Signature"))
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		c.badSigs++
		w.WriteHeader(403)
		return
	}
	key := r.PostForm.Get("MessageSid") + "/" + r.PostForm.Get("MessageStatus")
	c.seen[key]++
	if c.failFirst && c.seen[key] == 1 {
		w.WriteHeader(500)
		return
	}
	c.received = append(c.received, r.PostForm)
	w.WriteHeader(204)
}

// wait waits until n callbacks were accepted and returns them.
func (c *callbackSink) wait(n int) []url.Values {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := slices.Clone(c.received)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d callbacks arrived, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallbacksSignedRetriedAndComplete(t *testing.T) {
	t.Parallel()
	const ok, und, fail = "+14155550100", "+14155550101", "+14155550102"
	tb := setup(t, Options{
		DeliverAfter:    20 * time.Millisecond,
		Fail:            map[string]int{und: 30006, fail: 30034},
		CallbackBackoff: 5 * time.Millisecond,
	})
	sink := newCallbackSink(t, tb.sim.AuthToken(), true)
	sids := map[string]string{}
	for _, to := range []string{ok, und, fail} {
		sids[to] = tb.mustCreate(t, form("To", to, "From", testFrom, "Body", "x", "StatusCallback", sink.url()))
	}
	svc := tb.mustCreate(t, form("To", ok, "MessagingServiceSid", testMG, "Body", "y", "StatusCallback", sink.url()))

	got := sink.wait(7)
	time.Sleep(50 * time.Millisecond) // nothing more may arrive
	got = sink.wait(7)
	if len(got) != 7 {
		t.Errorf("%d callbacks, want 7 (sent+delivered, sent+undelivered, failed, sent+delivered)", len(got))
	}
	bySID := map[string][]url.Values{}
	for _, p := range got {
		bySID[p.Get("MessageSid")] = append(bySID[p.Get("MessageSid")], p)
	}
	check := func(sid string, wantStatuses []string, code string) {
		t.Helper()
		var statuses []string
		for _, p := range bySID[sid] {
			st := p.Get("MessageStatus")
			statuses = append(statuses, st)
			if p.Get("SmsSid") != sid || p.Get("SmsStatus") != st || p.Get("AccountSid") != testSID || p.Get("ApiVersion") != "2010-04-01" || p.Get("To") == "" || p.Get("From") == "" {
				t.Errorf("%s %s: params %v", sid, st, p)
			}
			final := st == "undelivered" || st == "failed"
			if final && p.Get("ErrorCode") != code || !final && p.Has("ErrorCode") {
				t.Errorf("%s %s: ErrorCode %q", sid, st, p.Get("ErrorCode"))
			}
			dlr := st == "delivered" || st == "undelivered"
			if d := p.Get("RawDlrDoneDate"); dlr != (d != "") || dlr && len(d) != 10 {
				t.Errorf("%s %s: RawDlrDoneDate %q", sid, st, d)
			}
		}
		slices.Sort(statuses)
		if !slices.Equal(statuses, wantStatuses) {
			t.Errorf("%s: callbacks %v, want %v", sid, statuses, wantStatuses)
		}
	}
	check(sids[ok], []string{"delivered", "sent"}, "")
	check(sids[und], []string{"sent", "undelivered"}, "30006")
	check(sids[fail], []string{"failed"}, "30034")
	check(svc, []string{"delivered", "sent"}, "")
	if p := bySID[svc][0]; p.Get("MessagingServiceSid") != testMG || p.Get("From") != serviceNumber {
		t.Errorf("service callback: %v", p)
	}
	sink.mu.Lock()
	bad := sink.badSigs
	sink.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d callbacks with a bad signature", bad)
	}
	if st := tb.sim.Stats(); st.CallbacksSent != 7 || st.CallbacksFailed != 7 || st.CallbacksDropped != 0 {
		t.Errorf("Stats = %+v, want 7 sent after 7 failed first attempts", st)
	}

	// The resource agrees with the callbacks.
	if m := tb.fetch(t, sids[fail]); m["status"] != "failed" || m["error_code"] != float64(30034) || m["date_sent"] != nil {
		t.Errorf("failed message: %v", m)
	}
	if m := tb.fetch(t, sids[und]); m["status"] != "undelivered" || m["error_code"] != float64(30006) || m["date_sent"] == nil {
		t.Errorf("undelivered message: %v", m)
	}
}

func TestCallbacksGiveUpAfterRetries(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	attempts := 0
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		attempts++
		mu.Unlock()
		w.WriteHeader(503)
	}))
	t.Cleanup(dead.Close)
	tb := setup(t, Options{CallbackRetries: 2, CallbackBackoff: time.Millisecond})
	sid := tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "x", "StatusCallback", dead.URL))
	deadline := time.Now().Add(5 * time.Second)
	for tb.sim.Stats().CallbacksDropped < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v", tb.sim.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 6 {
		t.Errorf("%d attempts, want 2 callbacks × (1 + 2 retries)", attempts)
	}
	if m := tb.fetch(t, sid); m["status"] != "delivered" {
		t.Errorf("status %v: delivery must not depend on callbacks", m["status"])
	}
}

func TestCallbacksReordered(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{Reorder: 0.5, Seed: 3})
	sink := newCallbackSink(t, tb.sim.AuthToken(), false)
	const n = 30
	for i := range n {
		tb.mustCreate(t, form("To", fmt.Sprintf("+1415555%04d", i), "From", testFrom, "Body", "x", "StatusCallback", sink.url()))
	}
	got := sink.wait(2 * n)
	firstSeen := map[string]string{}
	for _, p := range got {
		sid := p.Get("MessageSid")
		if _, ok := firstSeen[sid]; !ok {
			firstSeen[sid] = p.Get("MessageStatus")
		}
	}
	overtaken := 0
	for _, st := range firstSeen {
		if st == "delivered" {
			overtaken++
		}
	}
	if len(firstSeen) != n || overtaken == 0 {
		t.Errorf("%d messages called back, %d with delivered before sent: want all, and some reordered", len(firstSeen), overtaken)
	}
}

func TestNoCallbacksStillDelivers(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{NoCallbacks: true})
	sink := newCallbackSink(t, tb.sim.AuthToken(), false)
	sid := tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "x", "StatusCallback", sink.url()))
	tb.waitStatus(t, sid, "delivered")
	time.Sleep(30 * time.Millisecond)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.received) != 0 || len(sink.seen) != 0 {
		t.Errorf("callbacks arrived with NoCallbacks: %v", sink.received)
	}
}

func TestDeliveryProgression(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC))
	tb := setup(t, Options{Now: clock.Now, DeliverAfter: 10 * time.Second})
	sid := tb.mustCreate(t, form("To", "+14155550100", "MessagingServiceSid", testMG, "Body", "x"))
	if m := tb.fetch(t, sid); m["status"] != "accepted" || m["date_sent"] != nil || m["from"] != nil {
		t.Fatalf("at creation: %v", m)
	}
	clock.Add(5 * time.Second)
	m := tb.waitStatus(t, sid, "sent")
	if m["date_sent"] != "Sun, 10 Mar 2024 12:00:05 +0000" || m["from"] != serviceNumber || m["price"] != "-0.00790" {
		t.Errorf("sent: %v", m)
	}
	clock.Add(5 * time.Second)
	m = tb.waitStatus(t, sid, "delivered")
	if m["date_updated"] != "Sun, 10 Mar 2024 12:00:10 +0000" || m["error_code"] != nil {
		t.Errorf("delivered: %v", m)
	}
}

// outcomeTrace is what a sequential client observes from a seeded run.
func outcomeTrace(t *testing.T, seed int64) []string {
	t.Helper()
	tb := setup(t, Options{Seed: seed, Fail5xx: 0.2, Fail429: 0.2, LoseResponse: 0.1, Undelivered: 0.4})
	var trace []string
	for i := range 40 {
		req, _ := http.NewRequest("POST", tb.srv.URL+tb.messagesPath(),
			stringsReader(form("To", fmt.Sprintf("+1415555%04d", i), "From", testFrom, "Body", "x").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testSID, testToken)
		resp, err := tb.client.Do(req)
		if err != nil {
			trace = append(trace, "lost")
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		trace = append(trace, fmt.Sprint(resp.StatusCode))
	}
	waitAll(t, tb.sim)
	// Sids are unique per server, not seeded (see sidMaker): not in the trace.
	for _, m := range tb.sim.Messages() {
		trace = append(trace, m.To+" "+m.Status+" "+fmt.Sprint(m.ErrorCode))
	}
	return trace
}

func TestSeedReplays(t *testing.T) {
	t.Parallel()
	a, b, c := outcomeTrace(t, 42), outcomeTrace(t, 42), outcomeTrace(t, 43)
	if sa, sb := New(Options{Seed: 1}), New(Options{Seed: 1}); sa.smSIDs.make("SM", 1) == sb.smSIDs.make("SM", 1) {
		t.Error("two servers with one seed issue the same sid")
	}
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different runs:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds, same run")
	}
	for _, want := range []string{"201", "429", "lost"} {
		if !slices.Contains(a, want) {
			t.Errorf("trace lacks %s: %v", want, a[:40])
		}
	}
}
