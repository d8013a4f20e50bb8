package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// Benchmarks of the dashboard's server time: the handler from request to
// the last byte of the page, on real PostgreSQL, for the list of 1,000
// campaigns and for the page of one big campaign. Each reports
//
//   - ms/page-cold: the page with nothing cached, every read done (what
//     the first viewer after a start waits, and what every refresh costs
//     the database); this is ns/op;
//   - ms/page-warm: the page while the campaign's reads are cached (what
//     every viewer waits while someone watches, and every viewer of a
//     campaign whose reads take over 100 ms: they are refreshed in the
//     background, see cache.go);
//   - ms/status: the baseline, timed in the same run: the reads of
//     `smsblast status` for the same campaigns (store.Progress);
//   - x-status: cold page time over the baseline's.
//
// The big campaign has 100,000 recipients, or 10,000,000 with
// SMSBLAST_BENCH_10M=1 (its setup writes 19M rows with INSERT … SELECT
// generate_series and takes several minutes).

// benchServe runs one request through the dashboard, as a browser asks
// (gzip accepted), and checks it. It returns the page's size as sent.
func benchServe(b *testing.B, d *Dashboard, path string) int {
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body.String())
	}
	return w.Body.Len()
}

func benchDashboard(b *testing.B, st *store.Store) *Dashboard {
	d, err := New(Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	return d
}

// timeIt returns the mean duration of n runs of f.
func timeIt(n int, f func()) time.Duration {
	start := time.Now()
	for range n {
		f()
	}
	return time.Since(start) / time.Duration(n)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkCampaignsPage1000: the list of 1,000 campaigns of 100
// recipients each (100,000 rows), a fifth of them running with a live
// worker and recent sends. Baseline: `smsblast status` for every campaign.
func BenchmarkCampaignsPage1000(b *testing.B) {
	const campaigns, perCampaign = 1000, 100
	st := pgtest.Store(b)
	ctx := context.Background()
	pool := st.Pool()
	for _, q := range []string{
		`INSERT INTO campaigns (name, from_number, body_template, status, rate, started_at)
		 SELECT 'campaign-' || lpad(g::text, 4, '0'), '+15005550006', 'Hi {{.first_name}}',
		        (ARRAY['running', 'paused', 'completed', 'completed', 'draft'])[1 + g % 5], 10, now() - interval '1 hour'
		 FROM generate_series(1, ` + fmt.Sprint(campaigns) + `) g`,
		`INSERT INTO recipients (campaign_id, phone, status, attempts, message_sid, error_code, segments, sent_at, updated_at)
		 SELECT c.id, '+1' || (2000000000 + c.id * 1000 + g)::text, s.status, 1,
		        CASE WHEN s.status IN ('delivered', 'undelivered') THEN 'SM' || md5(c.id || '-' || g) END,
		        CASE s.status WHEN 'undelivered' THEN 30003 WHEN 'failed' THEN 21211 END, 1,
		        CASE WHEN s.status <> 'pending' THEN now() - g * interval '1 second' END, now() - g * interval '1 second'
		 FROM campaigns c, generate_series(1, ` + fmt.Sprint(perCampaign) + `) g,
		      LATERAL (SELECT CASE WHEN c.status = 'draft' OR (c.status <> 'completed' AND g > 60) THEN 'pending'
		                           WHEN g % 20 = 0 THEN 'undelivered' WHEN g % 50 = 1 THEN 'failed'
		                           ELSE 'delivered' END AS status) s`,
		`INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, outcome)
		 SELECT r.id, r.campaign_id, 1, 'bench', r.sent_at, CASE WHEN r.status = 'failed' THEN 'failed' ELSE 'accepted' END
		 FROM recipients r WHERE r.sent_at IS NOT NULL ORDER BY r.sent_at`,
		`INSERT INTO workers (id, campaign_id, hostname, pid)
		 SELECT 'w' || id, id, 'bench', 1 FROM campaigns WHERE status = 'running'`,
		`VACUUM ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	d := benchDashboard(b, st)
	bytes := 0
	for b.Loop() {
		d.list.drop(struct{}{})
		bytes = benchServe(b, d, "/")
	}
	cold := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	warm := timeIt(20, func() { benchServe(b, d, "/") })
	status := timeIt(3, func() {
		names, err := st.CampaignNames(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			c, err := st.CampaignByName(ctx, n)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Progress(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
	read := timeIt(3, func() {
		if _, err := st.Overviews(ctx); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(ms(cold), "ms/page-cold")
	b.ReportMetric(ms(warm), "ms/page-warm")
	b.ReportMetric(ms(read), "ms/overviews-read")
	b.ReportMetric(ms(status), "ms/status")
	b.ReportMetric(float64(cold)/float64(status), "x-status")
	b.ReportMetric(float64(bytes)/1024, "KiB-gzipped/page")
}

// BenchmarkCampaignPageBig: one campaign of 100,000 recipients (10M with
// SMSBLAST_BENCH_10M=1), 90% sent at 1,000 messages per second up to now,
// 5% undelivered, 3% failed, 2% still waiting for a receipt. Baseline:
// `smsblast status CAMPAIGN`'s read (store.Progress). Also reports each
// read of the page.
func BenchmarkCampaignPageBig(b *testing.B) {
	n := 100_000
	if os.Getenv("SMSBLAST_BENCH_10M") != "" {
		n = 10_000_000
	}
	const rate = 1000.0
	st := pgtest.Store(b)
	ctx := context.Background()
	c := &campaign.Campaign{Name: "big", From: "+15005550006", BodyTemplate: "Hi {{.first_name}}", Status: campaign.StatusRunning}
	if err := st.CreateCampaign(ctx, c); err != nil {
		b.Fatal(err)
	}
	sent := n * 9 / 10
	start := time.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{{
		// Recipient g was sent (g ≤ sent) at now - (sent - g) / rate.
		`INSERT INTO recipients (campaign_id, phone, attrs, source_line, status, attempts, message_sid, twilio_status,
		                         error_code, segments, sent_at, delivered_at, updated_at)
		 SELECT $1, '+1' || (2000000000 + g)::text, jsonb_build_object('first_name', 'n' || g), g + 1, s.status,
		        CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END,
		        CASE WHEN s.status IN ('sent', 'delivered', 'undelivered') THEN 'SM' || md5(g::text) END,
		        CASE WHEN s.status IN ('sent', 'delivered', 'undelivered') THEN s.status END,
		        CASE s.status WHEN 'failed' THEN 21211 WHEN 'undelivered' THEN (ARRAY[30003, 30005, 30007])[1 + g % 3] END,
		        1 + (g % 7 = 0)::int,
		        CASE WHEN s.status NOT IN ('pending', 'failed') THEN s.at END,
		        CASE WHEN s.status = 'delivered' THEN s.at + interval '2 seconds' END,
		        CASE WHEN s.status = 'pending' THEN now() - interval '3 hours' ELSE least(s.at + interval '2 seconds', now()) END
		 FROM generate_series(1, $2::int) g,
		      LATERAL (SELECT now() - ($3::int - g) / $4::float8 * interval '1 second' AS at,
		                      CASE WHEN g > $3 THEN 'pending' WHEN g % 100 < 3 THEN 'failed'
		                           WHEN g % 100 < 8 THEN 'undelivered' WHEN g % 100 < 10 THEN 'sent'
		                           ELSE 'delivered' END AS status) s`, []any{c.ID, n, sent, rate},
	}, {
		`INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, latency_ms, http_status,
		                           error_code, message_sid, outcome)
		 SELECT r.id, $1, 1, 'bench', now() - ($2::int - (r.source_line - 1)) / $3::float8 * interval '1 second', 50,
		        CASE WHEN r.status = 'failed' THEN 400 ELSE 201 END, CASE WHEN r.status = 'failed' THEN 21211 END,
		        r.message_sid, CASE WHEN r.status = 'failed' THEN 'failed' ELSE 'accepted' END
		 FROM recipients r WHERE r.campaign_id = $1 AND r.status <> 'pending' ORDER BY r.id`, []any{c.ID, sent, rate},
	}, {
		`INSERT INTO workers (id, campaign_id, hostname, pid) VALUES ('bench', $1, 'bench', 1)`, []any{c.ID},
	}} {
		if _, err := st.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Pool().Exec(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d recipients and their send attempts in %v", n, time.Since(start).Round(time.Second))

	d := benchDashboard(b, st)
	path := fmt.Sprintf("/campaigns/%d", c.ID)
	benchServe(b, d, path) // warm the server's own caches (plans, buffers)
	for b.Loop() {
		d.campaigns.drop(c.ID)
		benchServe(b, d, path)
	}
	cold := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	warm := timeIt(20, func() { benchServe(b, d, path) })
	status := timeIt(1, func() {
		if _, err := st.Progress(ctx, c); err != nil {
			b.Fatal(err)
		}
	})
	since := time.Now().Add(-chartWindow)
	for _, r := range []struct {
		unit string
		f    func() error
	}{
		{"ms/overview", func() error { _, err := st.Overview(ctx, c); return err }},
		{"ms/codes", func() error { _, err := st.FailureCodes(ctx, c.ID); return err }},
		{"ms/recent", func() error { _, err := st.RecentFailures(ctx, c.ID, recentFailures); return err }},
		{"ms/sends", func() error { _, err := st.SendSeries(ctx, c.ID, since, sendStep); return err }},
		{"ms/verdicts", func() error { _, err := st.VerdictSeries(ctx, c.ID, since, verdictStep); return err }},
	} {
		b.ReportMetric(ms(timeIt(1, func() {
			if err := r.f(); err != nil {
				b.Fatal(err)
			}
		})), r.unit)
	}
	b.ReportMetric(ms(cold), "ms/page-cold")
	b.ReportMetric(ms(warm), "ms/page-warm")
	b.ReportMetric(ms(status), "ms/status")
	b.ReportMetric(float64(cold)/float64(status), "x-status")
}
