package twilio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateMessage times CreateMessage against a loopback server
// returning a canned 201, and in the same run a baseline: a bare
// http.Client POSTing the same form and discarding the response unread by
// any JSON decoder. x-baseline is the ratio of the two times. allocs/op and
// baseline-allocs/op are process-wide, so both include the test server's own
// allocations; their difference is what the client adds (form encoding,
// tracing, timeout, JSON decoding into a Message).
func BenchmarkCreateMessage(b *testing.B) {
	canned := []byte(cannedMessage)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(canned))}
		w.WriteHeader(http.StatusCreated)
		w.Write(canned)
	}))
	defer srv.Close()

	c, err := New(Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	p := &CreateMessageParams{
		To: "+15558675310", From: "+15005550006",
		Body:           "Hi Ann, your appointment at Main St Clinic is tomorrow at 10:00. Reply STOP to opt out.",
		StatusCallback: "https://hooks.example.com/twilio/status",
	}
	form := url.Values{"To": {p.To}, "From": {p.From}, "Body": {p.Body}, "StatusCallback": {p.StatusCallback}}.Encode()
	bare := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}}
	defer bare.CloseIdleConnections()
	target := c.messagesURL
	baseline := func() {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", target, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testAccount, testToken)
		resp, err := bare.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ctx := context.Background()
	// Warm both pools so neither pays for a dial inside the timing.
	baseline()
	if _, err := c.CreateMessage(ctx, p); err != nil {
		b.Fatal(err)
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() { // b.Loop stops the timer when it ends
			if _, err := c.CreateMessage(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		clientTime := b.Elapsed()
		baseTime, baseAllocs := timeBaseline(b.N, baseline)
		reportBaseline(b, clientTime, baseTime, baseAllocs)
	})

	// parallel: many goroutines sharing one Client, as the send engine does.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.CreateMessage(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
		clientTime := time.Since(start)
		b.StopTimer() // the baseline below must not count as the client's
		baseTime, baseAllocs := timeBaselineParallel(b.N, baseline)
		reportBaseline(b, clientTime, baseTime, baseAllocs)
	})
}

// timeBaseline runs f n times and returns the elapsed time and mallocs per run.
func timeBaseline(n int, f func()) (time.Duration, float64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for range n {
		f()
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, float64(after.Mallocs-before.Mallocs) / float64(n)
}

// timeBaselineParallel runs f n times in all from GOMAXPROCS goroutines, as
// b.RunParallel does, and returns the elapsed time and mallocs per run.
func timeBaselineParallel(n int, f func()) (time.Duration, float64) {
	var left atomic.Int64
	left.Store(int64(n))
	elapsed, allocs := timeBaseline(1, func() {
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					f()
				}
			})
		}
		wg.Wait()
	})
	return elapsed, allocs / float64(n)
}

func reportBaseline(b *testing.B, client, base time.Duration, baseAllocs float64) {
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(baseAllocs, "baseline-allocs/op")
	b.ReportMetric(float64(client)/float64(max(base, 1)), "x-baseline")
}

// cannedTransport answers every request with a canned 201 without touching
// the network, so the benchmark below measures only client-side work.
type cannedTransport struct{ body []byte }

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusCreated, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)),
	}, nil
}

// BenchmarkCreateMessageClientOnly isolates the client's own cost (form,
// headers, timeout, tracing, decoding) from the network and server: both it
// and its baseline, a bare http.Client POST that discards the body, run on a
// transport that answers from memory. Here allocs/op are the client's alone.
func BenchmarkCreateMessageClientOnly(b *testing.B) {
	rt := cannedTransport{[]byte(cannedMessage)}
	c, err := New(Config{AccountSID: testAccount, AuthToken: testToken, BaseURL: "http://twilio.invalid", HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		b.Fatal(err)
	}
	p := &CreateMessageParams{
		To: "+15558675310", From: "+15005550006",
		Body:           "Hi Ann, your appointment at Main St Clinic is tomorrow at 10:00. Reply STOP to opt out.",
		StatusCallback: "https://hooks.example.com/twilio/status",
	}
	form := url.Values{"To": {p.To}, "From": {p.From}, "Body": {p.Body}, "StatusCallback": {p.StatusCallback}}.Encode()
	bare := &http.Client{Transport: rt}
	target := c.messagesURL
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CreateMessage(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	clientTime := b.Elapsed()
	baseTime, baseAllocs := timeBaseline(b.N, func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", target, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testAccount, testToken)
		resp, err := bare.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	reportBaseline(b, clientTime, baseTime, baseAllocs)
}
