package twiliosim

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
	testKey   = "SK0123456789abcdef0123456789abcdef"
	testKeyPw = "keysecret0123456789"
	testMG    = "MG0123456789abcdef0123456789abcdef"
	testFrom  = "+15005550006"
)

// testBundle is a simulator behind a loopback HTTP server.
type testBundle struct {
	sim    *Server
	srv    *httptest.Server
	client *http.Client
}

func setup(t *testing.T, opts Options) *testBundle {
	t.Helper()
	if opts.AccountSID == "" {
		opts.AccountSID, opts.AuthToken = testSID, testToken
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return &testBundle{sim: sim, srv: srv, client: srv.Client()}
}

func (tb *testBundle) messagesPath() string {
	return "/2010-04-01/Accounts/" + tb.sim.AccountSID() + "/Messages.json"
}

// request sends a request with the account's credentials and decodes the
// JSON answer.
func (tb *testBundle) request(t *testing.T, method, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	return tb.requestAs(t, method, path, form, tb.sim.AccountSID(), tb.sim.AuthToken())
}

func (tb *testBundle) requestAs(t *testing.T, method, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, tb.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := tb.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode %s %s answer: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func (tb *testBundle) create(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	return tb.request(t, http.MethodPost, tb.messagesPath(), form)
}

// mustCreate creates a message and returns its sid.
func (tb *testBundle) mustCreate(t *testing.T, form url.Values) string {
	t.Helper()
	status, m := tb.create(t, form)
	if status != http.StatusCreated {
		t.Fatalf("create %v: status %d, %v", form, status, m)
	}
	return m["sid"].(string)
}

func (tb *testBundle) fetch(t *testing.T, sid string) map[string]any {
	t.Helper()
	status, m := tb.request(t, http.MethodGet, "/2010-04-01/Accounts/"+tb.sim.AccountSID()+"/Messages/"+sid+".json", nil)
	if status != http.StatusOK {
		t.Fatalf("fetch %s: status %d, %v", sid, status, m)
	}
	return m
}

// waitStatus polls fetch until the message has status want.
func (tb *testBundle) waitStatus(t *testing.T, sid, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := tb.fetch(t, sid)
		if m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s: status %v, want %s", sid, m["status"], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// assertError checks an error answer: status, code and exactly Twilio's four fields.
func assertError(t *testing.T, status int, body map[string]any, wantStatus, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (%v)", status, wantStatus, body)
	}
	if got, _ := body["code"].(float64); int(got) != wantCode {
		t.Errorf("code = %v, want %d (%v)", body["code"], wantCode, body)
	}
	if len(body) != 4 {
		t.Errorf("error body has %d fields, want code/message/more_info/status: %v", len(body), body)
	}
	if got, _ := body["status"].(float64); int(got) != wantStatus {
		t.Errorf("body status = %v, want %d", body["status"], wantStatus)
	}
	if mi, _ := body["more_info"].(string); !strings.HasPrefix(mi, "https://www.twilio.com/docs/errors/") {
		t.Errorf("more_info = %q", mi)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("empty message")
	}
}

var smSID = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func TestCreateReturnsFullMessage(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{DeliverAfter: time.Hour})
	status, m := tb.create(t, form("To", "+14155550100", "From", testFrom, "Body", "hello {world} €", "StatusCallback", "http://127.0.0.1:1/cb"))
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	sid, _ := m["sid"].(string)
	if !smSID.MatchString(sid) {
		t.Errorf("sid = %q", sid)
	}
	want := map[string]any{
		"account_sid":           testSID,
		"api_version":           "2010-04-01",
		"body":                  "hello {world} €",
		"date_sent":             nil,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  testFrom,
		"to":                    "+14155550100",
		"messaging_service_sid": nil,
		"num_media":             "0",
		"num_segments":          "1",
		"price":                 nil,
		"price_unit":            "USD",
		"status":                "queued",
		"uri":                   "/2010-04-01/Accounts/" + testSID + "/Messages/" + sid + ".json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	for _, k := range []string{"date_created", "date_updated"} {
		s, _ := m[k].(string)
		if _, err := time.Parse(time.RFC1123Z, s); err != nil {
			t.Errorf("%s = %q: not RFC 2822: %v", k, s, err)
		}
	}
	sub, _ := m["subresource_uris"].(map[string]any)
	if media, _ := sub["media"].(string); media != "/2010-04-01/Accounts/"+testSID+"/Messages/"+sid+"/Media.json" {
		t.Errorf("subresource_uris = %v", m["subresource_uris"])
	}
	if len(m) != 20 {
		t.Errorf("message has %d fields, want 20: %v", len(m), m)
	}

	// Through a Messaging Service: accepted, and a multi-segment body.
	long := strings.Repeat("a", 161)
	status, m = tb.create(t, form("To", "+14155550100", "MessagingServiceSid", testMG, "Body", long))
	if status != http.StatusCreated || m["status"] != "accepted" || m["messaging_service_sid"] != testMG || m["from"] != nil || m["num_segments"] != "2" {
		t.Errorf("service create: %d %v", status, m)
	}
	if got := len(tb.sim.Messages()); got != 2 {
		t.Errorf("Messages() has %d, want 2", got)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{DeliverAfter: time.Hour})
	to, body := "+14155550100", "hi"
	tests := []struct {
		name string
		form url.Values
		code int
	}{
		{"missing To", form("From", testFrom, "Body", body), 21604},
		{"missing From and service", form("To", to, "Body", body), 21603},
		{"blank Body", form("To", to, "From", testFrom, "Body", " "), 21602},
		{"no Body nor media", form("To", to, "From", testFrom), 21619},
		{"body over 1600", form("To", to, "From", testFrom, "Body", strings.Repeat("x", 1601)), 21617},
		{"body over 1600 UTF-16 units", form("To", to, "From", testFrom, "Body", strings.Repeat("😀", 801)), 21617},
		{"To not E.164", form("To", "4155550100", "From", testFrom, "Body", body), 21211},
		{"To with dashes", form("To", "+1-415-555-0100", "From", testFrom, "Body", body), 21211},
		{"To NANP too short", form("To", "+1415555010", "From", testFrom, "Body", body), 21211},
		{"To too long", form("To", "+4412345678901234", "From", testFrom, "Body", body), 21211},
		{"From garbage", form("To", to, "From", "not a number!", "Body", body), 21212},
		{"To equals From", form("To", testFrom, "From", testFrom, "Body", body), 21266},
		{"ValidityPeriod 0", form("To", to, "From", testFrom, "Body", body, "ValidityPeriod", "0"), 21624},
		{"ValidityPeriod 36001", form("To", to, "From", testFrom, "Body", body, "ValidityPeriod", "36001"), 21624},
		{"ValidityPeriod text", form("To", to, "From", testFrom, "Body", body, "ValidityPeriod", "soon"), 21624},
		{"bad service sid", form("To", to, "MessagingServiceSid", "MG123", "Body", body), 21705},
		{"bad StatusCallback", form("To", to, "From", testFrom, "Body", body, "StatusCallback", "ftp://x/y"), 21609},
		{"schedule without service", form("To", to, "From", testFrom, "Body", body, "ScheduleType", "fixed", "SendAt", "2099-01-01T00:00:00Z"), 35118},
		{"schedule without SendAt", form("To", to, "MessagingServiceSid", testMG, "Body", body, "ScheduleType", "fixed"), 35111},
		{"schedule too soon", form("To", to, "MessagingServiceSid", testMG, "Body", body, "ScheduleType", "fixed", "SendAt", time.Now().UTC().Format(time.RFC3339)), 35114},
		{"magic To 01", form("To", "+15005550001", "From", testFrom, "Body", body), 21211},
		{"magic To 02", form("To", "+15005550002", "From", testFrom, "Body", body), 21612},
		{"magic To 03", form("To", "+15005550003", "From", testFrom, "Body", body), 21408},
		{"magic To 04", form("To", "+15005550004", "From", testFrom, "Body", body), 21610},
		{"magic To 09", form("To", "+15005550009", "From", testFrom, "Body", body), 21614},
		{"magic From 01", form("To", to, "From", "+15005550001", "Body", body), 21212},
		{"magic From 07", form("To", to, "From", "+15005550007", "Body", body), 21606},
		{"magic From 08", form("To", to, "From", "+15005550008", "Body", body), 21611},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := tb.create(t, tt.form)
			assertError(t, status, m, 400, tt.code)
		})
	}
	if n := len(tb.sim.Messages()); n != 0 {
		t.Errorf("rejected creates stored %d messages", n)
	}
	if got, want := tb.sim.Stats().Rejected, int64(len(tests)); got != want {
		t.Errorf("Stats().Rejected = %d, want %d", got, want)
	}

	// The accepted edges: exactly 1600 characters, media without a body, a
	// short code, an alphanumeric sender, an MG sid in From, a schedule.
	ok := []url.Values{
		form("To", to, "From", testFrom, "Body", strings.Repeat("x", 1600)),
		form("To", to, "From", testFrom, "MediaUrl", "https://example.com/a.png"),
		form("To", to, "From", "12345", "Body", body),
		form("To", to, "From", "Acme Inc", "Body", body),
		form("To", to, "From", testMG, "Body", body),
		form("To", "+447700900123", "From", testFrom, "Body", body, "ValidityPeriod", "36000"),
		form("To", to, "MessagingServiceSid", testMG, "Body", body, "ScheduleType", "fixed", "SendAt", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)),
	}
	for _, f := range ok {
		if status, m := tb.create(t, f); status != http.StatusCreated {
			t.Errorf("create %v: %d %v", f, status, m)
		}
	}
	msgs := tb.sim.Messages()
	if len(msgs) != len(ok) {
		t.Fatalf("stored %d, want %d", len(msgs), len(ok))
	}
	if m := msgs[4]; m.MessagingServiceSID != testMG || m.From != "" {
		t.Errorf("MG in From: %+v", m)
	}
	if m := msgs[6]; m.Status != "scheduled" {
		t.Errorf("scheduled message status %q", m.Status)
	}
}

func TestAuthAndRouting(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{APIKeys: map[string]string{testKey: testKeyPw}, DeliverAfter: time.Hour})
	sid := tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "x"))
	other := "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json"
	msgPath := "/2010-04-01/Accounts/" + testSID + "/Messages/" + sid + ".json"
	tests := []struct {
		name, method, path, user, pass string
		status, code                   int
	}{
		{"account token", "GET", tb.messagesPath(), testSID, testToken, 200, 0},
		{"api key", "GET", tb.messagesPath(), testKey, testKeyPw, 200, 0},
		{"api key fetch", "GET", msgPath, testKey, testKeyPw, 200, 0},
		{"wrong token", "GET", tb.messagesPath(), testSID, "nope", 401, 20003},
		{"wrong key secret", "GET", tb.messagesPath(), testKey, testToken, 401, 20003},
		{"unknown key", "GET", tb.messagesPath(), "SKffffffffffffffffffffffffffffffff", testKeyPw, 401, 20003},
		{"no credentials", "GET", tb.messagesPath(), "", "", 401, 20003},
		{"other account's path", "GET", other, testSID, testToken, 404, 20404},
		{"unknown sid", "GET", "/2010-04-01/Accounts/" + testSID + "/Messages/SM00000000000000000000000000000000.json", testSID, testToken, 404, 20404},
		{"unknown resource", "GET", "/2010-04-01/Accounts/" + testSID + "/Calls.json", testSID, testToken, 404, 20404},
		{"delete collection", "DELETE", tb.messagesPath(), testSID, testToken, 405, 20004},
		{"update message", "POST", msgPath, testSID, testToken, 405, 20004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tb.requestAs(t, tt.method, tt.path, nil, tt.user, tt.pass)
			if tt.code == 0 {
				if status != tt.status {
					t.Errorf("status %d, want %d: %v", status, tt.status, body)
				}
				return
			}
			assertError(t, status, body, tt.status, tt.code)
		})
	}
	// Creating with an API key works too, in the account of the path.
	status, m := tb.requestAs(t, "POST", tb.messagesPath(), form("To", "+14155550101", "From", testFrom, "Body", "k"), testKey, testKeyPw)
	if status != 201 || m["account_sid"] != testSID {
		t.Errorf("create with API key: %d %v", status, m)
	}
	if got := tb.sim.Stats().Unauthorized; got != 4 {
		t.Errorf("Stats().Unauthorized = %d, want 4", got)
	}
}

func TestRandomCredentials(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	if !regexp.MustCompile(`^AC[0-9a-f]{32}$`).MatchString(s.AccountSID()) {
		t.Errorf("AccountSID %q", s.AccountSID())
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.AuthToken()) {
		t.Errorf("AuthToken is not 32 hex digits")
	}
	s2 := New(Options{})
	defer s2.Close()
	if s2.AccountSID() == s.AccountSID() || s2.AuthToken() == s.AuthToken() {
		t.Errorf("random credentials repeat")
	}
}

func TestMaxConcurrency(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{MaxConcurrency: 2, Latency: 300 * time.Millisecond})
	const n = 8
	statuses := make([]int, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, m := tb.create(t, form("To", "+14155550100", "From", testFrom, "Body", "x"))
			statuses[i] = status
			c, _ := m["code"].(float64)
			codes[i] = int(c)
		})
	}
	wg.Wait()
	created, throttled := 0, 0
	for i := range n {
		switch {
		case statuses[i] == 201:
			created++
		case statuses[i] == 429 && codes[i] == 20429:
			throttled++
		default:
			t.Errorf("request %d: status %d code %d", i, statuses[i], codes[i])
		}
	}
	if created > 2 || throttled < n-2 {
		t.Errorf("created %d, throttled %d: want at most 2 through a limit of 2", created, throttled)
	}
	if got := len(tb.sim.Messages()); got != created {
		t.Errorf("stored %d messages, answered 201 %d times", got, created)
	}
	if st := tb.sim.Stats(); st.Throttled != int64(throttled) || st.InFlightPeak < 2 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestInjectedFailuresCreateNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  Options
		codes map[int]int // code → HTTP status
	}{
		{"5xx", Options{Fail5xx: 1}, map[int]int{20500: 500, 20503: 503}},
		{"429", Options{Fail429: 1}, map[int]int{20429: 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, tt.opts)
			for range 20 {
				status, m := tb.create(t, form("To", "+14155550100", "From", testFrom, "Body", "x"))
				c, _ := m["code"].(float64)
				want, ok := tt.codes[int(c)]
				if !ok {
					t.Fatalf("unexpected answer %d %v", status, m)
				}
				assertError(t, status, m, want, int(c))
			}
			if got := len(tb.sim.Messages()); got != 0 {
				t.Errorf("%d messages created by failed requests", got)
			}
			// Lists and fetches are not subject to create faults.
			if status, _ := tb.request(t, "GET", tb.messagesPath(), nil); status != 200 {
				t.Errorf("list answered %d", status)
			}
		})
	}
}

func TestLoseResponseLeavesMessageBehind(t *testing.T) {
	t.Parallel()
	for _, mode := range []LoseMode{LoseClose, LoseStall} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			tb := setup(t, Options{LoseResponse: 1, LoseMode: mode})
			client := &http.Client{Timeout: 300 * time.Millisecond}
			req, _ := http.NewRequest("POST", tb.srv.URL+tb.messagesPath(),
				strings.NewReader(form("To", "+14155550100", "From", testFrom, "Body", "lost").Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(testSID, testToken)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got a response (%d), want a client-side error", resp.StatusCode)
			}
			msgs := tb.sim.MessagesTo("+14155550100")
			if len(msgs) != 1 || msgs[0].Body != "lost" {
				t.Fatalf("MessagesTo = %+v, want the one created message", msgs)
			}
			// And the list, the only thing a client can ask, shows it.
			status, page := tb.request(t, "GET", tb.messagesPath()+"?To=%2B14155550100", nil)
			if list, _ := page["messages"].([]any); status != 200 || len(list) != 1 {
				t.Errorf("list: %d %v", status, page)
			}
			if st := tb.sim.Stats(); st.LostResponses != 1 || st.Created != 1 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func TestSenderQueueOverflow(t *testing.T) {
	t.Parallel()
	tb := setup(t, Options{SenderMPS: 1, QueueSeconds: 3, DeliverAfter: time.Millisecond})
	one := func(from, key string) (int, map[string]any) {
		return tb.create(t, form("To", "+14155550100", key, from, "Body", "x"))
	}
	for i := range 3 {
		if status, m := one(testFrom, "From"); status != 201 {
			t.Fatalf("create %d: %d %v", i, status, m)
		}
	}
	status, m := one(testFrom, "From")
	assertError(t, status, m, 400, 21611)
	// Queues are per sender.
	if status, m := one("+14155550199", "From"); status != 201 {
		t.Errorf("another sender: %d %v", status, m)
	}
	// A two-segment message does not fit where one segment would not.
	status, m = tb.create(t, form("To", "+14155550100", "From", "+14155550199", "Body", strings.Repeat("y", 200)))
	if status != 201 {
		t.Errorf("two segments into a queue with 2 free: %d %v", status, m)
	}
	status, m = tb.create(t, form("To", "+14155550100", "From", "+14155550199", "Body", strings.Repeat("y", 200)))
	assertError(t, status, m, 400, 21611)

	// Behind a Messaging Service the overflow is accepted and fails with 30001.
	var last string
	for range 4 {
		status, m := one(testMG, "MessagingServiceSid")
		if status != 201 {
			t.Fatalf("service create: %d %v", status, m)
		}
		last = m["sid"].(string)
	}
	got := tb.waitStatus(t, last, "failed")
	if got["error_code"] != float64(30001) || got["date_sent"] != nil {
		t.Errorf("overflowed service message: %v", got)
	}
	if n := len(tb.sim.Messages()); n != 3+1+1+4 {
		t.Errorf("stored %d messages", n)
	}
}

func TestValidityPeriodExpiresInQueue(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC))
	tb := setup(t, Options{SenderMPS: 1, Now: clock.Now})
	tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "a"))
	tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "b"))
	// Third in line leaves after 3 s, beyond its 1 s validity.
	sid := tb.mustCreate(t, form("To", "+14155550100", "From", testFrom, "Body", "c", "ValidityPeriod", "1"))
	clock.Add(time.Second)
	m := tb.waitStatus(t, sid, "failed")
	if m["error_code"] != float64(30036) {
		t.Errorf("error_code = %v, want 30036", m["error_code"])
	}
}

func TestRegisterFlags(t *testing.T) {
	t.Parallel()
	var o Options
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{
		"--account-sid", testSID, "--latency", "50ms", "--jitter", "20ms",
		"--max-concurrency", "100", "--fail-5xx", "0.02", "--fail-429", "0.03", "--lose-response", "0.01",
		"--lose-mode", "stall", "--sender-mps", "1.5", "--deliver-after", "200ms", "--undelivered", "0.03",
		"--seed", "7", "--callbacks=false", "--reorder", "0.1", "--list-lag", "2s", "--callback-retries", "5",
		"--fail", "+14155550100=30006,+14155550101=30034",
	})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TWILIO_AUTH_TOKEN": testToken, "TWILIO_API_KEY": testKey, "TWILIO_API_SECRET": testKeyPw}
	if !o.FromEnv(func(k string) string { return env[k] }) {
		t.Error("FromEnv: the auth token did not come from the environment")
	}
	want := Options{
		AccountSID: testSID, AuthToken: testToken, Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond,
		MaxConcurrency: 100, Fail5xx: 0.02, Fail429: 0.03, LoseResponse: 0.01, LoseMode: LoseStall, SenderMPS: 1.5,
		DeliverAfter: 200 * time.Millisecond, Undelivered: 0.03, Seed: 7, NoCallbacks: true, Reorder: 0.1,
		ListLag: 2 * time.Second, CallbackRetries: 5,
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if o.Fail["+14155550100"] != 30006 || o.Fail["+14155550101"] != 30034 || o.APIKeys[testKey] != testKeyPw {
		t.Errorf("maps: %v %v", o.Fail, o.APIKeys)
	}
	o.Fail, o.APIKeys = nil, nil
	if !reflect.DeepEqual(o, want) {
		t.Errorf("parsed %+v\nwant   %+v", o, want)
	}
	for _, secret := range []string{"auth-token", "api-key"} {
		if fs.Lookup(secret) != nil {
			t.Errorf("--%s is a flag: anyone can read a command line", secret)
		}
	}
	if d := fs.Lookup("callbacks").DefValue; d != "true" {
		t.Errorf("--callbacks default %q, want true", d)
	}
}

// Validate refuses what can only be a slip; the flags refuse a bad --fail
// as they parse it.
func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name string
		o    Options
		flag string
	}{
		{"fraction over 1", Options{Fail5xx: 2}, "fail-5xx"},
		{"negative fraction", Options{Fail429: -1}, "fail-429"},
		{"NaN fraction", Options{LoseResponse: nan}, "lose-response"},
		{"NaN undelivered", Options{Undelivered: nan}, "undelivered"},
		{"reorder over 1", Options{Reorder: 1.5}, "reorder"},
		{"bad account", Options{AccountSID: "bad"}, "account-sid"},
		{"negative latency", Options{Latency: -time.Second}, "latency"},
		{"a day of jitter", Options{Jitter: 24 * time.Hour}, "jitter"},
		{"negative concurrency", Options{MaxConcurrency: -1}, "max-concurrency"},
		{"infinite sender rate", Options{SenderMPS: math.Inf(1)}, "sender-mps"},
		{"tiny sender rate", Options{SenderMPS: 1e-300}, "sender-mps"},
		{"NaN queue", Options{QueueSeconds: nan}, "queue-seconds"},
		{"many retries", Options{CallbackRetries: 1 << 40}, "callback-retries"},
		{"fail to a non-number", Options{Fail: map[string]int{"hello": 30003}}, "fail"},
		{"fail with an API code", Options{Fail: map[string]int{"+14155550100": 21211}}, "fail"},
		{"token with a space", Options{AuthToken: "a b"}, ""},
		{"API key of the wrong form", Options{APIKeys: map[string]string{"XX": "s"}}, ""},
	}
	for _, tt := range tests {
		var oe *OptionError
		if err := tt.o.Validate(); !errors.As(err, &oe) || oe.Flag != tt.flag {
			t.Errorf("%s: Validate() = %v; want an OptionError for --%s", tt.name, err, tt.flag)
		}
	}
	if err := (&Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	var o Options
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.RegisterFlags(fs)
	for _, v := range []string{"+14155550100=21211", "hello=30003", "+14155550100"} {
		if err := fs.Parse([]string{"--fail", v}); err == nil {
			t.Errorf("--fail %s parsed", v)
		}
	}
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
