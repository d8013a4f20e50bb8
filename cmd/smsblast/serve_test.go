package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// lockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// deliveryBundle is a delivery test's world: a database, the webhook server
// and, when asked for, a simulator whose callbacks go to it.
type deliveryBundle struct {
	dbURL string
	st    *store.Store
	wh    *webhooks
	srv   *httptest.Server
	token string
	logs  *lockedBuffer
	sim   *twiliosim.Server
	tw    *twilio.Client
	c     *campaign.Campaign
}

const webhookToken = "0123456789abcdef0123456789abcdef"

// newDeliveryBundle starts the webhook handlers on a loopback server.
// publicURL "" makes the handlers rebuild URLs from the Host header.
func newDeliveryBundle(t testing.TB, publicURL bool) *deliveryBundle {
	t.Helper()
	b := &deliveryBundle{dbURL: pgtest.URL(t), token: webhookToken, logs: &lockedBuffer{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if b.st, err = store.Open(ctx, b.dbURL, store.Options{MaxConns: 32}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.st.Close)
	var h http.Handler
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	cfg := webhookConfig{Store: b.st, AuthToken: b.token, Log: slog.New(slog.NewTextHandler(b.logs, nil)), StatsTTL: time.Millisecond}
	if publicURL {
		cfg.PublicURL = b.srv.URL + "/"
	}
	b.wh = newWebhooks(cfg)
	h = b.wh.routes()
	return b
}

// withSim adds a simulator signing with the same auth token.
func (b *deliveryBundle) withSim(t testing.TB, opts twiliosim.Options) {
	t.Helper()
	opts.AuthToken = b.token
	opts.Seed = 7
	b.sim = twiliosim.New(opts)
	t.Cleanup(b.sim.Close)
	simSrv := httptest.NewServer(b.sim)
	t.Cleanup(simSrv.Close)
	var err error
	b.tw, err = twilio.New(twilio.Config{AccountSID: b.sim.AccountSID(), AuthToken: b.sim.AuthToken(),
		BaseURL: simSrv.URL, Timeout: 2 * time.Second, MaxConns: 32})
	if err != nil {
		t.Fatal(err)
	}
}

// newCampaign creates campaign "c1" with n recipients +1415555NNNN whose
// status callbacks go to the webhook server.
func (b *deliveryBundle) newCampaign(t testing.TB, n int) *campaign.Campaign {
	t.Helper()
	return b.newNamedCampaign(t, "c1", n)
}

func (b *deliveryBundle) newNamedCampaign(t testing.TB, name string, n int) *campaign.Campaign {
	t.Helper()
	ctx := context.Background()
	c := &campaign.Campaign{Name: name, From: "+15005550006", BodyTemplate: "Hi {{.name}}",
		StatusCallback: b.srv.URL + "/twilio/status", Rate: 1e6, Concurrency: 16, MaxAttempts: 5}
	if err := b.st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{c.ID, fmt.Sprintf("+1415555%04d", i), map[string]string{"name": fmt.Sprintf("N%d", i)}, i + 2}
	}
	if _, err := b.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
		[]string{"campaign_id", "phone", "attrs", "source_line"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	b.c = c
	return c
}

// send runs the engine on the campaign until it is done.
func (b *deliveryBundle) send(t testing.TB) {
	t.Helper()
	e, err := send.New(b.st, b.tw, send.Config{Lease: 10 * time.Second, RequestTimeout: 2 * time.Second,
		LeaseMargin: 500 * time.Millisecond, Heartbeat: 100 * time.Millisecond, SafetyWindow: send.NoSafetyWindow})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.Run(context.Background(), context.Background(), b.c.Name)
	if err != nil || !sum.Done {
		t.Fatalf("send: %+v, %v", sum, err)
	}
}

// post sends a form to path, signed for signURL with token when token is
// not empty.
func (b *deliveryBundle) post(t testing.TB, path string, form url.Values, token, signURL string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		if signURL == "" {
			signURL = b.srv.URL + path
		}
		req.Header.Set(twilio.SignatureHeader, twilio.Signature(token, signURL, form))
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func statusForm(sid, status string) url.Values {
	return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
		"AccountSid": {"AC" + strings.Repeat("0", 32)}, "To": {"+14155550000"}, "From": {"+15005550006"}, "ApiVersion": {"2010-04-01"}}
}

// Unsigned, forged and replayed-with-other-parameters callbacks are refused
// with 403 and change nothing; a signed one is accepted.
func TestStatusCallbackSignatures(t *testing.T) {
	t.Parallel()
	for _, public := range []bool{true, false} {
		t.Run(fmt.Sprintf("public-url=%v", public), func(t *testing.T) {
			t.Parallel()
			b := newDeliveryBundle(t, public)
			sid := fmt.Sprintf("SM%032x", 1)
			form := statusForm(sid, "delivered")
			tampered := statusForm(sid, "delivered")
			tampered.Set("MessageStatus", "failed")
			tests := []struct {
				name string
				send func() *http.Response
				want int
			}{
				{"unsigned", func() *http.Response { return b.post(t, "/twilio/status", form, "", "") }, 403},
				{"forged with another token", func() *http.Response {
					return b.post(t, "/twilio/status", form, "not-the-token", "")
				}, 403},
				{"signed for another URL", func() *http.Response {
					return b.post(t, "/twilio/status", form, b.token, "https://attacker.example/twilio/status")
				}, 403},
				{"replayed with different params", func() *http.Response {
					req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/twilio/status", strings.NewReader(tampered.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set(twilio.SignatureHeader, twilio.Signature(b.token, b.srv.URL+"/twilio/status", form))
					resp, err := b.srv.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp
				}, 403},
				{"signed", func() *http.Response { return b.post(t, "/twilio/status", form, b.token, "") }, 204},
				{"signed again (Twilio retry)", func() *http.Response { return b.post(t, "/twilio/status", form, b.token, "") }, 204},
				{"wrong method", func() *http.Response {
					resp, err := b.srv.Client().Get(b.srv.URL + "/twilio/status")
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp
				}, 405},
			}
			for _, tt := range tests {
				if got := tt.send().StatusCode; got != tt.want {
					t.Errorf("%s: HTTP %d, want %d", tt.name, got, tt.want)
				}
			}
			var events int
			if err := b.st.Pool().QueryRow(context.Background(),
				`SELECT count(*) FROM message_events WHERE status = 'failed'`).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events != 0 {
				t.Errorf("a rejected callback was stored")
			}
			logs := b.logs.String()
			if !strings.Contains(logs, "reason=bad_signature") || !strings.Contains(logs, "reason=unsigned") {
				t.Errorf("rejections not logged:\n%s", logs)
			}
			if strings.Contains(logs, b.token) || strings.Contains(logs, "not-the-token") {
				t.Errorf("a token was logged:\n%s", logs)
			}
		})
	}
}

// Twilio's published example (twilio/signature_test.go) passes the
// handler's check, with the URL from --public-url and from the headers.
func TestWebhookSignaturePublishedVector(t *testing.T) {
	t.Parallel()
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"}}
	const sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	for _, tt := range []struct {
		name, publicURL string
		proto           string
	}{
		{"public url", "https://mycompany.com", ""},
		{"forwarded proto", "", "https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWebhooks(webhookConfig{AuthToken: "12345", PublicURL: tt.publicURL})
			req := httptest.NewRequest(http.MethodPost, "http://mycompany.com/myapp.php?foo=1&bar=2", strings.NewReader(params.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, sig)
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			rec := httptest.NewRecorder()
			if w.verified(rec, req, "test") == nil {
				t.Fatalf("published vector rejected: HTTP %d", rec.Code)
			}
		})
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	b := newDeliveryBundle(t, true)
	form := statusForm(fmt.Sprintf("SM%032x", 2), "sent")
	form.Set("Padding", strings.Repeat("x", maxWebhookBody))
	if got := b.post(t, "/twilio/status", form, b.token, "").StatusCode; got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized callback: HTTP %d, want 413", got)
	}
}

func TestInboundKeywords(t *testing.T) {
	t.Parallel()
	b := newDeliveryBundle(t, true)
	ctx := context.Background()
	const phone = "+14155550123"
	optedOut := func() bool {
		var n int
		if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM opt_outs WHERE phone = $1 AND source = 'inbound'`, phone).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, tt := range []struct {
		body string
		want bool
	}{
		{" stop\n", true}, {"Thanks!", true}, {"START", false}, {"hello", false}, {"UnSubscribe", true}, {"yes", false},
		{"quit", true}, {"unstop", false}, {"STOPALL", true}, {"  Cancel ", true},
	} {
		form := url.Values{"MessageSid": {fmt.Sprintf("SM%032x", 9)}, "From": {phone}, "To": {"+15005550006"}, "Body": {tt.body}}
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/twilio/inbound", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Signature(b.token, b.srv.URL+"/twilio/inbound", form))
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml" || string(body) != emptyTwiML {
			t.Fatalf("%q: HTTP %d %q %q, want 200 text/xml empty TwiML", tt.body, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if got := optedOut(); got != tt.want {
			t.Errorf("after %q: opted out %v, want %v", tt.body, got, tt.want)
		}
	}
	if strings.Contains(b.logs.String(), phone) {
		t.Errorf("logs show the full phone number:\n%s", b.logs.String())
	}
	// Inbound webhooks are signed too.
	if got := b.post(t, "/twilio/inbound", url.Values{"From": {phone}, "Body": {"START"}}, "", "").StatusCode; got != 403 {
		t.Errorf("unsigned inbound: HTTP %d, want 403", got)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	t.Parallel()
	b := newDeliveryBundle(t, true)
	b.newCampaign(t, 3)
	b.post(t, "/twilio/status", statusForm(fmt.Sprintf("SM%032x", 3), "sent"), "", "") // rejected: unsigned
	resp, err := b.srv.Client().Get(b.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: HTTP %d", resp.StatusCode)
	}
	resp, err = b.srv.Client().Get(b.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`smsblast_database_up 1`,
		`smsblast_campaign_recipients{campaign="c1",status="pending"} 3`,
		`smsblast_campaign_rate{campaign="c1"} 1e+06`,
		`smsblast_callbacks_rejected_total{endpoint="status",reason="unsigned"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
