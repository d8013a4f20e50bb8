package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The sender registry and the heartbeat through which every send process
// shares each sender's MPS.

// ErrSenderNotFound: no registered sender has that number or SID.
var ErrSenderNotFound = errors.New("sender not registered")

// Beat refreshes the worker's heartbeat, reads the campaign's state and every
// live process's use of the campaign's senders, lets req.Plan decide this
// worker's new shares from that, and publishes them — one transaction that
// holds an advisory lock per sender, so that two processes never decide
// their shares of one sender from the same snapshot: each sees the other's
// published rate, and a share grows only once it is published.
func (s *Store) Beat(ctx context.Context, req campaign.BeatRequest) (campaign.Beat, error) {
	b := campaign.Beat{Senders: map[string]*campaign.SenderUse{}}
	senders := make([]string, len(req.Shares))
	for i, sh := range req.Shares {
		senders[i] = sh.Sender
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		// Locks in sender order (the subquery sorts before the locks are
		// taken), so beats of campaigns sharing senders never deadlock.
		batch.Queue(`
			SELECT count(pg_advisory_xact_lock(hashtextextended('smsblast sender ' || x.s, 0)))
			FROM (SELECT s FROM unnest($1::text[]) AS s ORDER BY s) x`, senders)
		batch.Queue(`UPDATE workers SET heartbeat_at = now(), stopped_at = NULL WHERE id = $1`, req.WorkerID)
		batch.Queue(`
			SELECT `+campaignColumns+`,
			       (SELECT count(*) FROM workers w
			        WHERE w.campaign_id = $1 AND w.stopped_at IS NULL
			          AND (w.heartbeat_at > now() - $3::interval OR w.id = $2))
			FROM campaigns WHERE id = $1`, req.CampaignID, req.WorkerID, req.Stale)
		batch.Queue(windowRulesSQL)
		batch.Queue(senderUseSQL+` WHERE s.sender = ANY ($2)`, req.Now, senders)
		batch.Queue(senderSharesSQL+` AND sh.sender = ANY ($3) AND sh.worker_id <> $2`, req.Stale, req.WorkerID, senders)
		br := tx.SendBatch(ctx, batch)
		if err := readBeat(br, &b); err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		shares := req.Shares
		if req.Plan != nil {
			shares = req.Plan(&b)
		}
		return publishShares(ctx, tx, req.WorkerID, req.CampaignID, shares)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return b, fmt.Errorf("heartbeat for campaign %d: %w", req.CampaignID, campaign.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("heartbeat for campaign %d: %w", req.CampaignID, err)
	}
	return b, nil
}

func readBeat(br pgx.BatchResults, b *campaign.Beat) error {
	for range 2 { // the locks, the heartbeat
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	c, err := scanCampaignAnd(br.QueryRow(), &b.LiveWorkers)
	if err != nil {
		return err
	}
	b.Campaign = c
	b.Status, b.StatusReason, b.Rate = c.Status, c.StatusReason, c.Rate
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if b.Rules, err = pgx.CollectRows(rows, scanWindowRule); err != nil {
		return fmt.Errorf("read send window rules: %w", err)
	}
	uses, err := scanSenderUses(br)
	if err != nil {
		return fmt.Errorf("read senders: %w", err)
	}
	for _, u := range uses {
		b.Senders[u.ID] = u
	}
	if err := scanShares(br, b.Senders); err != nil {
		return fmt.Errorf("read shares: %w", err)
	}
	return nil
}

// publishShares replaces the worker's rows of sender_shares.
func publishShares(ctx context.Context, tx pgx.Tx, workerID string, campaignID int64, shares []campaign.SenderShare) error {
	n := len(shares)
	senders := make([]string, n)
	active := make([]bool, n)
	demand := make([]float64, n)
	rates := make([]float64, n)
	for i, sh := range shares {
		senders[i], active[i], demand[i], rates[i] = sh.Sender, sh.Active, sh.Demand, sh.Rate
	}
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM sender_shares WHERE worker_id = $1 AND NOT (sender = ANY ($2))`, workerID, senders)
	batch.Queue(`
		INSERT INTO sender_shares (worker_id, sender, campaign_id, active, demand, rate)
		SELECT $1, u.sender, $2, u.active, u.demand, u.rate
		FROM unnest($3::text[], $4::bool[], $5::float8[], $6::float8[]) AS u(sender, active, demand, rate)
		ON CONFLICT (worker_id, sender) DO UPDATE
		SET active = excluded.active, demand = excluded.demand, rate = excluded.rate, updated_at = now()`,
		workerID, campaignID, senders, active, demand, rates)
	return tx.SendBatch(ctx, batch).Close()
}

// windowRulesSQL reads send_window_rules, a small table users fill.
const windowRulesSQL = `SELECT prefix, send_window, note FROM send_window_rules ORDER BY prefix, id`

func scanWindowRule(r pgx.CollectableRow) (campaign.WindowRule, error) {
	var wr campaign.WindowRule
	var w string
	if err := r.Scan(&wr.Prefix, &w, &wr.Note); err != nil {
		return wr, err
	}
	var err error
	wr.Window, err = campaign.ParseWindow(w)
	return wr, err
}

// WindowRules reads send_window_rules: stricter local windows by prefix.
func (s *Store) WindowRules(ctx context.Context) ([]campaign.WindowRule, error) {
	rows, err := s.pool.Query(ctx, windowRulesSQL)
	if err != nil {
		return nil, fmt.Errorf("read send window rules: %w", err)
	}
	rules, err := pgx.CollectRows(rows, scanWindowRule)
	if err != nil {
		return nil, fmt.Errorf("read send window rules: %w", err)
	}
	return rules, nil
}

// senderUseSQL reads registered senders with their usage on the cap day that
// $1 falls in (in each sender's reset zone) and their recent queue delay. A
// queue observation older than five minutes says nothing about now.
const senderUseSQL = `
	SELECT s.sender, s.kind, s.mps, coalesce(s.daily_cap, 0), s.cap_reset_tz,
	       s.max_queue_delay, ($1::timestamptz AT TIME ZONE s.cap_reset_tz)::date,
	       coalesce(u.segments, 0), coalesce(q.delay, interval '0'), coalesce(q.factor, 1)
	FROM senders s
	LEFT JOIN sender_usage u ON u.sender = s.sender AND u.day = ($1::timestamptz AT TIME ZONE s.cap_reset_tz)::date
	LEFT JOIN sender_queue q ON q.sender = s.sender AND q.observed_at > now() - interval '5 minutes'`

// senderSharesSQL reads the shares of live workers ($1: how long without a
// heartbeat presumes a worker gone; $2: the asking worker, live by
// definition).
const senderSharesSQL = `
	SELECT sh.sender, sh.worker_id, sh.campaign_id, c.name, sh.active, sh.demand, sh.rate
	FROM sender_shares sh
	JOIN workers w ON w.id = sh.worker_id
	JOIN campaigns c ON c.id = sh.campaign_id
	WHERE w.stopped_at IS NULL AND (w.heartbeat_at > now() - $1::interval OR w.id = $2)`

func scanSenderUses(br pgx.BatchResults) ([]*campaign.SenderUse, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*campaign.SenderUse, error) {
		u := &campaign.SenderUse{}
		var kind string
		err := r.Scan(&u.ID, &kind, &u.MPS, &u.DailyCap, &u.CapZone, &u.MaxQueueDelay, &u.Day, &u.Used, &u.QueueDelay, &u.Factor)
		if err != nil {
			return nil, err
		}
		u.Kind = campaign.SenderKind(kind)
		if loc, err := time.LoadLocation(u.CapZone); err == nil {
			day := time.Date(u.Day.Year(), u.Day.Month(), u.Day.Day(), 0, 0, 0, 0, loc)
			u.Day, u.ResetsAt = day, day.AddDate(0, 0, 1)
		}
		return u, nil
	})
}

func scanShares(br pgx.BatchResults, into map[string]*campaign.SenderUse) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var sender string
	var sh campaign.SenderShare
	_, err = pgx.ForEachRow(rows, []any{&sender, &sh.Worker, &sh.CampaignID, &sh.Campaign, &sh.Active, &sh.Demand, &sh.Rate}, func() error {
		if u := into[sender]; u != nil {
			sh.Sender = sender
			u.Shares = append(u.Shares, sh)
		}
		return nil
	})
	return err
}

// SetSender registers a sender or changes its registration.
func (s *Store) SetSender(ctx context.Context, sd campaign.Sender) error {
	zone := sd.CapZone
	if zone == "" {
		zone = campaign.DefaultCapZone
	}
	delay := sd.MaxQueueDelay
	if delay <= 0 {
		delay = campaign.DefaultMaxQueueDelay
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO senders (sender, kind, mps, daily_cap, cap_reset_tz, max_queue_delay)
		VALUES ($1, $2, $3, nullif($4, 0), $5, $6)
		ON CONFLICT (sender) DO UPDATE SET kind = excluded.kind, mps = excluded.mps,
			daily_cap = excluded.daily_cap, cap_reset_tz = excluded.cap_reset_tz,
			max_queue_delay = excluded.max_queue_delay, updated_at = now()`,
		sd.ID, string(sd.Kind), sd.MPS, sd.DailyCap, zone, delay)
	if err != nil {
		return fmt.Errorf("register sender %s: %w", sd.ID, err)
	}
	return nil
}

// RemoveSender removes a sender from the registry (its usage history stays);
// ErrSenderNotFound if it was not registered.
func (s *Store) RemoveSender(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM senders WHERE sender = $1`, id)
	if err != nil {
		return fmt.Errorf("remove sender %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("remove sender %s: %w", id, ErrSenderNotFound)
	}
	return nil
}

// SenderUses reads every registered sender (or the one named) with its
// usage on the cap day now falls in, its queue delay, and the shares of the
// processes sending from it now.
func (s *Store) SenderUses(ctx context.Context, now time.Time, stale time.Duration, only ...string) ([]*campaign.SenderUse, error) {
	batch := &pgx.Batch{}
	where := ""
	args := []any{now}
	if len(only) > 0 {
		where, args = " WHERE s.sender = ANY ($2)", append(args, only)
	}
	batch.Queue(senderUseSQL+where+` ORDER BY s.sender`, args...)
	batch.Queue(senderSharesSQL+` ORDER BY sh.sender, c.name, sh.worker_id`, stale, "")
	br := s.pool.SendBatch(ctx, batch)
	defer br.Close()
	uses, err := scanSenderUses(br)
	if err != nil {
		return nil, fmt.Errorf("read senders: %w", err)
	}
	byID := make(map[string]*campaign.SenderUse, len(uses))
	for _, u := range uses {
		byID[u.ID] = u
	}
	if err := scanShares(br, byID); err != nil {
		return nil, fmt.Errorf("read sender shares: %w", err)
	}
	return uses, br.Close()
}

// SenderCampaigns maps each sender to the names of the campaigns not yet
// completed or canceled that send from it (its number, its pool, its
// Messaging Service).
func (s *Store) SenderCampaigns(ctx context.Context) (map[string][]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT x.sender, c.name
		FROM campaigns c,
		     unnest(coalesce(c.sender_pool, ARRAY[coalesce(c.from_number, c.messaging_service_sid)])) AS x(sender)
		WHERE c.status NOT IN ('completed', 'canceled')
		ORDER BY x.sender, c.id`)
	if err != nil {
		return nil, fmt.Errorf("read campaigns by sender: %w", err)
	}
	out := map[string][]string{}
	var sender, name string
	_, err = pgx.ForEachRow(rows, []any{&sender, &name}, func() error {
		out[sender] = append(out[sender], name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaigns by sender: %w", err)
	}
	return out, nil
}

// ObserveSenderQueues measures, from the 'sent' status callbacks of the last
// window, how long Twilio held each registered sender's messages before
// sending them (90th percentile of callback time less the time Twilio took
// the message), and moves each sender's factor like AIMD: over the sender's
// max_queue_delay, the declared MPS is too high and the factor drops by 30%
// (not below 0.1); under half of it, the factor climbs back by 0.1 towards
// 1. Each moves at most once per 30 seconds, however many `serve` processes
// observe at once (they all compute from the same previous row). It returns
// how many senders were observed.
//
// The callbacks are found through message_events' time order and joined to
// their recipients by message_sid; only the last window of events is read.
func (s *Store) ObserveSenderQueues(ctx context.Context, window time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		WITH d AS (
			SELECT coalesce(r.sender, c.from_number, c.messaging_service_sid) AS sender,
			       percentile_cont(0.9) WITHIN GROUP (ORDER BY e.received_at - r.sent_at) AS delay,
			       count(*) AS n
			FROM message_events e
			JOIN recipients r ON r.message_sid = e.message_sid
			JOIN campaigns c ON c.id = r.campaign_id
			WHERE e.received_at > now() - $1::interval AND e.status = 'sent' AND r.sent_at IS NOT NULL
			GROUP BY 1
		), next AS (
			SELECT d.sender, greatest(d.delay, interval '0') AS delay, d.n,
			       coalesce(q.factor, 1) AS factor,
			       CASE
			         WHEN q.factor_changed_at > now() - interval '30 seconds' THEN coalesce(q.factor, 1)
			         WHEN d.delay > sd.max_queue_delay THEN greatest(0.1, coalesce(q.factor, 1) * 0.7)
			         WHEN d.delay < sd.max_queue_delay / 2 THEN least(1, coalesce(q.factor, 1) + 0.1)
			         ELSE coalesce(q.factor, 1)
			       END AS new_factor,
			       q.factor_changed_at
			FROM d
			JOIN senders sd ON sd.sender = d.sender
			LEFT JOIN sender_queue q ON q.sender = d.sender
		)
		INSERT INTO sender_queue AS q (sender, delay, samples, factor, observed_at, factor_changed_at)
		SELECT sender, delay, n, new_factor, now(),
		       CASE WHEN new_factor <> factor OR factor_changed_at IS NULL THEN now() ELSE factor_changed_at END
		FROM next
		ON CONFLICT (sender) DO UPDATE SET
			delay = excluded.delay, samples = excluded.samples, observed_at = excluded.observed_at,
			factor = excluded.factor, factor_changed_at = excluded.factor_changed_at`, window)
	if err != nil {
		return 0, fmt.Errorf("observe sender queues: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
