package send

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/store/pgtest"
)

// BenchmarkClaimWithWindows: the cost of claims when every recipient's send
// window is judged (the default 08:00-21:00, recipients in every US zone,
// at a moment when it is open in all of them, so both claim the same rows),
// against the same claims of a campaign without a window, in the same run,
// on two 1,000,000-recipient campaigns. Set SMSBLAST_BENCH_1M=1 to run it.
func BenchmarkClaimWithWindows(b *testing.B) {
	if os.Getenv("SMSBLAST_BENCH_1M") == "" {
		b.Skip("set SMSBLAST_BENCH_1M=1 to load two 1M-recipient campaigns")
	}
	const n, batch, claims = 1_000_000, 500, 200
	st := pgtest.Store(b)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 19, 0, 0, 0, time.UTC) // 15:00 New York, 09:00 Honolulu
	runs := map[bool]*run{}
	for _, windowed := range []bool{false, true} {
		c := &campaign.Campaign{Name: fmt.Sprint("windows-", windowed), From: "+15005550006", BodyTemplate: "Hi",
			Concurrency: 10, MaxAttempts: 5, TZ: "America/New_York"}
		if windowed {
			c.Window = campaign.DefaultWindow
		}
		if err := st.CreateCampaign(ctx, c); err != nil {
			b.Fatal(err)
		}
		codes := []string{"212", "312", "303", "602", "415", "907", "808"}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			p := fmt.Sprintf("+1%s%07d", codes[i%len(codes)], 2000000+i/len(codes))
			i++
			return []any{c.ID, p, map[string]string{}, phone.TimeZones(p), now.Add(-time.Hour)}, nil
		})
		if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
			[]string{"campaign_id", "phone", "attrs", "time_zones", "next_attempt_at"}, src); err != nil {
			b.Fatal(err)
		}
		e := &Engine{store: st, cfg: Config{Now: func() time.Time { return now }}}
		r := &run{e: e, c: c, worker: "bench"}
		r.cur.Store(c)
		r.senders.Store(&senderSnapshot{})
		runs[windowed] = r
	}
	if _, err := st.Pool().Exec(ctx, "ANALYZE recipients"); err != nil {
		b.Fatal(err)
	}
	claim := func(r *run) time.Duration {
		start := time.Now()
		for range claims {
			req := campaign.ClaimRequest{CampaignID: r.c.ID, WorkerID: "bench", N: batch, Lease: time.Minute, Now: now, Pool: r.camp().Senders()}
			places := map[int64]*campaign.Place{}
			req.Decide = func(s *campaign.ClaimState) []campaign.Decision { return r.decide(r.senders.Load(), s, now, places) }
			got, counts, err := st.Claim(ctx, req)
			if err != nil || len(got) != batch || counts.Held != 0 {
				b.Fatalf("claim: %d claimed, %d held, %v", len(got), counts.Held, err)
			}
		}
		return time.Since(start)
	}
	for b.Loop() {
		b.StopTimer()
		without := claim(runs[false])
		with := claim(runs[true])
		b.ReportMetric(float64(without.Microseconds())/claims, "µs/claim-without")
		b.ReportMetric(float64(with.Microseconds())/claims, "µs/claim-with-windows")
		b.ReportMetric(with.Seconds()/without.Seconds(), "x-without")
		b.StartTimer()
	}
}
