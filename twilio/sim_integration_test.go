package twilio_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// The client against the simulator: every outcome class, judged by what the
// simulator really created, not only by what the client returned.

const (
	simAccount = "ACfedcba9876543210fedcba9876543210"
	simToken   = "simAuthToken0123456789"
	simKey     = "SKfedcba9876543210fedcba9876543210"
	simSecret  = "simKeySecret0123456789"
	validFrom  = "+15005550006"
)

type simBundle struct {
	sim    *twiliosim.Server
	client *twilio.Client
	url    string
}

// setupSim starts a simulator with opts (credentials filled in) behind a
// loopback server and a client for it; mutate adjusts the client's Config.
func setupSim(t *testing.T, opts twiliosim.Options, mutate func(*twilio.Config)) *simBundle {
	t.Helper()
	opts.AccountSID, opts.AuthToken = simAccount, simToken
	if opts.APIKeys == nil {
		opts.APIKeys = map[string]string{simKey: simSecret}
	}
	sim := twiliosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	cfg := twilio.Config{AccountSID: simAccount, AuthToken: simToken, BaseURL: srv.URL, Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := twilio.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return &simBundle{sim: sim, client: c, url: srv.URL}
}

func TestSimOutcomeClasses(t *testing.T) {
	t.Parallel()
	ok := func(to string) *twilio.CreateMessageParams {
		return &twilio.CreateMessageParams{To: to, From: validFrom, Body: "Hello from smsblast"}
	}
	tests := []struct {
		name     string
		opts     twiliosim.Options
		mutate   func(*twilio.Config)
		params   *twilio.CreateMessageParams
		want     twilio.Class
		code     int  // Twilio code expected in an *Error; 0 = none
		created  bool // whether the simulator must hold the message afterwards
		transErr bool // whether a *TransportError is expected
	}{
		{name: "accepted", params: ok("+15558675310"), want: twilio.ClassAccepted, created: true},
		{name: "accepted with api key", mutate: func(c *twilio.Config) {
			c.AuthToken, c.APIKeySID, c.APIKeySecret = "", simKey, simSecret
		}, params: ok("+15558675311"), want: twilio.ClassAccepted, created: true},

		{name: "21211 invalid to", params: ok("+15005550001"), want: twilio.ClassRecipient, code: 21211},
		{name: "21612 unroutable", params: ok("+15005550002"), want: twilio.ClassRecipient, code: 21612},
		{name: "21408 region", params: ok("+15005550003"), want: twilio.ClassRecipient, code: 21408},
		{name: "21614 not mobile", params: ok("+15005550009"), want: twilio.ClassRecipient, code: 21614},
		{name: "21604 no to", params: &twilio.CreateMessageParams{From: validFrom, Body: "x"}, want: twilio.ClassRecipient, code: 21604},
		{name: "21617 body too long", params: &twilio.CreateMessageParams{To: "+15558675310", From: validFrom, Body: strings.Repeat("a", 1601)},
			want: twilio.ClassRecipient, code: 21617},
		{name: "no body", params: &twilio.CreateMessageParams{To: "+15558675310", From: validFrom}, want: twilio.ClassRecipient},

		{name: "21610 opted out", params: ok("+15005550004"), want: twilio.ClassOptOut, code: 21610},

		{name: "21212 invalid from", params: &twilio.CreateMessageParams{To: "+15558675310", From: "+15005550001", Body: "x"},
			want: twilio.ClassCampaign, code: 21212},
		{name: "21606 unusable from", params: &twilio.CreateMessageParams{To: "+15558675310", From: "+15005550007", Body: "x"},
			want: twilio.ClassCampaign, code: 21606},
		{name: "20003 bad token", mutate: func(c *twilio.Config) { c.AuthToken = "wrongToken" },
			params: ok("+15558675310"), want: twilio.ClassCampaign, code: 20003},
		{name: "20404 another account's path", mutate: func(c *twilio.Config) {
			c.AccountSID, c.AuthToken, c.APIKeySID, c.APIKeySecret = "AC00000000000000000000000000000000", "", simKey, simSecret
		}, params: ok("+15558675310"), want: twilio.ClassCampaign, code: 20404},

		{name: "21611 sender queue full", params: &twilio.CreateMessageParams{To: "+15558675310", From: "+15005550008", Body: "x"},
			want: twilio.ClassRetryable, code: 21611},
		{name: "20429 throttled", opts: twiliosim.Options{Fail429: 1}, params: ok("+15558675310"),
			want: twilio.ClassRetryable, code: 20429},

		{name: "5xx", opts: twiliosim.Options{Fail5xx: 1}, params: ok("+15558675310"), want: twilio.ClassInDoubt},
		{name: "response lost: connection closed", opts: twiliosim.Options{LoseResponse: 1, LoseMode: twiliosim.LoseClose},
			params: ok("+15558675310"), want: twilio.ClassInDoubt, created: true, transErr: true},
		{name: "response lost: stalled past the timeout", opts: twiliosim.Options{LoseResponse: 1, LoseMode: twiliosim.LoseStall},
			mutate: func(c *twilio.Config) { c.Timeout = 200 * time.Millisecond },
			params: ok("+15558675310"), want: twilio.ClassInDoubt, created: true, transErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupSim(t, tt.opts, tt.mutate)
			m, err := b.client.CreateMessage(t.Context(), tt.params)
			if got := twilio.Classify(err); got != tt.want {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tt.want)
			}
			if tt.code != 0 {
				var e *twilio.Error
				if !errors.As(err, &e) || e.Code != tt.code {
					t.Errorf("err = %v, want Twilio code %d", err, tt.code)
				}
			}
			var te *twilio.TransportError
			if errors.As(err, &te) != tt.transErr || (te != nil && !te.Written) {
				t.Errorf("err = %v, want transport error %v (written)", err, tt.transErr)
			}
			sent := b.sim.Messages()
			if tt.created != (len(sent) == 1) || len(sent) > 1 {
				t.Fatalf("simulator holds %d messages, want created=%v", len(sent), tt.created)
			}
			if err == nil {
				if sent[0].SID != m.SID || m.To != tt.params.To || m.Body != tt.params.Body || m.AccountSID != simAccount {
					t.Errorf("client saw %+v, simulator holds %+v", m, sent[0])
				}
			}
			if tt.created {
				// What reconciliation does for an in-doubt send: find it in the list.
				var found []string
				for lm, err := range b.client.ListMessages(t.Context(), &twilio.ListMessagesParams{To: tt.params.To, From: tt.params.From}) {
					if err != nil {
						t.Fatal(err)
					}
					found = append(found, lm.SID)
				}
				if !slices.Equal(found, []string{sent[0].SID}) {
					t.Errorf("list by To/From found %v, want [%s]", found, sent[0].SID)
				}
			}
		})
	}
}

func TestSimConcurrencyLimit(t *testing.T) {
	t.Parallel()
	b := setupSim(t, twiliosim.Options{MaxConcurrency: 2, Latency: 50 * time.Millisecond}, nil)
	const n = 8
	outcomes := make([]twilio.Class, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := b.client.CreateMessage(t.Context(), &twilio.CreateMessageParams{To: "+15558675310", From: validFrom, Body: "x"})
			outcomes[i] = twilio.Classify(err)
		})
	}
	wg.Wait()
	accepted := 0
	for _, o := range outcomes {
		switch o {
		case twilio.ClassAccepted:
			accepted++
		case twilio.ClassRetryable:
		default:
			t.Errorf("outcome %v, want accepted or retryable", o)
		}
	}
	if accepted == 0 || accepted == n {
		t.Errorf("%d of %d accepted: the limit did not bite", accepted, n)
	}
	if got := len(b.sim.Messages()); got != accepted {
		t.Errorf("simulator holds %d messages, client saw %d accepted", got, accepted)
	}
}

func TestSimListPagingAndFetch(t *testing.T) {
	t.Parallel()
	b := setupSim(t, twiliosim.Options{}, nil)
	const to = "+15558675399"
	var created []string
	for i := range 7 {
		m, err := b.client.CreateMessage(t.Context(), &twilio.CreateMessageParams{To: to, From: validFrom, Body: "msg " + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, m.SID)
	}
	if _, err := b.client.CreateMessage(t.Context(), &twilio.CreateMessageParams{To: "+15558675398", From: validFrom, Body: "other"}); err != nil {
		t.Fatal(err)
	}

	list := func(p *twilio.ListMessagesParams) []string {
		t.Helper()
		var sids []string
		for m, err := range b.client.ListMessages(t.Context(), p) {
			if err != nil {
				t.Fatalf("list %+v: %v", p, err)
			}
			sids = append(sids, m.SID)
		}
		return sids
	}
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)
	if got := list(&twilio.ListMessagesParams{To: to, PageSize: 3}); !slices.Equal(got, newestFirst) {
		t.Errorf("3 pages of 3 = %v\nwant %v", got, newestFirst)
	}
	if got := list(nil); len(got) != 8 {
		t.Errorf("unfiltered list has %d messages, want 8", len(got))
	}

	// Date filters apply once messages are sent (date_sent is null before).
	deadline := time.Now().Add(5 * time.Second)
	for _, sid := range created {
		for {
			m, err := b.client.FetchMessage(t.Context(), sid)
			if err != nil {
				t.Fatal(err)
			}
			if m.SID != sid || m.To != to {
				t.Fatalf("fetch %s = %+v", sid, m)
			}
			if !m.DateSent.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s never sent (status %s)", sid, m.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	now := time.Now()
	if got := list(&twilio.ListMessagesParams{To: to, DateSentAfter: now, PageSize: 2}); len(got) != 7 {
		t.Errorf("sent on or after today: %d messages, want 7", len(got))
	}
	if got := list(&twilio.ListMessagesParams{To: to, DateSent: now}); len(got) != 7 {
		t.Errorf("sent today: %d messages, want 7", len(got))
	}
	if got := list(&twilio.ListMessagesParams{To: to, DateSentBefore: now.AddDate(0, 0, -2)}); len(got) != 0 {
		t.Errorf("sent two days ago or earlier: %v, want none", got)
	}

	_, err := b.client.FetchMessage(t.Context(), "SM00000000000000000000000000000000")
	if !twilio.IsNotFound(err) {
		t.Errorf("unknown sid: %v, want not found", err)
	}
}

func TestSimCallbacksAreSigned(t *testing.T) {
	t.Parallel()
	type call struct {
		status string
		valid  bool
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	var cbURL string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		// Validate against the URL exactly as configured, as a receiver
		// behind a proxy would have to.
		valid := twilio.ValidateSignature(simToken, cbURL, r.PostForm, r.Header.Get(twilio.SignatureHeader))
		tampered := url.Values{}
		for k, v := range r.PostForm {
			tampered[k] = v
		}
		tampered.Set("MessageStatus", "delivered-ish")
		if twilio.ValidateSignature(simToken, cbURL, tampered, r.Header.Get(twilio.SignatureHeader)) {
			t.Error("a tampered callback validated")
		}
		mu.Lock()
		calls = append(calls, call{r.PostForm.Get("MessageStatus"), valid})
		mu.Unlock()
	}))
	t.Cleanup(cb.Close)
	cbURL = cb.URL + "/twilio/status?campaign=7"

	b := setupSim(t, twiliosim.Options{DeliverAfter: 20 * time.Millisecond}, nil)
	_, err := b.client.CreateMessage(t.Context(), &twilio.CreateMessageParams{
		To: "+15558675310", From: validFrom, Body: "signed", StatusCallback: cbURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(calls)
		mu.Unlock()
		delivered := slices.ContainsFunc(got, func(c call) bool { return c.status == "delivered" })
		if delivered || time.Now().After(deadline) {
			if !delivered {
				t.Fatalf("no delivered callback; got %+v", got)
			}
			for _, c := range got {
				if !c.valid {
					t.Errorf("callback %q failed signature validation", c.status)
				}
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
