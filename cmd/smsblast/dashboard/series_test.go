package dashboard

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// The charts' buckets read a little at a time are those read whole: after
// new sends and verdicts within the margin, and, after a refresh of the
// whole hour, a send recorded long after it started.
func TestSeriesReadIncrementally(t *testing.T) {
	t.Parallel()
	b := newTestBundle(t, "", "")
	ctx := context.Background()
	id := b.c.ID
	now0 := time.Now()
	if _, err := b.st.EnsurePartitions(ctx, now0); err != nil {
		t.Fatal(err)
	}
	// addSends records a send per second of [from, to) for the
	// campaign's first recipient; verdict moves the pending recipients
	// to delivered at t.
	addSends := func(from, to time.Time) {
		t.Helper()
		if _, err := b.st.Pool().Exec(ctx, `
			INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, latency_ms, http_status, outcome)
			SELECT (SELECT min(id) FROM recipients WHERE campaign_id = $1), $1, 1, 'test', g, 50, 201, 'accepted'
			FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 second', interval '1 second') g`,
			id, from, to); err != nil {
			t.Fatal(err)
		}
	}
	whole := func(now time.Time) (any, any) {
		t.Helper()
		sends, err := b.st.SendSeries(ctx, id, windowStart(now, sendStep, int(chartWindow/sendStep)), sendStep)
		if err != nil {
			t.Fatal(err)
		}
		verdicts, err := b.st.VerdictSeries(ctx, id, windowStart(now, verdictStep, int(chartWindow/verdictStep)), verdictStep)
		if err != nil {
			t.Fatal(err)
		}
		return sends, verdicts
	}
	check := func(what string, now time.Time, wantSame bool) {
		t.Helper()
		sends, verdicts, err := b.d.readSeries(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		wantSends, wantVerdicts := whole(now)
		same := reflect.DeepEqual(any(sends), wantSends) && reflect.DeepEqual(any(verdicts), wantVerdicts)
		if same != wantSame {
			t.Errorf("%s: read in parts equal to read whole: %v, want %v\nparts: %v %v\nwhole: %v %v",
				what, same, wantSame, sends, verdicts, wantSends, wantVerdicts)
		}
	}

	addSends(now0.Add(-30*time.Minute), now0)
	check("first read", now0, true)

	now1 := now0.Add(20 * time.Second)
	addSends(now0.Add(-40*time.Second), now1) // within the margin of the last read
	if _, err := b.st.Pool().Exec(ctx, `
		UPDATE recipients SET status = 'delivered', updated_at = $2
		WHERE campaign_id = $1 AND status = 'pending'`, id, now0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	check("new sends and verdicts", now1, true)

	now2 := now1.Add(20 * time.Second)
	addSends(now0.Add(-20*time.Minute), now0.Add(-19*time.Minute)) // recorded long after it started
	check("a late send, before the refresh", now2, false)
	check("a late send, at the refresh", now0.Add(seriesRefresh), true)
}
