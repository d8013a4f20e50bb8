package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testToken   = "s3cretAuthTokenValue"
	testKeySID  = "SK0123456789abcdef0123456789abcdef"
	testSecret  = "s3cretAPIKeySecretValue"
	testMsgSID  = "SM0123456789abcdef0123456789abcdef"
)

// cannedMessage is a 201 body shaped like Twilio's, nulls included.
const cannedMessage = `{
  "account_sid": "AC0123456789abcdef0123456789abcdef",
  "api_version": "2010-04-01",
  "body": "Hi Ann, see you at 10:00",
  "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
  "date_sent": null,
  "date_updated": "Thu, 24 Aug 2023 05:01:46 +0000",
  "direction": "outbound-api",
  "error_code": null,
  "error_message": null,
  "from": "+15005550006",
  "messaging_service_sid": null,
  "num_media": "0",
  "num_segments": "1",
  "price": null,
  "price_unit": "USD",
  "sid": "SM0123456789abcdef0123456789abcdef",
  "status": "queued",
  "subresource_uris": {"media": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM0123456789abcdef0123456789abcdef/Media.json"},
  "tags": null,
  "to": "+15558675310",
  "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM0123456789abcdef0123456789abcdef.json"
}`

// newTestClient starts h on a loopback httptest server and returns a Client
// pointed at it; mutate adjusts the Config before New.
func newTestClient(t testing.TB, h http.Handler, mutate func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: srv.URL, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestCreateMessageWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		mutate           func(*Config)
		wantUser, wantPw string
	}{
		{"auth token", nil, testAccount, testToken},
		{"api key", func(c *Config) { c.AuthToken = ""; c.APIKeySID = testKeySID; c.APIKeySecret = testSecret }, testKeySID, testSecret},
		{"api key wins over token", func(c *Config) { c.APIKeySID = testKeySID; c.APIKeySecret = testSecret }, testKeySID, testSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got struct {
				method, path, ctype, accept, user, pw string
				authOK                                bool
				form                                  url.Values
			}
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.method, got.path = r.Method, r.URL.Path
				got.ctype, got.accept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
				got.user, got.pw, got.authOK = r.BasicAuth()
				if err := r.ParseForm(); err != nil {
					t.Errorf("parse form: %v", err)
				}
				got.form = r.PostForm
				writeJSON(w, http.StatusCreated, cannedMessage)
			}), tt.mutate)

			m, err := c.CreateMessage(t.Context(), &CreateMessageParams{
				To:             "+15558675310",
				From:           "+15005550006",
				Body:           "Hi Ann & co: 100% €5 😀 a+b=c",
				StatusCallback: "https://example.com/cb?c=7&x=y",
				ValidityPeriod: 600,
				SmartEncoded:   true,
			})
			if err != nil {
				t.Fatalf("CreateMessage: %v", err)
			}
			if got.method != "POST" || got.path != "/2010-04-01/Accounts/"+testAccount+"/Messages.json" {
				t.Errorf("request = %s %s", got.method, got.path)
			}
			if got.ctype != "application/x-www-form-urlencoded" || got.accept != "application/json" {
				t.Errorf("Content-Type %q, Accept %q", got.ctype, got.accept)
			}
			if !got.authOK || got.user != tt.wantUser || got.pw != tt.wantPw {
				t.Errorf("basic auth = %q:%q (ok %v), want %q:%q", got.user, got.pw, got.authOK, tt.wantUser, tt.wantPw)
			}
			wantForm := url.Values{
				"To":             {"+15558675310"},
				"From":           {"+15005550006"},
				"Body":           {"Hi Ann & co: 100% €5 😀 a+b=c"},
				"StatusCallback": {"https://example.com/cb?c=7&x=y"},
				"ValidityPeriod": {"600"},
				"SmartEncoded":   {"true"},
			}
			if got.form.Encode() != wantForm.Encode() {
				t.Errorf("form = %v\nwant  %v", got.form, wantForm)
			}
			if m.SID != testMsgSID || m.Status != "queued" || m.NumSegments != 1 {
				t.Errorf("message = %+v", m)
			}
		})
	}
}

func TestCreateMessageOmitsZeroFields(t *testing.T) {
	t.Parallel()
	var form url.Values
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form = r.PostForm
		writeJSON(w, http.StatusCreated, cannedMessage)
	}), nil)
	_, err := c.CreateMessage(t.Context(), &CreateMessageParams{
		To: "+15558675310", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef", Body: "hi",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Body=hi&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&To=%2B15558675310"
	if form.Encode() != want {
		t.Errorf("form = %s, want %s", form.Encode(), want)
	}
}

func TestAppendQueryEscapeMatchesStdlib(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "a b+c&d=e%f", "€😀ж\n\t\"'<>#?/", "~-._*!()"} {
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("appendQueryEscape(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestMessageUnmarshal(t *testing.T) {
	t.Parallel()
	var m Message
	if err := json.Unmarshal([]byte(cannedMessage), &m); err != nil {
		t.Fatal(err)
	}
	want := Message{
		SID: testMsgSID, AccountSID: testAccount, APIVersion: "2010-04-01", Body: "Hi Ann, see you at 10:00",
		From: "+15005550006", To: "+15558675310", Status: "queued", Direction: "outbound-api",
		PriceUnit: "USD", NumSegments: 1, NumMedia: 0,
		URI:         "/2010-04-01/Accounts/" + testAccount + "/Messages/" + testMsgSID + ".json",
		DateCreated: time.Date(2023, 8, 24, 5, 1, 45, 0, time.UTC),
		DateUpdated: time.Date(2023, 8, 24, 5, 1, 46, 0, time.UTC),
	}
	if !m.DateCreated.Equal(want.DateCreated) || !m.DateUpdated.Equal(want.DateUpdated) || !m.DateSent.IsZero() {
		t.Errorf("dates = %v %v %v", m.DateCreated, m.DateUpdated, m.DateSent)
	}
	m.DateCreated, m.DateUpdated = want.DateCreated, want.DateUpdated
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}

	// The other spellings Twilio's payloads have used.
	odd := `{"sid":"SMx","error_code":"30003","num_segments":3,"num_media":null,"price":-0.0079,
	        "date_sent":"Fri, 25 Aug 2023 10:00:00 -0500","date_created":"","date_updated":"2023-08-25T15:00:01Z",
	        "error_message":"Unreachable","unknown":{"nested":[1,2]}}`
	var o Message
	if err := json.Unmarshal([]byte(odd), &o); err != nil {
		t.Fatal(err)
	}
	if o.ErrorCode != 30003 || o.NumSegments != 3 || o.NumMedia != 0 || o.Price != "-0.0079" || o.ErrorMessage != "Unreachable" {
		t.Errorf("odd fields = %+v", o)
	}
	if !o.DateSent.Equal(time.Date(2023, 8, 25, 15, 0, 0, 0, time.UTC)) || !o.DateCreated.IsZero() ||
		!o.DateUpdated.Equal(time.Date(2023, 8, 25, 15, 0, 1, 0, time.UTC)) {
		t.Errorf("odd dates = %v %v %v", o.DateSent, o.DateCreated, o.DateUpdated)
	}

	for _, bad := range []string{`{"num_segments":"x"}`, `{"date_sent":"yesterday"}`, `{"sid":{"a":1}}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), new(Message)); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	retryAt := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       Error
		minRetry   time.Duration
		wantString string
	}{
		{
			name: "invalid to", status: 400,
			body:       `{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			want:       Error{Status: 400, Code: 21211, Message: "The 'To' number +1555 is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211"},
			wantString: "twilio: 21211 The 'To' number +1555 is not a valid phone number. (HTTP 400, https://www.twilio.com/docs/errors/21211)",
		},
		{
			name: "429 with seconds", status: 429, header: map[string]string{"Retry-After": "3"},
			body: `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`,
			want: Error{Status: 429, Code: 20429, Message: "Too Many Requests", MoreInfo: "https://www.twilio.com/docs/errors/20429", RetryAfter: 3 * time.Second},
		},
		{
			name: "503 with date", status: 503, header: map[string]string{"Retry-After": retryAt},
			body:     `{"code": 20503, "message": "Service unavailable", "status": 503}`,
			want:     Error{Status: 503, Code: 20503, Message: "Service unavailable"},
			minRetry: 80 * time.Second,
		},
		{
			name: "proxy html", status: 502, body: "<html>bad gateway</html>",
			want:       Error{Status: 502, Message: "Bad Gateway"},
			wantString: "twilio: Bad Gateway (HTTP 502)",
		},
		{
			name: "codes as strings", status: 400, body: `{"code": "21610", "message": null, "status": "400"}`,
			want: Error{Status: 400, Code: 21610, Message: "Bad Request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tt.status, tt.body)
			}), nil)
			_, err := c.CreateMessage(t.Context(), &CreateMessageParams{To: "+1555", From: "+15005550006", Body: "x"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			got := *e
			if tt.minRetry > 0 {
				if got.RetryAfter < tt.minRetry || got.RetryAfter > tt.minRetry+20*time.Second {
					t.Errorf("RetryAfter = %v, want about %v", got.RetryAfter, tt.minRetry+10*time.Second)
				}
				got.RetryAfter = 0
			}
			if got != tt.want {
				t.Errorf("Error = %+v\nwant    %+v", got, tt.want)
			}
			if RetryAfterOf(err) != e.RetryAfter {
				t.Errorf("RetryAfterOf = %v, want %v", RetryAfterOf(err), e.RetryAfter)
			}
			if tt.wantString != "" && e.Error() != tt.wantString {
				t.Errorf("Error() = %q\nwant      %q", e.Error(), tt.wantString)
			}
			if !strings.HasPrefix(err.Error(), "create message: twilio: ") {
				t.Errorf("wrapped error %q lacks its context", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Wed, 01 May 2024 12:00:30 GMT": 30 * time.Second,
		"Wed, 01 May 2024 11:00:00 GMT": 0, // in the past
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	if RetryAfterOf(errors.New("x")) != 0 || RetryAfterOf(nil) != 0 {
		t.Error("RetryAfterOf of a non-API error is not 0")
	}
}

func TestFetchMessage(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method != "GET" {
			t.Errorf("method %s", r.Method)
		}
		if r.URL.Path == "/2010-04-01/Accounts/"+testAccount+"/Messages/"+testMsgSID+".json" {
			writeJSON(w, 200, cannedMessage)
			return
		}
		writeJSON(w, 404, `{"code": 20404, "message": "The requested resource was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}`)
	}), nil)

	m, err := c.FetchMessage(t.Context(), testMsgSID)
	if err != nil || m.SID != testMsgSID {
		t.Fatalf("FetchMessage = %+v, %v", m, err)
	}
	_, err = c.FetchMessage(t.Context(), "SMffffffffffffffffffffffffffffffff")
	if !IsNotFound(err) {
		t.Errorf("unknown sid: err = %v, want not found", err)
	}
	before := hits.Load()
	for _, bad := range []string{"", "SM123", "../../Calls", "AC0123456789abcdef0123456789abcdef"} {
		if _, err := c.FetchMessage(t.Context(), bad); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("FetchMessage(%q) err = %v, want ErrInvalidParams", bad, err)
		}
	}
	if hits.Load() != before {
		t.Error("an invalid sid reached the server")
	}
}

// pagedHandler serves total messages in pages of size, addressed by
// PageToken, with relative next_page_uri as Twilio does, and records the
// queries it saw.
type pagedHandler struct {
	t       testing.TB
	total   int
	queries chan url.Values
}

func (h *pagedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.queries <- q
	if r.URL.Path != "/2010-04-01/Accounts/"+testAccount+"/Messages.json" || r.Method != "GET" {
		h.t.Errorf("list request = %s %s", r.Method, r.URL.Path)
	}
	size := 2
	start := 0
	fmt.Sscan(q.Get("PageToken"), &start)
	var msgs []string
	for i := start; i < min(start+size, h.total); i++ {
		msgs = append(msgs, fmt.Sprintf(`{"sid":"SM%032x","to":"+15558675310","status":"delivered","num_segments":"1"}`, i))
	}
	next := "null"
	if start+size < h.total {
		nq := url.Values{"To": {q.Get("To")}, "PageSize": {"2"}, "Page": {fmt.Sprint(start/size + 1)}, "PageToken": {fmt.Sprint(start + size)}}
		next = `"` + r.URL.Path + "?" + nq.Encode() + `"`
	}
	writeJSON(w, 200, fmt.Sprintf(`{"messages":[%s],"next_page_uri":%s,"page":%d,"page_size":2,"first_page_uri":"/x","previous_page_uri":null,"start":%d,"end":%d,"uri":"/y"}`,
		strings.Join(msgs, ","), next, start/size, start, start+len(msgs)-1))
}

func TestListMessagesFollowsPages(t *testing.T) {
	t.Parallel()
	h := &pagedHandler{t: t, total: 5, queries: make(chan url.Values, 10)}
	c := newTestClient(t, h, nil)
	day := time.Date(2024, 5, 1, 23, 30, 0, 0, time.FixedZone("X", -3600)) // 2024-05-02 in UTC
	var sids []string
	for m, err := range c.ListMessages(t.Context(), &ListMessagesParams{
		To: "+15558675310", From: "+15005550006", DateSentAfter: day, DateSentBefore: day.AddDate(0, 0, 1), PageSize: 5000,
	}) {
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, m.SID)
	}
	if len(sids) != 5 || sids[0] != fmt.Sprintf("SM%032x", 0) || sids[4] != fmt.Sprintf("SM%032x", 4) {
		t.Errorf("sids = %v", sids)
	}
	first := <-h.queries
	want := url.Values{"To": {"+15558675310"}, "From": {"+15005550006"}, "DateSent>": {"2024-05-02"}, "DateSent<": {"2024-05-03"}, "PageSize": {"1000"}}
	if first.Encode() != want.Encode() {
		t.Errorf("first query = %v\nwant %v", first, want)
	}
	if n := len(h.queries); n != 2 {
		t.Errorf("%d further pages fetched, want 2", n)
	}
	second := <-h.queries
	if second.Get("PageToken") != "2" {
		t.Errorf("second page query = %v", second)
	}
}

func TestListMessagesStopsEarlyAndOnError(t *testing.T) {
	t.Parallel()
	h := &pagedHandler{t: t, total: 10, queries: make(chan url.Values, 10)}
	c := newTestClient(t, h, nil)
	for range c.ListMessages(t.Context(), nil) {
		break
	}
	if len(h.queries) != 1 {
		t.Errorf("breaking after one message fetched %d pages", len(h.queries))
	}

	tests := map[string]http.HandlerFunc{
		"foreign absolute next_page_uri": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"messages":[{"sid":"SMa"}],"next_page_uri":"https://evil.example/steal"}`)
		},
		"no envelope": func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"oops":true}`) },
		"api error": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"code":20003,"message":"Authenticate","status":401}`)
		},
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, h, nil)
			var msgs, errs int
			for m, err := range c.ListMessages(t.Context(), &ListMessagesParams{}) {
				if err != nil {
					errs++
					if m != nil {
						t.Error("error yielded with a message")
					}
					continue
				}
				msgs++
			}
			if errs != 1 {
				t.Errorf("%d errors yielded, want 1", errs)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		getenv  func(string) string
		wantErr string // substring; "" = success
	}{
		{"token", env("TWILIO_ACCOUNT_SID", testAccount, "TWILIO_AUTH_TOKEN", testToken), ""},
		{"api key", env("TWILIO_ACCOUNT_SID", testAccount, "TWILIO_API_KEY", testKeySID, "TWILIO_API_SECRET", testSecret, "TWILIO_API_URL", "http://127.0.0.1:9/"), ""},
		{"no sid", env("TWILIO_AUTH_TOKEN", testToken), "TWILIO_ACCOUNT_SID is not set"},
		{"no token", env("TWILIO_ACCOUNT_SID", testAccount), "TWILIO_AUTH_TOKEN is not set"},
		{"key without secret", env("TWILIO_ACCOUNT_SID", testAccount, "TWILIO_API_KEY", testKeySID, "TWILIO_AUTH_TOKEN", testToken), "TWILIO_API_SECRET is not"},
		{"secret without key", env("TWILIO_ACCOUNT_SID", testAccount, "TWILIO_API_SECRET", testSecret, "TWILIO_AUTH_TOKEN", testToken), "TWILIO_API_KEY is not"},
		{"bad sid", env("TWILIO_ACCOUNT_SID", "AC123", "TWILIO_AUTH_TOKEN", testToken), "AC followed by 32 hex"},
		{"bad url", env("TWILIO_ACCOUNT_SID", testAccount, "TWILIO_AUTH_TOKEN", testToken, "TWILIO_API_URL", "ftp://x"), "base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ConfigFromEnv(tt.getenv)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := New(cfg); err != nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestConfigValidateAndDefaults(t *testing.T) {
	t.Parallel()
	ok := Config{AccountSID: testAccount, AuthToken: testToken}
	bad := map[string]Config{
		"lowercase prefix":   {AccountSID: "ac0123456789abcdef0123456789abcdef", AuthToken: "t"},
		"non-hex":            {AccountSID: "AC0123456789abcdef0123456789abcdeg", AuthToken: "t"},
		"no credentials":     {AccountSID: testAccount},
		"bad key sid":        {AccountSID: testAccount, APIKeySID: "SKnope", APIKeySecret: "s"},
		"key without secret": {AccountSID: testAccount, APIKeySID: testKeySID},
		"url with creds":     {AccountSID: testAccount, AuthToken: "t", BaseURL: "https://u:p@api.twilio.com"},
		"url without host":   {AccountSID: testAccount, AuthToken: "t", BaseURL: "https://"},
		"negative timeout":   {AccountSID: testAccount, AuthToken: "t", Timeout: -1},
		"negative conns":     {AccountSID: testAccount, AuthToken: "t", MaxConns: -1},
	}
	for name, cfg := range bad {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New err = %v, want ErrInvalidConfig", name, err)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.timeout != DefaultTimeout || c.AccountSID() != testAccount ||
		c.messagesURL != "https://api.twilio.com/2010-04-01/Accounts/"+testAccount+"/Messages.json" {
		t.Errorf("defaults: timeout %v, sid %s, url %s", c.timeout, c.AccountSID(), c.messagesURL)
	}
	tr := c.hc.Transport.(*http.Transport)
	if tr.MaxConnsPerHost != DefaultMaxConns || tr.MaxIdleConnsPerHost != DefaultMaxConns {
		t.Errorf("pool = %d/%d, want %d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, DefaultMaxConns)
	}
	c2, _ := New(Config{AccountSID: testAccount, AuthToken: "t", BaseURL: "http://proxy.local/twilio/", MaxConns: 7})
	if c2.messagesURL != "http://proxy.local/twilio/2010-04-01/Accounts/"+testAccount+"/Messages.json" {
		t.Errorf("prefixed base: %s", c2.messagesURL)
	}
	if c2.hc.Transport.(*http.Transport).MaxConnsPerHost != 7 {
		t.Error("MaxConns not applied")
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	cfg := Config{AccountSID: testAccount, AuthToken: testToken, APIKeySID: testKeySID, APIKeySecret: testSecret}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "twilio", cfg)
	outputs := []string{
		fmt.Sprint(cfg), fmt.Sprintf("%v|%+v|%#v|%s", cfg, cfg, cfg, cfg), fmt.Sprintf("%v", &cfg), logged.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, testToken) || strings.Contains(out, testSecret) {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, testAccount) {
			t.Errorf("account sid missing: %s", out)
		}
	}
}

// Transport-level outcomes, against real loopback connections.
func TestClassifyTransportFailures(t *testing.T) {
	t.Parallel()
	params := &CreateMessageParams{To: "+15558675310", From: "+15005550006", Body: "hi"}

	t.Run("connection refused is retryable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, err := New(Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: "http://" + addr, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateMessage(t.Context(), params)
		assertTransport(t, err, false, ClassRetryable)
	})

	t.Run("closed after reading the request is in doubt", func(t *testing.T) {
		t.Parallel()
		var created atomic.Int32
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			created.Add(1) // the server acted on it...
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close() // ...and the response is lost
		}), nil)
		_, err := c.CreateMessage(t.Context(), params)
		assertTransport(t, err, true, ClassInDoubt)
		if created.Load() != 1 {
			t.Errorf("server saw %d requests, want exactly 1 (no silent retry of a POST)", created.Load())
		}
	})

	t.Run("timeout after the request was sent is in doubt", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
		}), func(c *Config) { c.Timeout = 100 * time.Millisecond })
		defer close(release)
		_, err := c.CreateMessage(t.Context(), params)
		te := assertTransport(t, err, true, ClassInDoubt)
		if te != nil && !te.Timeout() {
			t.Errorf("Timeout() = false for %v", te)
		}
	})

	t.Run("caller cancelled before sending is retryable", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("request reached the server")
		}), nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.CreateMessage(ctx, params)
		assertTransport(t, err, false, ClassRetryable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled inside", err)
		}
	})

	t.Run("caller cancelled after sending is in doubt", func(t *testing.T) {
		t.Parallel()
		got := make(chan struct{})
		release := make(chan struct{})
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			close(got)
			<-release
		}), nil)
		defer close(release)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-got; cancel() }()
		_, err := c.CreateMessage(ctx, params)
		assertTransport(t, err, true, ClassInDoubt)
	})

	t.Run("waiting for a pooled connection then timing out is retryable", func(t *testing.T) {
		t.Parallel()
		busy := make(chan struct{})
		release := make(chan struct{})
		var hits atomic.Int32
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				close(busy)
				<-release
			}
			writeJSON(w, 201, cannedMessage)
		}), func(c *Config) { c.MaxConns = 1 })
		done := make(chan error, 1)
		go func() { _, err := c.CreateMessage(context.Background(), params); done <- err }()
		<-busy
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := c.CreateMessage(ctx, params)
		assertTransport(t, err, false, ClassRetryable)
		close(release)
		if err := <-done; err != nil {
			t.Errorf("first request: %v", err)
		}
		if hits.Load() != 1 {
			t.Errorf("server saw %d requests, want 1", hits.Load())
		}
	})

	t.Run("unparseable 2xx is in doubt", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, `{"sid": "SM0123`)
		}), nil)
		_, err := c.CreateMessage(t.Context(), params)
		if !errors.Is(err, ErrMalformedResponse) || Classify(err) != ClassInDoubt {
			t.Errorf("err = %v, outcome %v", err, Classify(err))
		}
	})

	t.Run("2xx without sid is in doubt", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, `{}`)
		}), nil)
		_, err := c.CreateMessage(t.Context(), params)
		if Classify(err) != ClassInDoubt {
			t.Errorf("err = %v, outcome %v", err, Classify(err))
		}
	})

	t.Run("redirect is not followed", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusMovedPermanently)
		}), nil)
		_, err := c.CreateMessage(t.Context(), params)
		var e *Error
		if !errors.As(err, &e) || e.Status != 301 || Classify(err) != ClassCampaign {
			t.Errorf("err = %v, outcome %v", err, Classify(err))
		}
	})
}

func assertTransport(t *testing.T, err error, written bool, want Class) *TransportError {
	t.Helper()
	var te *TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want *TransportError", err, err)
	}
	if te.Written != written {
		t.Errorf("Written = %v, want %v (%v)", te.Written, written, err)
	}
	if got := Classify(err); got != want {
		t.Errorf("Classify = %v, want %v (%v)", got, want, err)
	}
	return te
}

func TestListMessagesRefusesALoop(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, 200, `{"messages":[],"next_page_uri":"/2010-04-01/Accounts/`+testAccount+`/Messages.json?Page=1"}`)
	}), nil)
	var err error
	for _, e := range c.ListMessages(t.Context(), nil) {
		err = e
	}
	if !errors.Is(err, ErrMalformedResponse) || hits.Load() != 2 {
		t.Errorf("err = %v after %d pages, want ErrMalformedResponse after 2", err, hits.Load())
	}
}

// flexString's fast path for strings without escapes reads every string
// as encoding/json does. (encoding/json hands UnmarshalJSON only valid
// tokens, so the raw forms that are not valid JSON are left out.)
func TestFlexStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\n\t", "é€😀", "bad\xffutf8", "\u2028", "<>&"} {
		raw, _ := json.Marshal(s)
		for _, b := range [][]byte{raw, []byte(`"` + s + `"`)} {
			if !json.Valid(b) {
				continue
			}
			var want string
			wantErr := json.Unmarshal(b, &want)
			var got flexString
			gotErr := got.UnmarshalJSON(b)
			if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && string(got) != want) {
				t.Errorf("%q: flexString %q, %v; encoding/json %q, %v", b, got, gotErr, want, wantErr)
			}
		}
	}
}
