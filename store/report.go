package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The read side of delivery results: `smsblast report` and the metrics of
// `smsblast serve`. Every statement reads the documented views where one
// exists, so the report shows exactly what a user's SQL would.

// ResultAttrKeys lists the attrs keys of a campaign's recipients, sorted:
// the CSV report's extra columns. Each import recorded its rows' keys
// (imports.attr_keys), so this reads a few rows of imports, however many
// recipients there are. It reads the recipients' own keys instead, one
// pass over the campaign's rows, when the imports cannot vouch for every
// recipient: an import older than attr_keys, or a count of recipients
// (from the counters) other than the imports' sum, when rows were inserted
// or deleted by hand. An UPDATE of attrs by hand it cannot see: the report
// says so when it meets a key it has no column for.
func (s *Store) ResultAttrKeys(ctx context.Context, campaignID int64) ([]string, error) {
	var known bool
	var imported, total int64
	var keys []string
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(bool_and(i.attr_keys IS NOT NULL), true), coalesce(sum(i.imported), 0)::bigint,
		       (SELECT coalesce(total, 0)::bigint FROM campaign_stats WHERE campaign_id = $1),
		       array(SELECT DISTINCT k FROM imports, unnest(attr_keys) AS k
		             WHERE campaign_id = $1 AND imported > 0 ORDER BY k)
		FROM imports i WHERE i.campaign_id = $1 AND i.imported > 0`, campaignID).Scan(&known, &imported, &total, &keys)
	if err != nil {
		return nil, fmt.Errorf("list attribute columns of campaign %d: %w", campaignID, err)
	}
	if known && imported == total {
		return keys, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT k FROM recipients, jsonb_object_keys(attrs) AS k
		WHERE campaign_id = $1 ORDER BY k`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("list attribute columns of campaign %d: %w", campaignID, err)
	}
	keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list attribute columns of campaign %d: %w", campaignID, err)
	}
	return keys, nil
}

// Results calls fn with each recipient_results row of the campaign whose
// status is in statuses (all when empty), in import order. Rows are decoded
// one at a time as they arrive from the server, so a million-row report runs
// in constant memory; fn must not keep r, which is reused. An error from fn
// stops the walk and is returned as is.
func (s *Store) Results(ctx context.Context, campaignID int64, statuses []campaign.RecipientStatus, fn func(r *campaign.Result) error) error {
	var filter []string
	for _, st := range statuses {
		filter = append(filter, string(st))
	}
	// The campaign's rows come through the (campaign_id, phone) unique index
	// and the status filter is applied to them; ORDER BY recipient_id keeps
	// the file in the order the CSV was imported.
	rows, err := s.pool.Query(ctx, `
		SELECT recipient_id, campaign, phone, attrs, coalesce(source_line, 0), status,
		       coalesce(twilio_status, ''), coalesce(error_code, 0), coalesce(error_description, ''),
		       coalesce(message_sid, ''), attempts, coalesce(segments, 0), sent_at, delivered_at,
		       updated_at, opted_out_at
		FROM recipient_results
		WHERE campaign_id = $1 AND (coalesce(cardinality($2::text[]), 0) = 0 OR status = ANY($2))
		ORDER BY recipient_id`, campaignID, filter)
	if err != nil {
		return fmt.Errorf("read results of campaign %d: %w", campaignID, err)
	}
	defer rows.Close()
	var r campaign.Result
	var attrs []byte
	for rows.Next() {
		r = campaign.Result{}
		if err := rows.Scan(&r.RecipientID, &r.Campaign, &r.Phone, &attrs, &r.SourceLine, &r.Status,
			&r.TwilioStatus, &r.ErrorCode, &r.ErrorDescription, &r.MessageSID, &r.Attempts, &r.Segments,
			&r.SentAt, &r.DeliveredAt, &r.UpdatedAt, &r.OptedOutAt); err != nil {
			return fmt.Errorf("read results of campaign %d: %w", campaignID, err)
		}
		if err := json.Unmarshal(attrs, &r.Attrs); err != nil {
			return fmt.Errorf("read results of campaign %d: decode attrs of recipient %d: %w", campaignID, r.RecipientID, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read results of campaign %d: %w", campaignID, err)
	}
	return nil
}

// DeliveryStats reads campaign_stats for every campaign. The view reads
// the campaigns' counters (see counters.go), a few rows per campaign
// whatever its size; the metrics collector still caches the answer.
func (s *Store) DeliveryStats(ctx context.Context) ([]campaign.DeliveryStats, error) {
	statuses := campaign.RecipientStatuses()
	cols := make([]string, len(statuses))
	for i, st := range statuses {
		cols[i] = "s." + string(st)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT s.campaign_id, s.name, s.campaign_status, s.total, `+strings.Join(cols, ", ")+`,
		       coalesce(s.delivery_rate, -1)::float8, coalesce(s.avg_rate, 0)::float8, coalesce(c.rate, 0)
		FROM campaign_stats s JOIN campaigns c ON c.id = s.campaign_id
		ORDER BY s.campaign_id`)
	if err != nil {
		return nil, fmt.Errorf("read campaign stats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.DeliveryStats, error) {
		var d campaign.DeliveryStats
		n := make([]int64, len(statuses))
		dest := []any{&d.CampaignID, &d.Name, &d.Status, &d.Total}
		for i := range n {
			dest = append(dest, &n[i])
		}
		dest = append(dest, &d.DeliveryRate, &d.AverageRate, &d.Rate)
		if err := r.Scan(dest...); err != nil {
			return d, err
		}
		d.Counts = make(map[campaign.RecipientStatus]int64, len(n))
		for i, st := range statuses {
			d.Counts[st] = n[i]
		}
		return d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaign stats: %w", err)
	}
	return out, nil
}

// SendCounts counts send attempts by campaign, outcome and error code: the
// audit trail as a counter. A full pass over send_attempts; cache it.
func (s *Store) SendCounts(ctx context.Context) ([]campaign.SendCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, a.outcome, coalesce(a.error_code, 0), count(*)
		FROM send_attempts a JOIN campaigns c ON c.id = a.campaign_id
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("count send attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.SendCount, error) {
		var c campaign.SendCount
		err := r.Scan(&c.Campaign, &c.Outcome, &c.Code, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count send attempts: %w", err)
	}
	return out, nil
}

// SendLatency builds, per campaign, a histogram of send request latencies
// from send_attempts over the given upper bounds (seconds, ascending). One
// pass: width_bucket sorts each latency into its bucket in SQL and the
// buckets are made cumulative here. A latency equal to a bound counts in the
// next bucket (width_bucket's bounds are lower bounds), a difference that
// does not matter at millisecond resolution.
func (s *Store) SendLatency(ctx context.Context, bounds []float64) ([]campaign.LatencyHistogram, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.name, width_bucket(a.latency_ms / 1000, $1::float8[]), count(*), sum(a.latency_ms) / 1000
		FROM send_attempts a JOIN campaigns c ON c.id = a.campaign_id
		WHERE a.latency_ms IS NOT NULL
		GROUP BY 1, 2 ORDER BY 1, 2`, bounds)
	if err != nil {
		return nil, fmt.Errorf("read send latencies: %w", err)
	}
	defer rows.Close()
	var out []campaign.LatencyHistogram
	for rows.Next() {
		var name string
		var bucket int
		var n int64
		var sum float64
		if err := rows.Scan(&name, &bucket, &n, &sum); err != nil {
			return nil, fmt.Errorf("read send latencies: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Campaign != name {
			out = append(out, campaign.LatencyHistogram{Campaign: name, Buckets: make(map[float64]uint64, len(bounds))})
			for _, b := range bounds {
				out[len(out)-1].Buckets[b] = 0
			}
		}
		h := &out[len(out)-1]
		h.Count += uint64(n)
		h.Sum += sum
		// Bucket i holds latencies in [bounds[i-1], bounds[i]): they count
		// toward every bound from bounds[i] up.
		for i := bucket; i < len(bounds); i++ {
			h.Buckets[bounds[i]] += uint64(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read send latencies: %w", err)
	}
	return out, nil
}
