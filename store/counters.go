package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// Per-campaign counters (migrations/00004_counters.sql): triggers on
// recipients keep, in the transaction that changes the rows, each
// campaign's recipients and segments by state, pending recipients by time
// zone, verdicts by error code, and the range of sent_at. Each is split in
// slots that readers sum, so that concurrent senders do not queue on one
// row; a campaign has at most 16 rows per counter, whatever its size.

// counterSums is the SELECT list that sums one campaign's slots of
// campaign_counters: each state's recipients in campaign.RecipientStatuses
// order, then those with a message sid, then those with a sent_at. Built
// from the list of states, so that a state without its column fails every
// read at once rather than counting nothing.
func counterSums() string {
	var b strings.Builder
	for _, st := range campaign.RecipientStatuses() {
		fmt.Fprintf(&b, "coalesce(sum(%s), 0)::bigint, ", st)
	}
	b.WriteString("coalesce(sum(with_sid), 0)::bigint, coalesce(sum(with_sent_at), 0)::bigint")
	return b.String()
}

// Progress reads one campaign's progress from its counters, the last ten
// seconds of the audit trail (the current rate: the week's partition of
// send_attempts, through its BRIN index on time) and its live workers: a
// few dozen rows read, however many recipients the campaign has.
func (s *Store) Progress(ctx context.Context, c *campaign.Campaign) (*campaign.Progress, error) {
	p := &campaign.Progress{Campaign: *c, Counts: map[campaign.RecipientStatus]int64{}}
	statuses := campaign.RecipientStatuses()
	counts := make([]int64, len(statuses))
	var withSID, withSentAt int64
	var first, last *time.Time
	dest := make([]any, 0, len(counts)+6)
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	dest = append(dest, &withSID, &withSentAt, &first, &last, &p.CurrentRate, &p.LiveWorkers)

	b := &pgx.Batch{}
	// campaign_counters' primary key (campaign_id, slot): the campaign's slots.
	b.Queue(`
		SELECT `+counterSums()+`, min(first_sent_at), max(last_sent_at),
		       (SELECT count(*) FROM send_attempts
		        WHERE campaign_id = $1 AND outcome IN ('accepted', 'found')
		          AND started_at > now() - interval '10 seconds') / 10.0,
		       (SELECT count(*) FROM workers w WHERE w.campaign_id = $1 AND w.stopped_at IS NULL
		          AND w.heartbeat_at > now() - interval '10 seconds')
		FROM campaign_counters WHERE campaign_id = $1`, c.ID).
		QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	// campaign_error_counters' primary key begins with campaign_id.
	b.Queue(`
		SELECT e.error_code, coalesce(t.description, ''), sum(e.recipients)::bigint
		FROM campaign_error_counters e LEFT JOIN twilio_errors t ON t.code = e.error_code
		WHERE e.campaign_id = $1
		GROUP BY 1, 2 HAVING sum(e.recipients) > 0
		ORDER BY 3 DESC, 1 LIMIT 5`, c.ID).
		Query(func(rows pgx.Rows) error {
			var err error
			p.TopErrors, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.ErrorCount, error) {
				var e campaign.ErrorCount
				err := r.Scan(&e.Code, &e.Description, &e.Count)
				return e, err
			})
			return err
		})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("read progress of campaign %q: %w", c.Name, err)
	}
	for i, st := range statuses {
		if counts[i] > 0 {
			p.Counts[st] = counts[i]
			p.Total += counts[i]
		}
	}
	if first != nil && last != nil {
		p.FirstSentAt, p.LastSentAt = *first, *last
		if d := last.Sub(*first).Seconds(); d > 0 && withSentAt > 0 {
			p.AverageRate = float64(withSentAt) / d
		}
	}
	return p, nil
}

// PendingByZone counts a campaign's pending recipients by their time zones
// (recipients.time_zones; "" for none), from its counters: for saying which
// wait for their send window to open.
func (s *Store) PendingByZone(ctx context.Context, campaignID int64) (map[string]int64, error) {
	zones, err := s.PendingZones(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(zones))
	for _, z := range zones {
		out[z.TimeZones] = z.Recipients
	}
	return out, nil
}

// PendingZones counts a campaign's pending recipients and their segments
// by recipients.time_zones ("" for the recipients whose zones are unknown),
// from its counters, most recipients first.
func (s *Store) PendingZones(ctx context.Context, campaignID int64) ([]campaign.ZoneCount, error) {
	// campaign_pending_zones' primary key begins with campaign_id.
	rows, err := s.pool.Query(ctx, `
		SELECT time_zones, sum(recipients)::bigint, sum(segments)::bigint
		FROM campaign_pending_zones WHERE campaign_id = $1
		GROUP BY 1 HAVING sum(recipients) <> 0
		ORDER BY 2 DESC, 1`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("count pending recipients of campaign %d by time zone: %w", campaignID, err)
	}
	zones, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.ZoneCount, error) {
		var z campaign.ZoneCount
		err := r.Scan(&z.TimeZones, &z.Recipients, &z.Segments)
		return z, err
	})
	if err != nil {
		return nil, fmt.Errorf("count pending recipients of campaign %d by time zone: %w", campaignID, err)
	}
	return zones, nil
}

// CounterCheck is the outcome of CheckCounters.
type CounterCheck struct {
	// Campaigns and Recipients are how many were recounted.
	Campaigns  int
	Recipients int64
	// Mismatches lists every counter that differs from the recount; none
	// when the counters are exact.
	Mismatches []CounterMismatch
}

// CounterMismatch is one counter that differs from a recount of the rows.
type CounterMismatch struct {
	Campaign string `json:"campaign"`
	// Counter names it: "pending", "delivered segments", "with a message
	// sid", "first sent_at", "pending in time zones America/New_York",
	// "failed with error 30003".
	Counter string `json:"counter"`
	// Counted is what the counters say, Actual what the rows say.
	Counted string `json:"counted"`
	Actual  string `json:"actual"`
}

// CheckCounters recounts every campaign's recipients from the rows and
// compares each counter with the recount. Both are read in one REPEATABLE
// READ snapshot, so the check is exact while senders run; it reads every
// recipient row three times (states, pending zones, error codes).
func (s *Store) CheckCounters(ctx context.Context) (*CounterCheck, error) {
	out := &CounterCheck{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := checkStateCounters(ctx, tx, out); err != nil {
			return err
		}
		if err := checkDetailCounters(ctx, tx, out); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check counters against the rows: %w", err)
	}
	return out, nil
}

// checkStateCounters compares campaign_counters with the recipients rows,
// campaign by campaign: the recount and the counters' sums side by side in
// one row per campaign, in the order their names list.
func checkStateCounters(ctx context.Context, tx pgx.Tx, out *CounterCheck) error {
	var names, actual, counted []string
	for _, st := range campaign.RecipientStatuses() {
		names = append(names, string(st))
		actual = append(actual, fmt.Sprintf("count(*) FILTER (WHERE r.status = '%s')", st))
		counted = append(counted, fmt.Sprintf("sum(k.%s)", st))
	}
	for _, st := range campaign.RecipientStatuses() {
		names = append(names, string(st)+" segments")
		actual = append(actual, fmt.Sprintf("sum(r.segments) FILTER (WHERE r.status = '%s')", st))
		counted = append(counted, fmt.Sprintf("sum(k.%s_segments)", st))
	}
	names = append(names, "with a message sid", "segments with a message sid", "with a sent_at")
	actual = append(actual, "count(r.message_sid)", "sum(r.segments) FILTER (WHERE r.message_sid IS NOT NULL)", "count(r.sent_at)")
	counted = append(counted, "sum(k.with_sid)", "sum(k.with_sid_segments)", "sum(k.with_sent_at)")
	for i := range actual {
		actual[i] = "coalesce(" + actual[i] + ", 0)::bigint"
		counted[i] = "coalesce(" + counted[i] + ", 0)::bigint"
	}
	// Two aggregates over the campaigns, each a single pass (recipients
	// sequentially, the counters by their primary key), joined by campaign.
	rows, err := tx.Query(ctx, `
		WITH actual AS (
			SELECT r.campaign_id, count(*) AS n, min(r.sent_at) AS first_sent_at, max(r.sent_at) AS last_sent_at,
			       ARRAY[`+strings.Join(actual, ", ")+`] AS v
			FROM recipients r GROUP BY r.campaign_id
		), counted AS (
			SELECT k.campaign_id, min(k.first_sent_at) AS first_sent_at, max(k.last_sent_at) AS last_sent_at,
			       ARRAY[`+strings.Join(counted, ", ")+`] AS v
			FROM campaign_counters k GROUP BY k.campaign_id
		)
		SELECT c.name, coalesce(a.n, 0), a.v, k.v, a.first_sent_at, k.first_sent_at, a.last_sent_at, k.last_sent_at
		FROM campaigns c
		LEFT JOIN actual a ON a.campaign_id = c.id
		LEFT JOIN counted k ON k.campaign_id = c.id
		ORDER BY c.id`)
	if err != nil {
		return fmt.Errorf("recount recipients by state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		var a, k []int64
		var aFirst, kFirst, aLast, kLast *time.Time
		if err := rows.Scan(&name, &n, &a, &k, &aFirst, &kFirst, &aLast, &kLast); err != nil {
			return fmt.Errorf("recount recipients by state: %w", err)
		}
		out.Campaigns++
		out.Recipients += n
		for i, counter := range names {
			var av, kv int64
			if i < len(a) {
				av = a[i]
			}
			if i < len(k) {
				kv = k[i]
			}
			if av != kv {
				out.Mismatches = append(out.Mismatches, CounterMismatch{Campaign: name, Counter: counter,
					Counted: fmt.Sprint(kv), Actual: fmt.Sprint(av)})
			}
		}
		for _, t := range []struct {
			counter string
			k, a    *time.Time
		}{{"first sent_at", kFirst, aFirst}, {"last sent_at", kLast, aLast}} {
			if !sameTime(t.k, t.a) {
				out.Mismatches = append(out.Mismatches, CounterMismatch{Campaign: name, Counter: t.counter,
					Counted: timeString(t.k), Actual: timeString(t.a)})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recount recipients by state: %w", err)
	}
	return nil
}

// checkDetailCounters compares the pending-by-zone and errors-by-code
// counters with the rows: a full join of the recount with the counters'
// sums, keeping only the keys where they differ (a counter summing to zero
// is the same as no counter).
func checkDetailCounters(ctx context.Context, tx pgx.Tx, out *CounterCheck) error {
	rows, err := tx.Query(ctx, `
		WITH actual AS (
			SELECT campaign_id, coalesce(time_zones, '') AS time_zones,
			       count(*) AS recipients, coalesce(sum(segments), 0) AS segments
			FROM recipients WHERE status = 'pending' GROUP BY 1, 2
		), counted AS (
			SELECT campaign_id, time_zones, sum(recipients) AS recipients, sum(segments) AS segments
			FROM campaign_pending_zones GROUP BY 1, 2
			HAVING sum(recipients) <> 0 OR sum(segments) <> 0
		)
		SELECT c.name, 'pending in time zones ' || CASE WHEN d.time_zones = '' THEN '(unknown)' ELSE d.time_zones END,
		       coalesce(k.recipients, 0)::text || ' (' || coalesce(k.segments, 0) || ' segments)',
		       coalesce(a.recipients, 0)::text || ' (' || coalesce(a.segments, 0) || ' segments)'
		FROM actual a FULL JOIN counted k USING (campaign_id, time_zones)
		CROSS JOIN LATERAL (SELECT coalesce(a.campaign_id, k.campaign_id) AS campaign_id,
		                           coalesce(a.time_zones, k.time_zones) AS time_zones) d
		JOIN campaigns c ON c.id = d.campaign_id
		WHERE (a.recipients, a.segments) IS DISTINCT FROM (k.recipients, k.segments)
		UNION ALL
		(WITH actual AS (
			SELECT campaign_id, status, error_code, count(*) AS recipients
			FROM recipients WHERE status IN ('failed', 'undelivered', 'skipped') AND error_code IS NOT NULL
			GROUP BY 1, 2, 3
		), counted AS (
			SELECT campaign_id, status, error_code, sum(recipients) AS recipients
			FROM campaign_error_counters GROUP BY 1, 2, 3 HAVING sum(recipients) <> 0
		)
		SELECT c.name, d.status || ' with error ' || d.error_code,
		       coalesce(k.recipients, 0)::text, coalesce(a.recipients, 0)::text
		FROM actual a FULL JOIN counted k USING (campaign_id, status, error_code)
		CROSS JOIN LATERAL (SELECT coalesce(a.campaign_id, k.campaign_id) AS campaign_id,
		                           coalesce(a.status, k.status) AS status,
		                           coalesce(a.error_code, k.error_code) AS error_code) d
		JOIN campaigns c ON c.id = d.campaign_id
		WHERE a.recipients IS DISTINCT FROM k.recipients)
		ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("recount pending recipients by zone and verdicts by error code: %w", err)
	}
	m, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CounterMismatch, error) {
		var m CounterMismatch
		err := r.Scan(&m.Campaign, &m.Counter, &m.Counted, &m.Actual)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("recount pending recipients by zone and verdicts by error code: %w", err)
	}
	out.Mismatches = append(out.Mismatches, m...)
	return nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func timeString(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
