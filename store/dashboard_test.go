package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// dashboardFixture is three campaigns as the dashboard meets them: one
// running with recipients in every state, failures, send attempts and a
// live worker; one paused, half sent; one draft without recipients.
func dashboardFixture(t *testing.T) (*store.Store, []*campaign.Campaign) {
	t.Helper()
	st := pgtest.Store(t)
	ctx := context.Background()
	var cs []*campaign.Campaign
	for _, c := range []*campaign.Campaign{
		{Name: "running", From: "+15005550006", BodyTemplate: "hi", Status: campaign.StatusRunning},
		{Name: "paused", From: "+15005550006", BodyTemplate: "hi", Status: campaign.StatusPaused, StatusReason: "by a user"},
		{Name: "empty", From: "+15005550006", BodyTemplate: "hi"},
	} {
		if err := st.CreateCampaign(ctx, c); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	// Recipient i of "running" gets state i%8 (all eight states), a code on
	// the failures, a sid and segments on those Twilio took, and times an
	// hour apart at most.
	_, err := st.Pool().Exec(ctx, `
		INSERT INTO recipients (campaign_id, phone, status, attempts, error_code, message_sid, segments, sent_at, updated_at)
		SELECT $1, '+1415555' || lpad(g::text, 4, '0'), s.status, 1,
		       CASE s.status WHEN 'failed' THEN (ARRAY[21211, 21614])[1 + (g / 8) % 2] WHEN 'undelivered' THEN (ARRAY[30003, 30005, 30006])[1 + g % 3]
		                     WHEN 'skipped' THEN 21610 END,
		       CASE WHEN s.status IN ('accepted', 'sent', 'delivered', 'undelivered') THEN 'SM' || md5(g::text) END,
		       1 + g % 2,
		       CASE WHEN s.status IN ('accepted', 'sent', 'delivered', 'undelivered', 'failed') THEN now() - g * interval '1 second' END,
		       now() - g * interval '3 seconds'
		FROM generate_series(1, 800) g,
		     LATERAL (SELECT (ARRAY['pending', 'sending', 'accepted', 'sent', 'delivered', 'undelivered', 'failed', 'skipped'])[1 + g % 8] AS status) s`,
		cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO recipients (campaign_id, phone, status, attempts, message_sid, segments, sent_at)
		SELECT $1, '+1415666' || lpad(g::text, 4, '0'), CASE WHEN g <= 50 THEN 'delivered' ELSE 'pending' END, 1,
		       CASE WHEN g <= 50 THEN 'SMp' || md5(g::text) END, 2,
		       CASE WHEN g <= 50 THEN now() - interval '2 hours' + g * interval '1 minute' END
		FROM generate_series(1, 100) g`, cs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Accepted attempts: 30 within the last ten seconds (the current rate),
	// the rest spread over the hour; a retry that counts for nothing.
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, outcome)
		SELECT r.id, r.campaign_id, 1, 'w1',
		       CASE WHEN row_number() OVER (ORDER BY r.id) <= 30 THEN now() - interval '2 seconds'
		            ELSE now() - (row_number() OVER (ORDER BY r.id)) * interval '10 seconds' END,
		       CASE WHEN row_number() OVER (ORDER BY r.id) > 30 AND r.id % 50 = 0 THEN 'retry'
		            WHEN r.id % 7 = 0 THEN 'found' ELSE 'accepted' END
		FROM recipients r WHERE r.campaign_id = $1 AND r.message_sid IS NOT NULL`, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO workers (id, campaign_id, hostname, pid, heartbeat_at, stopped_at) VALUES
			('live', $1, 'h', 1, now(), NULL), ('stale', $1, 'h', 2, now() - interval '1 minute', NULL),
			('stopped', $1, 'h', 3, now(), now())`, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return st, cs
}

// The list of campaigns shows the figures `smsblast status` shows: for
// every campaign, Overviews' progress is Progress's (top errors aside), and
// its delivery rate is campaign_stats'. Overview of one campaign agrees.
func TestOverviews(t *testing.T) {
	t.Parallel()
	st, cs := dashboardFixture(t)
	ctx := context.Background()
	all, err := st.Overviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(cs) {
		t.Fatalf("%d overviews, want %d", len(all), len(cs))
	}
	stats, err := st.DeliveryStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range all {
		c := cs[i]
		p, err := st.Progress(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		p.TopErrors = nil
		if !reflect.DeepEqual(o.Progress, *p) {
			t.Errorf("%s: Overviews\n%+v\nProgress\n%+v", c.Name, o.Progress, *p)
		}
		if o.DeliveryRate != stats[i].DeliveryRate {
			t.Errorf("%s: delivery rate %v, campaign_stats %v", c.Name, o.DeliveryRate, stats[i].DeliveryRate)
		}
		one, err := st.Overview(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		one.TopErrors = nil
		if !reflect.DeepEqual(*one, o) {
			t.Errorf("%s: Overview\n%+v\nOverviews\n%+v", c.Name, *one, o)
		}
	}
	run := all[0]
	// 800 recipients, 100 per state; Twilio took accepted, sent, delivered
	// and undelivered (400), half with two segments.
	if run.Total != 800 || run.Counts[campaign.Delivered] != 100 || run.SegmentsSent != 600 ||
		run.DeliveryRate != 0.25 || run.CurrentRate != 3 || run.LiveWorkers != 1 || run.AverageRate == 0 {
		t.Errorf("running: %+v", run)
	}
	if e := all[2]; e.Total != 0 || len(e.Counts) != 0 || e.DeliveryRate != -1 || !e.FirstSentAt.IsZero() {
		t.Errorf("empty: %+v", e)
	}
}

// FailureCodes counts as Progress's top errors count, all codes of them.
func TestFailureCodes(t *testing.T) {
	t.Parallel()
	st, cs := dashboardFixture(t)
	ctx := context.Background()
	codes, err := st.FailureCodes(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 6 {
		t.Fatalf("%d codes, want 6 (2 failed, 3 undelivered, 21610): %+v", len(codes), codes)
	}
	p, err := st.Progress(ctx, cs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range p.TopErrors {
		f := codes[i]
		if f.Code != e.Code || f.Count != e.Count || f.Description != e.Description {
			t.Errorf("code %d: %+v; status's top error %+v", i, f, e)
		}
	}
	byCode := map[int]campaign.FailureCode{}
	for _, f := range codes {
		byCode[f.Code] = f
	}
	if f := byCode[21610]; f.Count != 100 || f.Requeueable != 0 || f.Retryable {
		t.Errorf("21610 (skipped): %+v", f)
	}
	if f := byCode[30003]; f.Requeueable != f.Count || !f.Retryable || f.Description == "" {
		t.Errorf("30003: %+v", f)
	}
	if none, err := st.FailureCodes(ctx, cs[2].ID); err != nil || len(none) != 0 {
		t.Errorf("empty campaign: %v, %v", none, err)
	}
}

func TestRecentFailures(t *testing.T) {
	t.Parallel()
	st, cs := dashboardFixture(t)
	fs, err := st.RecentFailures(context.Background(), cs[0].ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 5 {
		t.Fatalf("%d failures, want 5", len(fs))
	}
	for i, f := range fs {
		if f.Status != campaign.Failed && f.Status != campaign.Undelivered || f.ErrorCode == 0 || f.ErrorDescription == "" || f.Phone == "" {
			t.Errorf("failure %d: %+v", i, f)
		}
		if i > 0 && f.At.After(fs[i-1].At) {
			t.Errorf("failure %d at %v is newer than the one before it (%v)", i, f.At, fs[i-1].At)
		}
	}
	// g = 5 (undelivered) and 6 (failed) were updated last: 15 and 18 s ago.
	if fs[0].Phone != "+14155550005" || fs[1].Phone != "+14155550006" {
		t.Errorf("newest failures %s, %s; want +14155550005, +14155550006", fs[0].Phone, fs[1].Phone)
	}
}

// The series put each row in the bucket of its time, and add up to what
// was sent and decided in the period.
func TestSeries(t *testing.T) {
	t.Parallel()
	st, cs := dashboardFixture(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Hour)
	sends, err := st.SendSeries(ctx, cs[0].ID, since, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var accepted int64
	for i, b := range sends {
		accepted += b.Accepted
		if b.Start.Unix()%10 != 0 || (i > 0 && !b.Start.After(sends[i-1].Start)) {
			t.Errorf("bucket %d starts at %v", i, b.Start)
		}
	}
	var want int64
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM send_attempts WHERE campaign_id = $1
		AND outcome IN ('accepted', 'found') AND started_at >= $2`, cs[0].ID, since).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if accepted != want || want == 0 {
		t.Errorf("send series adds up to %d, want %d", accepted, want)
	}
	verdicts, err := st.VerdictSeries(ctx, cs[0].ID, since, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var delivered, undelivered int64
	for _, b := range verdicts {
		delivered += b.Delivered
		undelivered += b.Undelivered
	}
	// Recipients were updated 3 s apart, g = 1..800: all 40 minutes ago at most.
	if delivered != 100 || undelivered != 100 {
		t.Errorf("verdict series: %d delivered, %d undelivered; want 100 and 100", delivered, undelivered)
	}
	if _, err := st.SendSeries(ctx, cs[0].ID, since, 1500*time.Millisecond); err == nil {
		t.Error("a step of 1.5 s was accepted")
	}
}

func TestResumeCampaign(t *testing.T) {
	t.Parallel()
	st, cs := dashboardFixture(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `UPDATE campaigns SET started_at = now() WHERE id = $1`, cs[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetStatus(ctx, "empty", campaign.StatusPaused, "not yet"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c        *campaign.Campaign
		was, now campaign.Status
	}{
		{cs[1], campaign.StatusPaused, campaign.StatusRunning}, // started before: runnable
		{cs[2], campaign.StatusPaused, campaign.StatusDraft},   // never started: a draft again
		{cs[0], campaign.StatusRunning, campaign.StatusRunning},
	}
	for _, tt := range tests {
		was, err := st.ResumeCampaign(ctx, tt.c.ID)
		if err != nil || was != tt.was {
			t.Errorf("resume %s: was %q, %v; want %q", tt.c.Name, was, err, tt.was)
		}
		got, err := st.CampaignByID(ctx, tt.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tt.now || (tt.was == campaign.StatusPaused && got.StatusReason != "") {
			t.Errorf("%s after resume: %q (%q), want %q without a reason", tt.c.Name, got.Status, got.StatusReason, tt.now)
		}
	}
	if _, err := st.ResumeCampaign(ctx, 999); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("resume of an unknown id: %v", err)
	}
	if _, err := st.CampaignByID(ctx, 999); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("CampaignByID(999): %v", err)
	}
}
