package store

import (
	"context"
	"errors"
	"fmt"

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
		// NO KEY UPDATE, not UPDATE: a sender's Record holds its counter
		// row (see counters.go) while its audit rows' foreign key takes KEY
		// SHARE on this campaign row, and the requeue below needs a counter
		// row too; FOR UPDATE would make the two wait for each other.
		var status campaign.Status
		if err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, campaignID).Scan(&status); err != nil {
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
