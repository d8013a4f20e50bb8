package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
)

// BenchmarkStatusCallbacks posts signed status callbacks ("sent" and
// "delivered" for every message, shuffled so that many arrive out of order)
// from concurrent clients over loopback to serve's handler on real
// PostgreSQL, and checks that every update landed: all recipients delivered,
// every callback in message_events. The baseline, timed in the same run, is
// the same number of bare single-row UPDATEs by sid with the same
// concurrency: the floor a durable write per callback cannot beat.
// Reports callbacks/s and x-baseline (handler time / baseline time).
func BenchmarkStatusCallbacks(b *testing.B) {
	const (
		messages = 5000
		workers  = 32
	)
	db := newDeliveryBundle(b, true)
	c := db.newNamedCampaign(b, "bench", messages)
	ctx := context.Background()
	pool := db.st.Pool()
	// Every recipient accepted by Twilio, with a sid, as after a send.
	if _, err := pool.Exec(ctx, `UPDATE recipients SET status = 'accepted', twilio_status = 'queued',
		message_sid = 'SM' || lpad(to_hex(id), 32, '0'), sent_at = now() WHERE campaign_id = $1`, c.ID); err != nil {
		b.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT message_sid, phone FROM recipients WHERE campaign_id = $1`, c.ID)
	if err != nil {
		b.Fatal(err)
	}
	type call struct {
		body, sig  string
		sid, state string
	}
	var calls []call
	target := db.srv.URL + "/twilio/status"
	for rows.Next() {
		var sid, phone string
		if err := rows.Scan(&sid, &phone); err != nil {
			b.Fatal(err)
		}
		for _, st := range []string{"sent", "delivered"} {
			f := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {st}, "SmsStatus": {st},
				"AccountSid": {"AC" + strings.Repeat("0", 32)}, "From": {"+15005550006"}, "To": {phone}, "ApiVersion": {"2010-04-01"}}
			if st == "delivered" {
				f.Set("RawDlrDoneDate", time.Now().UTC().Format("0601021504"))
			}
			calls = append(calls, call{body: f.Encode(), sig: twilio.Signature(db.token, target, f), sid: sid, state: st})
		}
	}
	if rows.Err() != nil || len(calls) != 2*messages {
		b.Fatalf("%d calls, %v", len(calls), rows.Err())
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	reset := func() {
		b.Helper()
		if _, err := pool.Exec(ctx, `UPDATE recipients SET status = 'accepted', twilio_status = 'queued',
			delivered_at = NULL WHERE campaign_id = $1`, c.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `TRUNCATE message_events`); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE recipients`); err != nil {
			b.Fatal(err)
		}
	}
	// fanOut runs do(i) for every call index on the workers.
	fanOut := func(do func(i int) error) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		var once sync.Once
		var firstErr error
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(calls) {
						return
					}
					if err := do(i); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
			})
		}
		wg.Wait()
		return firstErr
	}

	var handlerTime, baseTime, handlerDB time.Duration
	dbCPU := true
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reset()
		db0, dbErr := pgtest.ServerCPU(ctx, pool)
		b.StartTimer()
		start := time.Now()
		err := fanOut(func(i int) error {
			req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(calls[i].body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, calls[i].sig)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return &httpStatusError{resp.StatusCode}
			}
			return nil
		})
		handlerTime += time.Since(start)
		b.StopTimer()
		db1, dbErr1 := pgtest.ServerCPU(ctx, pool)
		dbCPU = dbCPU && dbErr == nil && dbErr1 == nil
		handlerDB += db1 - db0
		if err != nil {
			b.Fatal(err)
		}
		// No lost update: every recipient delivered, every callback kept and applied.
		var delivered, events, unapplied int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM recipients WHERE campaign_id = $1 AND status = 'delivered'
			AND twilio_status = 'delivered' AND delivered_at IS NOT NULL),
			(SELECT count(*) FROM message_events), (SELECT count(*) FROM message_events WHERE applied_at IS NULL)`, c.ID).
			Scan(&delivered, &events, &unapplied); err != nil {
			b.Fatal(err)
		}
		if delivered != messages || events != len(calls) || unapplied != 0 {
			b.Fatalf("lost updates: %d of %d delivered, %d of %d events (%d unapplied)", delivered, messages, events, len(calls), unapplied)
		}

		// Baseline: the same number of bare UPDATEs by sid.
		reset()
		start = time.Now()
		err = fanOut(func(i int) error {
			_, err := pool.Exec(ctx, `UPDATE recipients SET twilio_status = $1 WHERE message_sid = $2`, calls[i].state, calls[i].sid)
			return err
		})
		baseTime += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N * len(calls))
	b.ReportMetric(n/handlerTime.Seconds(), "callbacks/s")
	b.ReportMetric(n/baseTime.Seconds(), "baseline-updates/s")
	b.ReportMetric(handlerTime.Seconds()/baseTime.Seconds(), "x-baseline")
	// The database's CPU per callback: what a callback costs the server,
	// steadier than the rate on a busy machine.
	if dbCPU {
		b.ReportMetric(float64(handlerDB.Microseconds())/n, "db-cpu-µs/callback")
	}
	if rate := n / handlerTime.Seconds(); rate < 2000 {
		b.Errorf("%.0f callbacks/s: under the 2,000/s target", rate)
	}
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "callback answered HTTP " + http.StatusText(e.code) }
