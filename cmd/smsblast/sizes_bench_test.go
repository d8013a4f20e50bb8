package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// BenchmarkTableSizes sends a campaign of 20,000 recipients (a phone and
// two CSV columns each) through the simulator, whose status callbacks
// (sent, then delivered or undelivered) go to serve's handlers, lets
// VACUUM do what autovacuum would, and reports each table's size on disk
// (pg_total_relation_size: heap, indexes, TOAST) per recipient: how the
// tables grow per million recipients. The README's retention section
// quotes it.
func BenchmarkTableSizes(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		d := newDeliveryBundle(b, true)
		d.withSim(b, twiliosim.Options{Undelivered: 0.05, DeliverAfter: 10 * time.Millisecond})
		ctx := context.Background()
		c := &campaign.Campaign{Name: "sizes", From: "+15005550006", BodyTemplate: "Hi {{.first_name}}, your code is {{.code}}",
			StatusCallback: d.srv.URL + "/twilio/status", Rate: 1e6, Concurrency: 32, MaxAttempts: 5}
		if err := d.st.CreateCampaign(ctx, c); err != nil {
			b.Fatal(err)
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return []any{c.ID, fmt.Sprintf("+1415%07d", 2000000+i), map[string]string{
				"first_name": fmt.Sprintf("Name%d", i), "code": fmt.Sprint(100000 + i)}, i + 1, int32(1)}, nil
		})
		if _, err := d.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
			[]string{"campaign_id", "phone", "attrs", "source_line", "segments"}, src); err != nil {
			b.Fatal(err)
		}
		d.c = c
		d.send(b)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var final int
			if err := d.st.Pool().QueryRow(ctx, `SELECT count(*) FROM recipients
				WHERE status IN ('delivered', 'undelivered')`).Scan(&final); err != nil {
				b.Fatal(err)
			}
			if final == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d recipients final after two minutes", final, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := d.st.Pool().Exec(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
		for _, t := range []struct{ tables, unit string }{
			{"recipients", "recipients-B/recipient"},
			{"send_attempts", "send_attempts-B/recipient"},
			{"message_events", "message_events-B/recipient"},
			{"campaign_counters,campaign_pending_zones,campaign_error_counters", "counters-B/campaign"},
		} {
			// A partitioned table's size is its partitions'.
			var bytes int64
			if err := d.st.Pool().QueryRow(ctx, `
				SELECT sum(CASE WHEN c.relkind = 'p'
				                THEN (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(c.oid))
				                ELSE pg_total_relation_size(c.oid) END)::bigint
				FROM pg_class c WHERE c.oid = ANY($1::regclass[])`, strings.Split(t.tables, ",")).Scan(&bytes); err != nil {
				b.Fatal(err)
			}
			per := float64(bytes) / n
			if strings.HasPrefix(t.unit, "counters") {
				per = float64(bytes)
			}
			b.ReportMetric(per, t.unit)
			b.Logf("%s: %d bytes, %.0f per recipient (MB per million recipients)", t.tables, bytes, float64(bytes)/n)
		}
		var attempts, events int
		if err := d.st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM send_attempts), (SELECT count(*) FROM message_events)`).
			Scan(&attempts, &events); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d recipients: %d send_attempts rows, %d message_events rows", n, attempts, events)
	}
}
