package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// Campaign administration: the statements behind send's settings, pause,
// cancel, retry and status.

// UpdateSending stores a campaign's rate and concurrency; zero leaves a
// value as it is. Running senders pick the rate up at their next heartbeat.
func (s *Store) UpdateSending(ctx context.Context, id int64, rate float64, concurrency int) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE campaigns SET
			rate        = CASE WHEN $2::float8 > 0 THEN $2::float8 ELSE rate END,
			concurrency = CASE WHEN $3::int > 0 THEN $3::int ELSE concurrency END,
			updated_at  = now()
		WHERE id = $1`, id, rate, concurrency)
	if err != nil {
		return fmt.Errorf("update campaign %d settings: %w", id, err)
	}
	return nil
}

// SetStatus pauses or cancels a campaign by name, with a reason. Pausing
// applies to draft and running campaigns; canceling to any not completed.
// It returns the status the campaign had.
func (s *Store) SetStatus(ctx context.Context, name string, to campaign.Status, reason string) (campaign.Status, error) {
	var from campaign.Status
	err := s.pool.QueryRow(ctx, `
		WITH old AS (SELECT id, status FROM campaigns WHERE name = $1 FOR UPDATE)
		UPDATE campaigns c SET
			status = CASE
				WHEN $2 = 'paused'   AND old.status IN ('draft', 'scheduled', 'running')           THEN 'paused'
				WHEN $2 = 'canceled' AND old.status IN ('draft', 'scheduled', 'running', 'paused') THEN 'canceled'
				ELSE old.status END,
			status_reason = CASE
				WHEN old.status IN ('completed', 'canceled') OR ($2 = 'paused' AND old.status = 'paused')
				THEN c.status_reason ELSE $3 END,
			updated_at = now()
		FROM old WHERE c.id = old.id
		RETURNING old.status`, name, string(to), reason).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%s campaign %q: %w", verbFor(to), name, campaign.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("%s campaign %q: %w", verbFor(to), name, err)
	}
	return from, nil
}

func verbFor(s campaign.Status) string {
	if s == campaign.StatusCanceled {
		return "cancel"
	}
	return "pause"
}

// Requeue puts failed and undelivered recipients back to pending with a
// fresh set of attempts: those whose error code is in codes, or, with no
// codes, those whose code twilio_errors marks retryable and those that
// failed without a code (no answer after the last attempt). A completed
// campaign becomes paused so that `send` resumes it. The previous attempts
// stay in send_attempts. A canceled campaign is never sent again, so its
// verdicts stay as they are: ErrCanceled.
func (s *Store) Requeue(ctx context.Context, campaignID int64, codes []int) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The campaign's row lock orders this against a concurrent cancel.
		var status campaign.Status
		if err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, campaignID).Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return campaign.ErrNotFound
			}
			return err
		}
		if status == campaign.StatusCanceled {
			return campaign.ErrCanceled
		}
		tag, err := tx.Exec(ctx, `
			UPDATE recipients r SET
				status = 'pending', attempts = 0, next_attempt_at = now(),
				message_sid = NULL, twilio_status = NULL, error_code = NULL, error_message = NULL,
				sent_at = NULL, delivered_at = NULL, in_doubt_since = NULL, claimed_at = NULL,
				updated_at = now()
			WHERE r.campaign_id = $1 AND r.status IN ('failed', 'undelivered')
			  AND CASE WHEN cardinality($2::int[]) > 0 THEN r.error_code = ANY($2)
			      ELSE r.error_code IN (SELECT code FROM twilio_errors WHERE retryable)
			           OR (r.error_code IS NULL AND r.status = 'failed') END`,
			campaignID, codes)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if n == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `
			UPDATE campaigns SET status = 'paused', updated_at = now(),
			       status_reason = 'recipients requeued by retry: run send to resume'
			WHERE id = $1 AND status = 'completed'`, campaignID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("requeue recipients of campaign %d: %w", campaignID, err)
	}
	return n, nil
}

// Progress reads one campaign's progress. Counts read the campaign's rows
// (through the unique (campaign_id, phone) index); the current rate comes
// from the last ten seconds of the audit trail (its BRIN index on time).
func (s *Store) Progress(ctx context.Context, c *campaign.Campaign) (*campaign.Progress, error) {
	p := &campaign.Progress{Campaign: *c, Counts: map[campaign.RecipientStatus]int64{}}
	rows, err := s.pool.Query(ctx, `
		SELECT status, count(*) FROM recipients WHERE campaign_id = $1 GROUP BY status`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("count recipients of campaign %q: %w", c.Name, err)
	}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count recipients of campaign %q: %w", c.Name, err)
		}
		p.Counts[campaign.RecipientStatus(st)] = n
		p.Total += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count recipients of campaign %q: %w", c.Name, err)
	}
	var first, last *time.Time
	var sent int64
	err = s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM send_attempts
		        WHERE campaign_id = $1 AND outcome IN ('accepted', 'found')
		          AND started_at > now() - interval '10 seconds') / 10.0,
		       min(sent_at), max(sent_at), count(sent_at),
		       (SELECT count(*) FROM workers w WHERE w.campaign_id = $1 AND w.stopped_at IS NULL
		          AND w.heartbeat_at > now() - interval '10 seconds')
		FROM recipients WHERE campaign_id = $1`, c.ID).
		Scan(&p.CurrentRate, &first, &last, &sent, &p.LiveWorkers)
	if err != nil {
		return nil, fmt.Errorf("read rates of campaign %q: %w", c.Name, err)
	}
	if first != nil && last != nil {
		p.FirstSentAt, p.LastSentAt = *first, *last
		if d := last.Sub(*first).Seconds(); d > 0 && sent > 0 {
			p.AverageRate = float64(sent) / d
		}
	}
	rows, err = s.pool.Query(ctx, `
		SELECT r.error_code, coalesce(e.description, ''), count(*)
		FROM recipients r LEFT JOIN twilio_errors e ON e.code = r.error_code
		WHERE r.campaign_id = $1 AND r.error_code IS NOT NULL
		  AND r.status IN ('failed', 'undelivered', 'skipped')
		GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 5`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("count errors of campaign %q: %w", c.Name, err)
	}
	p.TopErrors, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.ErrorCount, error) {
		var e campaign.ErrorCount
		err := r.Scan(&e.Code, &e.Description, &e.Count)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("count errors of campaign %q: %w", c.Name, err)
	}
	return p, nil
}

// CampaignNames lists every campaign's name, oldest first.
func (s *Store) CampaignNames(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM campaigns ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return names, nil
}

// PendingByZone counts a campaign's pending recipients by their time zones
// (recipients.time_zones; "" for none), for status to tell which wait for
// their send window to open.
func (s *Store) PendingByZone(ctx context.Context, campaignID int64) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(time_zones, ''), count(*) FROM recipients
		WHERE campaign_id = $1 AND status = 'pending' GROUP BY 1`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("count pending recipients of campaign %d by zone: %w", campaignID, err)
	}
	out := map[string]int64{}
	var zones string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&zones, &n}, func() error {
		out[zones] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count pending recipients of campaign %d by zone: %w", campaignID, err)
	}
	return out, nil
}
