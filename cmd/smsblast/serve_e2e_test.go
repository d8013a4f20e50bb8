package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// End to end: the engine sends a campaign through the simulator, whose
// signed status callbacks — reordered, some retried — go to serve's
// handlers; campaign_stats ends with exactly the simulator's split, and
// every recipient has its message's final status and error code.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	const n = 300
	b := newDeliveryBundle(t, false)
	fail := map[string]int{}
	for i := range 10 {
		code := 30003
		if i%2 == 1 {
			code = 30005
		}
		fail[fmt.Sprintf("+1415555%04d", i*7)] = code
	}
	b.withSim(t, twiliosim.Options{Undelivered: 0.1, Fail: fail, Reorder: 0.3, DeliverAfter: 20 * time.Millisecond})
	b.newCampaign(t, n)
	b.send(t)

	type verdict struct {
		status string
		code   int
	}
	ctx := context.Background()
	var want map[string]verdict
	var wantCounts map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The simulator's word: every message final, with its code.
		want = map[string]verdict{}
		wantCounts = map[string]int{}
		final := 0
		for _, m := range b.sim.Messages() {
			want[m.To] = verdict{m.Status, m.ErrorCode}
			wantCounts[m.Status]++
			if m.Status == "delivered" || m.Status == "undelivered" || m.Status == "failed" {
				final++
			}
		}
		var delivered, undelivered, failed, total int
		if err := b.st.Pool().QueryRow(ctx, `SELECT total, delivered, undelivered, failed FROM campaign_stats WHERE name = 'c1'`).
			Scan(&total, &delivered, &undelivered, &failed); err != nil {
			t.Fatal(err)
		}
		if final == n && delivered == wantCounts["delivered"] && undelivered == wantCounts["undelivered"] && failed == wantCounts["failed"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign_stats: %d delivered, %d undelivered, %d failed; simulator: %v (%d final of %d)",
				delivered, undelivered, failed, wantCounts, final, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(want) != n {
		t.Fatalf("simulator has messages for %d numbers, want %d", len(want), n)
	}
	if wantCounts["undelivered"] == 0 || wantCounts["delivered"] == 0 {
		t.Fatalf("simulator split %v: want both delivered and undelivered", wantCounts)
	}
	rows, err := b.st.Pool().Query(ctx, `
		SELECT phone, status, coalesce(error_code, 0), coalesce(error_description, ''), delivered_at IS NOT NULL
		FROM recipient_results WHERE campaign = 'c1'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var phone, status, desc string
		var code int
		var hasDelivered bool
		if err := rows.Scan(&phone, &status, &code, &desc, &hasDelivered); err != nil {
			t.Fatal(err)
		}
		seen++
		w := want[phone]
		if status != w.status || code != w.code {
			t.Errorf("%s: %s/%d in the database, %s/%d in the simulator", phone, status, code, w.status, w.code)
		}
		if want, ok := fail[phone]; ok && code != want {
			t.Errorf("%s: code %d, want the Fail map's %d", phone, code, want)
		}
		if code != 0 && desc == "" {
			t.Errorf("%s: code %d without a description", phone, code)
		}
		if hasDelivered != (status == "delivered") {
			t.Errorf("%s: %s with delivered_at set=%v", phone, status, hasDelivered)
		}
	}
	if seen != n {
		t.Errorf("%d recipients, want %d", seen, n)
	}
	var unapplied int
	if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events WHERE applied_at IS NULL`).Scan(&unapplied); err != nil {
		t.Fatal(err)
	}
	if unapplied != 0 {
		t.Errorf("%d callbacks never applied", unapplied)
	}
	var buffered, events int
	if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE applied_at <> received_at), count(*)
		FROM message_events`).Scan(&buffered, &events); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d callbacks, %d of them arrived before the sender wrote the sid and were applied by Record; simulator split %v",
		events, buffered, wantCounts)
	if st := b.sim.Stats(); st.CallbacksDropped != 0 {
		t.Errorf("simulator dropped %d callbacks: the server refused them", st.CallbacksDropped)
	}
}
