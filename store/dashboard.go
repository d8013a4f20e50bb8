package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The statements behind the web dashboard of `smsblast serve`. Its figures
// must be the ones `smsblast status` prints, so a campaign's page reads
// Progress itself, and the list of campaigns, which reads every campaign at
// once, computes each figure with Progress's definition (TestOverviews
// holds them equal). Counting a campaign's recipients reads all its rows;
// the dashboard caches what it reads and shares it between viewers.

// CampaignByID returns the campaign with this id, or campaign.ErrNotFound.
// The dashboard names campaigns by id in its URLs: a name may hold any text.
func (s *Store) CampaignByID(ctx context.Context, id int64) (*campaign.Campaign, error) {
	// Primary key lookup.
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("look up campaign %d: %w", id, campaign.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up campaign %d: %w", id, err)
	}
	return c, nil
}

// overviewsSQL reads every campaign with its figures in one statement:
// its counters (a few rows per campaign, however many recipients: see
// store/counters.go), the last ten seconds of send_attempts through its BRIN
// index on started_at, and the live workers through workers_campaign_idx.
// Each figure is defined as in Progress and campaign_stats. The aggregates'
// names are distinct from campaigns' columns, so that campaignColumns needs
// no table prefix.
const overviewsSQL = `
	WITH r AS (
		SELECT campaign_id AS r_campaign,
		       sum(pending) AS n_pending, sum(sending) AS n_sending, sum(accepted) AS n_accepted,
		       sum(sent) AS n_sent, sum(delivered) AS n_delivered, sum(undelivered) AS n_undelivered,
		       sum(failed) AS n_failed, sum(skipped) AS n_skipped, sum(expired) AS n_expired,
		       sum(review) AS n_review,
		       min(first_sent_at) AS first_sent, max(last_sent_at) AS last_sent, sum(with_sent_at) AS n_sent_at,
		       sum(with_sid_segments) AS segments_sent,
		       coalesce(round(sum(delivered)::numeric / nullif(sum(with_sid), 0), 4), -1)::float8 AS delivery_rate
		FROM campaign_counters GROUP BY campaign_id
	), recent AS (
		SELECT campaign_id AS recent_campaign, count(*) AS n_recent FROM send_attempts
		WHERE outcome IN ('accepted', 'found') AND started_at > now() - interval '10 seconds'
		GROUP BY campaign_id
	), live AS (
		SELECT campaign_id AS live_campaign, count(*) AS n_live FROM workers
		WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '10 seconds'
		GROUP BY campaign_id
	)
	SELECT ` + campaignColumns + `,
	       coalesce(n_pending, 0), coalesce(n_sending, 0), coalesce(n_accepted, 0), coalesce(n_sent, 0),
	       coalesce(n_delivered, 0), coalesce(n_undelivered, 0), coalesce(n_failed, 0), coalesce(n_skipped, 0),
	       coalesce(n_expired, 0), coalesce(n_review, 0),
	       first_sent, last_sent, coalesce(n_sent_at, 0), coalesce(segments_sent, 0), coalesce(delivery_rate, -1),
	       coalesce(n_recent, 0) / 10.0, coalesce(n_live, 0)
	FROM campaigns
	LEFT JOIN r ON r_campaign = campaigns.id
	LEFT JOIN recent ON recent_campaign = campaigns.id
	LEFT JOIN live ON live_campaign = campaigns.id
	ORDER BY campaigns.id`

// Overviews reads every campaign, oldest first, with its progress (without
// top errors), segments sent and delivery rate. It counts every recipient
// of every campaign: cache the answer.
func (s *Store) Overviews(ctx context.Context) ([]campaign.Overview, error) {
	rows, err := s.pool.Query(ctx, overviewsSQL)
	if err != nil {
		return nil, fmt.Errorf("read campaign overviews: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaign.Overview, error) {
		var o campaign.Overview
		var n [10]int64
		var first, last *time.Time
		var sent int64
		c, err := scanCampaignAnd(row, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &n[9],
			&first, &last, &sent, &o.SegmentsSent, &o.DeliveryRate, &o.CurrentRate, &o.LiveWorkers)
		if err != nil {
			return o, err
		}
		o.Campaign = *c
		// As in Progress: states without recipients are absent.
		o.Counts = make(map[campaign.RecipientStatus]int64, len(n))
		for i, st := range []campaign.RecipientStatus{campaign.Pending, campaign.Sending, campaign.Accepted,
			campaign.Sent, campaign.Delivered, campaign.Undelivered, campaign.Failed, campaign.Skipped,
			campaign.Expired, campaign.Review} {
			if n[i] > 0 {
				o.Counts[st] = n[i]
				o.Total += n[i]
			}
		}
		setSentTimes(&o.Progress, first, last, sent)
		return o, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaign overviews: %w", err)
	}
	return out, nil
}

// setSentTimes fills the first and last send and the average rate between
// them, as Progress does.
func setSentTimes(p *campaign.Progress, first, last *time.Time, sent int64) {
	if first == nil || last == nil {
		return
	}
	p.FirstSentAt, p.LastSentAt = *first, *last
	if d := last.Sub(*first).Seconds(); d > 0 && sent > 0 {
		p.AverageRate = float64(sent) / d
	}
}

// Overview reads one campaign's progress with Progress, the very read of
// `smsblast status`, and adds its segments sent and delivery rate.
func (s *Store) Overview(ctx context.Context, c *campaign.Campaign) (*campaign.Overview, error) {
	p, err := s.Progress(ctx, c)
	if err != nil {
		return nil, err
	}
	o := &campaign.Overview{Progress: *p}
	// The campaign's counters (primary key (campaign_id, slot)); the
	// definitions are campaign_stats'.
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(with_sid_segments), 0)::bigint,
		       coalesce(round(sum(delivered)::numeric / nullif(sum(with_sid), 0), 4), -1)::float8
		FROM campaign_counters WHERE campaign_id = $1`, c.ID).Scan(&o.SegmentsSent, &o.DeliveryRate)
	if err != nil {
		return nil, fmt.Errorf("read segments and delivery rate of campaign %q: %w", c.Name, err)
	}
	return o, nil
}

// FailureCodes counts the campaign's recipients by error code, most
// frequent first, exactly as Progress's top errors do (so its first five
// rows are status's top_errors), with whether the code is retryable and
// how many `retry --codes` would requeue (the failed and undelivered ones).
// It reads the campaign's error counters (campaign_error_counters' primary
// key begins with campaign_id): a few rows per code, at any size.
func (s *Store) FailureCodes(ctx context.Context, campaignID int64) ([]campaign.FailureCode, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.error_code, coalesce(e.description, ''), coalesce(e.retryable, false),
		       sum(c.recipients)::bigint,
		       coalesce(sum(c.recipients) FILTER (WHERE c.status IN ('failed', 'undelivered')), 0)::bigint
		FROM campaign_error_counters c LEFT JOIN twilio_errors e ON e.code = c.error_code
		WHERE c.campaign_id = $1
		GROUP BY 1, 2, 3 HAVING sum(c.recipients) > 0
		ORDER BY 4 DESC, 1`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("count failures of campaign %d by code: %w", campaignID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.FailureCode, error) {
		var f campaign.FailureCode
		err := r.Scan(&f.Code, &f.Description, &f.Retryable, &f.Count, &f.Requeueable)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("count failures of campaign %d by code: %w", campaignID, err)
	}
	return out, nil
}

// RecentFailures lists the campaign's last limit recipients to fail or end
// undelivered, newest first. It walks recipients_verdict_idx backwards from
// the newest verdict and stops after limit failures: cheap at any size.
// (Ordering by updated_at alone lets the index give the order; a tie-break
// on id would sort every failure of the campaign first.)
func (s *Store) RecentFailures(ctx context.Context, campaignID int64, limit int) ([]campaign.Failure, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT r.id, r.phone, r.status, coalesce(r.error_code, 0),
		       coalesce(e.description, r.error_message, ''), r.attempts, r.updated_at
		FROM recipients r LEFT JOIN twilio_errors e ON e.code = r.error_code
		WHERE r.campaign_id = $1 AND r.status IN ('failed', 'undelivered')
		ORDER BY r.updated_at DESC LIMIT $2`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("list recent failures of campaign %d: %w", campaignID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.Failure, error) {
		var f campaign.Failure
		err := r.Scan(&f.RecipientID, &f.Phone, &f.Status, &f.ErrorCode, &f.ErrorDescription, &f.Attempts, &f.At)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list recent failures of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// SendSeries counts the messages Twilio accepted for the campaign (outcomes
// accepted and found, as Progress's current rate counts them) per step
// since since, by when their request started. Only non-empty buckets are
// returned, oldest first; each starts at a multiple of step since the Unix
// epoch. send_attempts' BRIN index on started_at limits the read to the
// block ranges written since since: rows arrive in time order.
func (s *Store) SendSeries(ctx context.Context, campaignID int64, since time.Time, step time.Duration) ([]campaign.SendBucket, error) {
	sec, err := stepSeconds(step)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT floor(extract(epoch FROM started_at) / $3::bigint)::bigint * $3::bigint, count(*)
		FROM send_attempts
		WHERE campaign_id = $1 AND outcome IN ('accepted', 'found') AND started_at >= $2
		GROUP BY 1 ORDER BY 1`, campaignID, since, sec)
	if err != nil {
		return nil, fmt.Errorf("read send rate series of campaign %d: %w", campaignID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.SendBucket, error) {
		var b campaign.SendBucket
		var at int64
		err := r.Scan(&at, &b.Accepted)
		b.Start = time.Unix(at, 0).UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("read send rate series of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// VerdictSeries counts the campaign's delivered and undelivered recipients
// per step since since, by when smsblast recorded the verdict (updated_at;
// delivered_at is the carrier's own clock, and undelivered rows have none).
// Buckets as SendSeries'. It reads the range (campaign_id, updated_at >=
// since) of recipients_verdict_idx (migration 00002): the verdicts of the
// period, not the whole campaign.
func (s *Store) VerdictSeries(ctx context.Context, campaignID int64, since time.Time, step time.Duration) ([]campaign.VerdictBucket, error) {
	sec, err := stepSeconds(step)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT floor(extract(epoch FROM updated_at) / $3::bigint)::bigint * $3::bigint,
		       count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'undelivered')
		FROM recipients
		WHERE campaign_id = $1 AND status IN ('delivered', 'undelivered') AND updated_at >= $2
		GROUP BY 1 ORDER BY 1`, campaignID, since, sec)
	if err != nil {
		return nil, fmt.Errorf("read delivery series of campaign %d: %w", campaignID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.VerdictBucket, error) {
		var b campaign.VerdictBucket
		var at int64
		err := r.Scan(&at, &b.Delivered, &b.Undelivered)
		b.Start = time.Unix(at, 0).UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("read delivery series of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// stepSeconds checks a series step: whole seconds, at least one.
func stepSeconds(step time.Duration) (int64, error) {
	if step < time.Second || step%time.Second != 0 {
		return 0, fmt.Errorf("series step %v: want whole seconds", step)
	}
	return int64(step / time.Second), nil
}

// ResumeCampaign makes a paused campaign runnable again and returns the
// status it had: running if it had started, draft if it never had. It
// starts no sender: the next `smsblast send` (on any machine) picks it up.
// Other states are left as they are. The row lock orders it with a
// concurrent pause or cancel.
func (s *Store) ResumeCampaign(ctx context.Context, id int64) (campaign.Status, error) {
	var from campaign.Status
	err := s.pool.QueryRow(ctx, `
		WITH old AS (SELECT id, status FROM campaigns WHERE id = $1 FOR UPDATE)
		UPDATE campaigns c SET
			status = CASE WHEN old.status <> 'paused' THEN old.status
			              WHEN c.started_at IS NULL THEN 'draft' ELSE 'running' END,
			status_reason = CASE WHEN old.status = 'paused' THEN NULL ELSE c.status_reason END,
			updated_at = CASE WHEN old.status = 'paused' THEN now() ELSE c.updated_at END
		FROM old WHERE c.id = old.id
		RETURNING old.status`, id).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("resume campaign %d: %w", id, campaign.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("resume campaign %d: %w", id, err)
	}
	return from, nil
}
