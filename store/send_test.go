package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// sendFixture is a campaign with n pending recipients.
func sendFixture(t *testing.T, n int) (*store.Store, *campaign.Campaign) {
	t.Helper()
	st := pgtest.Store(t)
	ctx := context.Background()
	c := &campaign.Campaign{Name: "fence", From: "+15005550006", BodyTemplate: "hi"}
	if err := st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{c.ID, fmt.Sprintf("+1415555%04d", i), map[string]string{}}
	}
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
		[]string{"campaign_id", "phone", "attrs"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return st, c
}

// claim claims up to n due recipients for worker the way a single-sender
// campaign does: every one from +15005550006, opted-out numbers skipped.
func claim(ctx context.Context, st *store.Store, campaignID int64, worker string, n int) ([]campaign.Claim, int, error) {
	claims, counts, err := st.Claim(ctx, campaign.ClaimRequest{
		CampaignID: campaignID, WorkerID: worker, N: n, Lease: time.Minute, Now: time.Now(),
		Decide: func(cs *campaign.ClaimState) []campaign.Decision {
			ds := make([]campaign.Decision, len(cs.Candidates))
			for i, c := range cs.Candidates {
				if c.OptedOut {
					ds[i].Skip = "opted out"
				} else {
					ds[i].Sender = "+15005550006"
				}
			}
			return ds
		},
	})
	return claims, counts.Skipped, err
}

// Invariant 3: once another worker took a row over, the first worker's
// outcome is not written, and the second's is.
func TestRecordIsFenced(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 3)
	ctx := context.Background()
	claims, _, err := claim(ctx, st, c.ID, "A", 10)
	if err != nil || len(claims) != 3 {
		t.Fatalf("claim: %d rows, %v", len(claims), err)
	}
	if claims[0].Attempt != 1 {
		t.Fatalf("attempt %d, want 1", claims[0].Attempt)
	}
	// A dies; its leases are ended; B takes the rows for reconciliation.
	if _, err := st.ExpireLeases(ctx, c.ID, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	// A can no longer renew them.
	kept, err := st.RenewLeases(ctx, "A", []int64{claims[0].RecipientID}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 {
		t.Fatalf("renew before takeover kept %v", kept)
	}
	if _, err := st.ExpireLeases(ctx, c.ID, []string{"A"}); err != nil {
		t.Fatal(err)
	}
	doubt, err := st.ClaimInDoubt(ctx, c.ID, "B", 10, time.Minute)
	if err != nil || len(doubt) != 3 {
		t.Fatalf("claim in doubt: %d rows, %v", len(doubt), err)
	}
	if doubt[0].InDoubtSince.IsZero() {
		t.Error("in_doubt_since not set")
	}
	kept, err = st.RenewLeases(ctx, "A", []int64{claims[0].RecipientID}, time.Minute)
	if err != nil || len(kept) != 0 {
		t.Fatalf("A renewed a row B holds: %v, %v", kept, err)
	}
	id := claims[0].RecipientID
	late := campaign.Outcome{RecipientID: id, Attempt: 1, Status: campaign.Failed, ErrorCode: 21211}
	if n, err := st.Record(ctx, c.ID, "A", []campaign.Outcome{late}); err != nil || n != 0 {
		t.Fatalf("A's late write applied %d rows (%v), want 0", n, err)
	}
	found := campaign.Outcome{RecipientID: id, Attempt: 1, Status: campaign.Accepted, MessageSID: "SM0123",
		TwilioStatus: "queued", Audit: &campaign.Audit{StartedAt: time.Now(), Result: "found"}}
	if n, err := st.Record(ctx, c.ID, "B", []campaign.Outcome{found}); err != nil || n != 1 {
		t.Fatalf("B's write applied %d rows (%v), want 1", n, err)
	}
	var status, sid string
	if err := st.Pool().QueryRow(ctx, `SELECT status, message_sid FROM recipients WHERE id = $1`, id).Scan(&status, &sid); err != nil {
		t.Fatal(err)
	}
	if status != "accepted" || sid != "SM0123" {
		t.Errorf("row is %s/%s, want accepted/SM0123", status, sid)
	}
}

// SKIP LOCKED: concurrent claimers get disjoint rows, and every row once.
func TestClaimsAreDisjoint(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 500)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Go(func() {
			worker := fmt.Sprint("W", w)
			for {
				claims, _, err := claim(ctx, st, c.ID, worker, 17)
				if err != nil {
					t.Error(err)
					return
				}
				if len(claims) == 0 {
					return
				}
				mu.Lock()
				for _, cl := range claims {
					if other, dup := seen[cl.RecipientID]; dup {
						t.Errorf("recipient %d claimed by %s and %s", cl.RecipientID, other, worker)
					}
					seen[cl.RecipientID] = worker
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 500 {
		t.Errorf("%d rows claimed, want 500", len(seen))
	}
}

// Opted-out numbers are skipped at claim; unclaimed rows get their attempt
// back and a retry delay.
func TestClaimSkipsOptOutsAndUnclaimGivesBack(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 4)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO opt_outs (phone) VALUES ('+14155550002')`); err != nil {
		t.Fatal(err)
	}
	claims, skipped, err := claim(ctx, st, c.ID, "A", 10)
	if err != nil || len(claims) != 3 || skipped != 1 {
		t.Fatalf("claim: %d rows, %d skipped, %v", len(claims), skipped, err)
	}
	sort.Slice(claims, func(i, j int) bool { return claims[i].RecipientID < claims[j].RecipientID })
	back := campaign.Outcome{RecipientID: claims[0].RecipientID, Attempt: 1, Status: campaign.Pending,
		Unclaim: true, RetryIn: time.Hour}
	if n, err := st.Record(ctx, c.ID, "A", []campaign.Outcome{back}); err != nil || n != 1 {
		t.Fatalf("unclaim: %d, %v", n, err)
	}
	var attempts int
	var due time.Time
	if err := st.Pool().QueryRow(ctx, `SELECT attempts, next_attempt_at FROM recipients WHERE id = $1`,
		claims[0].RecipientID).Scan(&attempts, &due); err != nil {
		t.Fatal(err)
	}
	if attempts != 0 || time.Until(due) < 50*time.Minute {
		t.Errorf("after unclaim: attempts %d, due in %v; want 0 and about an hour", attempts, time.Until(due))
	}
	rem, err := st.Remaining(ctx, c.ID)
	if err != nil || rem.Pending != 1 || rem.Sending != 2 {
		t.Errorf("remaining %+v, %v; want 1 pending, 2 sending", rem, err)
	}
}

// A fractional rate (one message every two seconds) is stored as given.
func TestUpdateSendingKeepsFractions(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 0)
	ctx := context.Background()
	if err := st.UpdateSending(ctx, c.ID, 0.5, 0); err != nil {
		t.Fatal(err)
	}
	got, err := st.CampaignByName(ctx, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rate != 0.5 || got.Concurrency != c.Concurrency {
		t.Errorf("rate %v, concurrency %d; want 0.5 and %d unchanged", got.Rate, got.Concurrency, c.Concurrency)
	}
}

// An import that commits while CompleteCampaign waits for the campaign's
// row is seen: its recipients are not left pending in a completed campaign.
func TestCompleteCampaignSeesAnImportItWaitedFor(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 0)
	ctx := context.Background()
	if _, err := st.StartCampaign(ctx, c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// What an import does: insert its rows, then lock the campaign's row
	// to read its status, then commit.
	imp, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Rollback(ctx)
	if _, err := imp.Exec(ctx, `INSERT INTO recipients (campaign_id, phone, attrs) VALUES ($1, '+14155550100', '{}')`, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := imp.Exec(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, c.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		done bool
		err  error
	}
	completed := make(chan result, 1)
	go func() {
		done, err := st.CompleteCampaign(ctx, c.ID)
		completed <- result{done, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CompleteCampaign never waited for the import's lock")
		}
	}
	if err := imp.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-completed
	if r.err != nil {
		t.Fatal(r.err)
	}
	var status string
	if err := st.Pool().QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1`, c.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if r.done || status != "running" {
		t.Errorf("CompleteCampaign = %v, campaign %s; want false and running, with the imported recipient pending", r.done, status)
	}
	// Once it is sent, the campaign completes, and a second worker asking
	// after the first hears that it is completed too.
	if _, err := st.Pool().Exec(ctx, `UPDATE recipients SET status = 'sent' WHERE campaign_id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if done, err := st.CompleteCampaign(ctx, c.ID); err != nil || !done {
			t.Errorf("CompleteCampaign #%d = %v, %v; want true", i+1, done, err)
		}
	}
}
