package store_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/delivery"
	"github.com/smsblast/smsblast/store"
)

// sid makes a well-formed message sid from a number.
func sid(i int) string { return fmt.Sprintf("SM%032x", i) }

// callback builds a parsed status event the way the handler would.
func callback(t testing.TB, msgSID, status, to string, extra ...string) *campaign.StatusEvent {
	t.Helper()
	f := url.Values{"MessageSid": {msgSID}, "MessageStatus": {status}, "To": {to}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	ev, err := delivery.ParseStatusCallback(f)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// accepted claims all n recipients as worker w and records each accepted
// with sid(i) for the i-th claimed row. It returns phone by sid.
func accepted(t *testing.T, st *store.Store, c *campaign.Campaign, n int) map[string]string {
	t.Helper()
	ctx := context.Background()
	claims, _, err := claim(ctx, st, c.ID, "w", n)
	if err != nil || len(claims) != n {
		t.Fatalf("claim: %d rows, %v", len(claims), err)
	}
	phones := map[string]string{}
	var outs []campaign.Outcome
	for i, cl := range claims {
		outs = append(outs, campaign.Outcome{RecipientID: cl.RecipientID, Attempt: cl.Attempt,
			Status: campaign.Accepted, MessageSID: sid(i), TwilioStatus: "queued", SentAt: time.Now()})
		phones[sid(i)] = cl.Phone
	}
	if k, err := st.Record(ctx, c.ID, "w", outs); err != nil || k != n {
		t.Fatalf("record: %d, %v", k, err)
	}
	return phones
}

type rowState struct {
	status, twilioStatus, errMsg string
	code                         int
	delivered                    *time.Time
}

func stateOf(t *testing.T, st *store.Store, msgSID string) rowState {
	t.Helper()
	var r rowState
	err := st.Pool().QueryRow(context.Background(), `
		SELECT status, coalesce(twilio_status, ''), coalesce(error_code, 0), coalesce(error_message, ''), delivered_at
		FROM recipients WHERE message_sid = $1`, msgSID).Scan(&r.status, &r.twilioStatus, &r.code, &r.errMsg, &r.delivered)
	if err != nil {
		t.Fatalf("read recipient %s: %v", msgSID, err)
	}
	return r
}

// A recipient only moves up; duplicates and late callbacks change nothing;
// the first final verdict stays.
func TestRecordStatusOrdering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		events   []string // Twilio statuses in arrival order; "undelivered" and "failed" carry 30003
		want     string
		wantTw   string
		wantCode int
		results  []campaign.StatusResult
	}{
		{"in order", []string{"sent", "delivered"}, "delivered", "delivered", 0,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusApplied}},
		{"late sent after delivered", []string{"delivered", "sent"}, "delivered", "delivered", 0,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusStale}},
		{"duplicates", []string{"sent", "sent", "delivered", "delivered"}, "delivered", "delivered", 0,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusStale, campaign.StatusApplied, campaign.StatusStale}},
		{"undelivered with code", []string{"sent", "undelivered"}, "undelivered", "undelivered", 30003,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusApplied}},
		{"failed after delivered keeps the first verdict", []string{"delivered", "failed"}, "delivered", "delivered", 0,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusStale}},
		{"delivered after undelivered keeps the first verdict", []string{"undelivered", "delivered"}, "undelivered", "undelivered", 30003,
			[]campaign.StatusResult{campaign.StatusApplied, campaign.StatusStale}},
		{"queued after accepted is stale", []string{"queued"}, "accepted", "queued", 0,
			[]campaign.StatusResult{campaign.StatusStale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, c := sendFixture(t, 1)
			phones := accepted(t, st, c, 1)
			ctx := context.Background()
			for i, s := range tt.events {
				var extra []string
				if s == "undelivered" || s == "failed" {
					extra = []string{"ErrorCode", "30003"}
				}
				res, err := st.RecordStatus(ctx, callback(t, sid(0), s, phones[sid(0)], extra...))
				if err != nil {
					t.Fatal(err)
				}
				if res != tt.results[i] {
					t.Errorf("event %d (%s): %v, want %v", i, s, res, tt.results[i])
				}
			}
			got := stateOf(t, st, sid(0))
			if got.status != tt.want || got.twilioStatus != tt.wantTw || got.code != tt.wantCode {
				t.Errorf("recipient %+v, want status %s, twilio_status %s, code %d", got, tt.want, tt.wantTw, tt.wantCode)
			}
			if tt.wantCode != 0 && got.errMsg == "" {
				t.Error("error_message empty: want the code's description")
			}
			if (got.status == "delivered") != (got.delivered != nil) {
				t.Errorf("status %s with delivered_at %v", got.status, got.delivered)
			}
			var events, unapplied int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE applied_at IS NULL)
				FROM message_events WHERE message_sid = $1`, sid(0)).Scan(&events, &unapplied); err != nil {
				t.Fatal(err)
			}
			if events != len(tt.events) || unapplied != 0 {
				t.Errorf("message_events: %d rows (%d unapplied), want %d, all applied", events, unapplied, len(tt.events))
			}
		})
	}
}

func TestRecordStatusDeliveredAtFromReceipt(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 1)
	phones := accepted(t, st, c, 1)
	if _, err := st.RecordStatus(context.Background(),
		callback(t, sid(0), "delivered", phones[sid(0)], "RawDlrDoneDate", "2401021530")); err != nil {
		t.Fatal(err)
	}
	got := stateOf(t, st, sid(0))
	want := time.Date(2024, 1, 2, 15, 30, 0, 0, time.UTC)
	if got.delivered == nil || !got.delivered.Equal(want) {
		t.Errorf("delivered_at %v, want %v", got.delivered, want)
	}
}

// The race: callbacks arrive before the sender's Record wrote the sid. They
// wait unapplied, and Record applies the best of them.
func TestCallbackBeforeRecord(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 2)
	ctx := context.Background()
	claims, _, err := claim(ctx, st, c.ID, "w", 2)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claim: %v %v", claims, err)
	}
	// Recipient 0: sent then delivered arrive reordered, both early.
	// Recipient 1: undelivered 30005 arrives early.
	for _, ev := range []*campaign.StatusEvent{
		callback(t, sid(0), "delivered", claims[0].Phone),
		callback(t, sid(0), "sent", claims[0].Phone),
		callback(t, sid(1), "undelivered", claims[1].Phone, "ErrorCode", "30005"),
	} {
		res, err := st.RecordStatus(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if res != campaign.StatusBuffered {
			t.Errorf("%s %s before Record: %v, want buffered", ev.MessageSID, ev.TwilioStatus, res)
		}
	}
	var outs []campaign.Outcome
	for i, cl := range claims {
		outs = append(outs, campaign.Outcome{RecipientID: cl.RecipientID, Attempt: cl.Attempt,
			Status: campaign.Accepted, MessageSID: sid(i), TwilioStatus: "queued"})
	}
	if n, err := st.Record(ctx, c.ID, "w", outs); err != nil || n != 2 {
		t.Fatalf("record: %d %v", n, err)
	}
	if got := stateOf(t, st, sid(0)); got.status != "delivered" || got.delivered == nil {
		t.Errorf("recipient 0: %+v, want delivered with delivered_at", got)
	}
	if got := stateOf(t, st, sid(1)); got.status != "undelivered" || got.code != 30005 {
		t.Errorf("recipient 1: %+v, want undelivered 30005", got)
	}
	var unapplied int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events WHERE applied_at IS NULL`).Scan(&unapplied); err != nil {
		t.Fatal(err)
	}
	if unapplied != 0 {
		t.Errorf("%d events still unapplied after Record", unapplied)
	}
	// A callback for a message smsblast never sent stays unapplied, harmlessly.
	if res, err := st.RecordStatus(ctx, callback(t, sid(99), "delivered", "+14155550199")); err != nil || res != campaign.StatusBuffered {
		t.Errorf("unknown sid: %v, %v", res, err)
	}
}

// The race under load: senders' Records and callbacks interleave freely on
// many recipients; every recipient must end delivered, whichever side won.
func TestCallbackRaceWithRecord(t *testing.T) {
	t.Parallel()
	const n = 400
	st, c := sendFixture(t, n)
	ctx := context.Background()
	claims, _, err := claim(ctx, st, c.ID, "w", n)
	if err != nil || len(claims) != n {
		t.Fatalf("claim: %d %v", len(claims), err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	// Records in batches of 20, as the engine does.
	wg.Go(func() {
		for i := 0; i < n; i += 20 {
			var outs []campaign.Outcome
			for j := i; j < i+20; j++ {
				outs = append(outs, campaign.Outcome{RecipientID: claims[j].RecipientID, Attempt: claims[j].Attempt,
					Status: campaign.Accepted, MessageSID: sid(j), TwilioStatus: "queued"})
			}
			if _, err := st.Record(ctx, c.ID, "w", outs); err != nil {
				errs <- err
			}
		}
	})
	// Callbacks from 8 goroutines, delivered before sent for odd ones.
	for g := range 8 {
		wg.Go(func() {
			for j := g; j < n; j += 8 {
				order := []string{"sent", "delivered"}
				if j%2 == 1 {
					order = []string{"delivered", "sent"}
				}
				for _, s := range order {
					if _, err := st.RecordStatus(ctx, callback(t, sid(j), s, claims[j].Phone)); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rows, err := st.Pool().Query(ctx, `SELECT status, count(*) FROM recipients WHERE campaign_id = $1 GROUP BY 1`, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for rows.Next() {
		var s string
		var k int
		if err := rows.Scan(&s, &k); err != nil {
			t.Fatal(err)
		}
		counts[s] = k
	}
	if counts["delivered"] != n {
		t.Errorf("statuses %v, want all %d delivered", counts, n)
	}
	var unapplied int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events WHERE applied_at IS NULL`).Scan(&unapplied); err != nil {
		t.Fatal(err)
	}
	if unapplied != 0 {
		t.Errorf("%d events left unapplied", unapplied)
	}
}

func TestOptOutOptIn(t *testing.T) {
	t.Parallel()
	st, _ := sendFixture(t, 0)
	ctx := context.Background()
	const p = "+14155550100"
	if added, err := st.OptOut(ctx, p, "replied STOP", "inbound"); err != nil || !added {
		t.Fatalf("opt out: %v %v", added, err)
	}
	if added, err := st.OptOut(ctx, p, "replied QUIT", "inbound"); err != nil || added {
		t.Fatalf("second opt out: added=%v %v, want kept as is", added, err)
	}
	if removed, err := st.OptIn(ctx, p); err != nil || !removed {
		t.Fatalf("opt in: %v %v", removed, err)
	}
	// A manual opt-out is not undone by a text.
	if _, err := st.OptOut(ctx, p, "complaint", "manual"); err != nil {
		t.Fatal(err)
	}
	if removed, err := st.OptIn(ctx, p); err != nil || removed {
		t.Fatalf("opt in over a manual opt-out: removed=%v %v", removed, err)
	}
}
