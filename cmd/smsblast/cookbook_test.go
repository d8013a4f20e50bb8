package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// cookbookDir holds the README's SQL examples: the README shows these files
// and this test runs them, so the documentation cannot drift from the schema.
const cookbookDir = "../../testdata/cookbook"

// runCookbook runs one cookbook query and returns its rows as JSON objects.
func runCookbook(t *testing.T, b *deliveryBundle, file string) []map[string]any {
	t.Helper()
	sql, err := os.ReadFile(filepath.Join(cookbookDir, file))
	if err != nil {
		t.Fatal(err)
	}
	q := strings.TrimSuffix(strings.TrimSpace(string(sql)), ";")
	rows, err := b.st.Pool().Query(context.Background(), `SELECT to_jsonb(q) FROM (`+q+`) q`)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out
}

// awaitDelivery waits until every message the simulator accepted has its
// final status in the database, and returns the simulator's messages by To.
func (b *deliveryBundle) awaitDelivery(t *testing.T) map[string]twiliosim.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		byTo := map[string]twiliosim.Message{}
		final := 0
		for _, m := range b.sim.Messages() {
			byTo[m.To] = m
			if m.Status == "delivered" || m.Status == "undelivered" || m.Status == "failed" {
				final++
			}
		}
		var settled int
		if err := b.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM recipients
			WHERE campaign_id = $1 AND status IN ('delivered', 'undelivered', 'failed')`, b.c.ID).Scan(&settled); err != nil {
			t.Fatal(err)
		}
		if final == len(byTo) && settled == final {
			return byTo
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery did not settle: %d of %d messages final in the simulator, %d in the database", final, len(byTo), settled)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The README's SQL cookbook, run against a database filled by a real send:
// engine → simulator → signed callbacks → serve's handlers, then STOP replies.
func TestCookbookQueries(t *testing.T) {
	t.Parallel()
	const n = 200
	b := newDeliveryBundle(t, true)
	b.withSim(t, twiliosim.Options{Undelivered: 0.1, Reorder: 0.2,
		Fail: map[string]int{"+14155550000": 30003, "+14155550007": 30005, "+14155550014": 30001}})
	b.newNamedCampaign(t, "empty", 0)
	b.newNamedCampaign(t, "spring-sale", n)
	ctx := context.Background()
	const preOptOut = "+14155550021" // opted out before the send: skipped, never texted
	if _, err := b.st.OptOut(ctx, preOptOut, "complaint", "manual"); err != nil {
		t.Fatal(err)
	}
	b.send(t)
	msgs := b.awaitDelivery(t)
	if len(msgs) != n-1 {
		t.Fatalf("%d messages, want %d", len(msgs), n-1)
	}
	// Two recipients reply STOP after the campaign; so does a stranger.
	stoppers := []string{"+14155550003", "+14155550014"}
	for _, from := range append(slices.Clone(stoppers), "+19995550000") {
		form := url.Values{"MessageSid": {fmt.Sprintf("SM%032x", len(from))}, "From": {from}, "To": {"+15005550006"}, "Body": {"STOP"}}
		if resp := b.post(t, "/twilio/inbound", form, b.token, ""); resp.StatusCode != 200 {
			t.Fatalf("inbound STOP: HTTP %d", resp.StatusCode)
		}
	}
	// An hour passes for the recipients on even CSV lines.
	if _, err := b.st.Pool().Exec(ctx, `UPDATE recipients SET sent_at = sent_at - interval '2 hours'
		WHERE campaign_id = $1 AND source_line % 2 = 0`, b.c.ID); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	codes := map[string]int{} // "status/code" → recipients
	for _, m := range msgs {
		counts[m.Status]++
		if m.Status != "delivered" {
			codes[fmt.Sprintf("%s/%d", m.Status, m.ErrorCode)]++
		}
	}
	if counts["undelivered"] == 0 || counts["failed"] != 1 {
		t.Fatalf("simulator split %v: want undelivered ones and one failed (30001)", counts)
	}

	t.Run("delivery rate per campaign", func(t *testing.T) {
		rows := runCookbook(t, b, "delivery_rate.sql")
		if len(rows) != 2 || rows[0]["name"] != "empty" || rows[0]["delivered_pct"] != nil {
			t.Fatalf("rows %v: want the empty campaign first, with no rate", rows)
		}
		r := rows[1]
		want := 100 * float64(counts["delivered"]) / float64(n-1)
		if r["total"] != float64(n) || r["delivered"] != float64(counts["delivered"]) ||
			r["undelivered"] != float64(counts["undelivered"]) || r["failed"] != float64(counts["failed"]) {
			t.Errorf("spring-sale %v, simulator %v", r, counts)
		}
		// The view rounds the fraction to 4 places (±0.005 points), the
		// query the percentage to one (±0.05).
		if pct, _ := r["delivered_pct"].(float64); math.Abs(pct-want) > 0.0551 {
			t.Errorf("delivered_pct %v, want %.1f", r["delivered_pct"], want)
		}
	})

	t.Run("failures by error code", func(t *testing.T) {
		got := map[string]int{}
		for _, r := range runCookbook(t, b, "failures_by_code.sql") {
			if r["error_description"] == nil || r["error_description"] == "" {
				t.Errorf("row %v has no description", r)
			}
			got[fmt.Sprintf("%s/%v", r["status"], r["error_code"])] = int(r["recipients"].(float64))
		}
		if fmt.Sprint(got) != fmt.Sprint(codes) {
			t.Errorf("failures %v, simulator %v", got, codes)
		}
	})

	t.Run("not delivered after an hour", func(t *testing.T) {
		var want []string
		for i := 0; i < n; i += 2 { // even source_line = i + 2
			phone := fmt.Sprintf("+1415555%04d", i)
			if m, ok := msgs[phone]; ok && m.Status != "delivered" {
				want = append(want, phone)
			}
		}
		var got []string
		for _, r := range runCookbook(t, b, "not_delivered_after_an_hour.sql") {
			got = append(got, r["phone"].(string))
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("opted out later", func(t *testing.T) {
		var got []string
		for _, r := range runCookbook(t, b, "opted_out_later.sql") {
			got = append(got, r["phone"].(string))
			if r["source"] != "inbound" {
				t.Errorf("row %v: want source inbound", r)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, stoppers) {
			t.Errorf("got %v, want %v (not the one opted out before, not the stranger)", got, stoppers)
		}
	})
}
