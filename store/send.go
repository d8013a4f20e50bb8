package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The statements of the send engine. Their shapes follow the protocol in
// package campaign's documentation: claim before send, lease, fenced writes.

var _ campaign.SendStore = (*Store)(nil)

// StartCampaign moves a draft, scheduled or paused campaign to running, or
// to scheduled while now is before its start_at. Running stays running (a
// second sender, or a resume after a crash). started_at records the first
// time a send ran it.
func (s *Store) StartCampaign(ctx context.Context, id int64, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE campaigns
		SET status = CASE WHEN start_at > $2 THEN 'scheduled' ELSE 'running' END, status_reason = NULL,
		    started_at = coalesce(started_at, now()), updated_at = now()
		WHERE id = $1 AND status IN ('draft', 'scheduled', 'paused', 'running')`, id, now)
	if err != nil {
		return false, fmt.Errorf("start campaign %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PauseCampaign pauses a running (or draft) campaign with a reason. A
// completed or canceled campaign stays as it is.
func (s *Store) PauseCampaign(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE campaigns SET status = 'paused', status_reason = $2, updated_at = now()
		WHERE id = $1 AND status IN ('draft', 'running', 'paused')`, id, reason)
	if err != nil {
		return fmt.Errorf("pause campaign %d: %w", id, err)
	}
	return nil
}

// CompleteCampaign marks a running campaign completed when no recipient is
// left pending or sending, and reports whether the campaign is completed:
// by this call or before it (another worker finished first). The NOT
// EXISTS reads the two partial indexes.
//
// The campaign's row is locked first and the recipients read after, in a
// statement of their own: an import locks that row (FOR UPDATE) from the
// moment it reads the campaign's status to its commit, so the read sees
// every row of an import that committed while this waited. In one
// statement, whose snapshot is taken before the wait, such rows would be
// missed and left pending in a completed campaign. An import that commits
// later finds the campaign completed and reopens it. FOR NO KEY UPDATE, as
// for every change of a campaign's state: it does not wait for the key
// share locks that inserting recipients and send attempts takes.
func (s *Store) CompleteCampaign(ctx context.Context, id int64) (bool, error) {
	var done bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status campaign.Status
		err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&status)
		if err != nil || status != campaign.StatusRunning {
			done = status == campaign.StatusCompleted
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE campaigns SET status = 'completed', status_reason = NULL,
			       completed_at = now(), updated_at = now()
			WHERE id = $1
			  AND NOT EXISTS (SELECT 1 FROM recipients WHERE campaign_id = $1 AND status = 'pending')
			  AND NOT EXISTS (SELECT 1 FROM recipients WHERE campaign_id = $1 AND status = 'sending')`, id)
		done = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("complete campaign %d: %w", id, err)
	}
	return done, nil
}

// RegisterWorker records a sender process (or refreshes it after a restart
// of its database connection).
func (s *Store) RegisterWorker(ctx context.Context, w campaign.Worker) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO workers (id, campaign_id, hostname, pid) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`,
		w.ID, w.CampaignID, w.Hostname, w.PID)
	if err != nil {
		return fmt.Errorf("register worker: %w", err)
	}
	return nil
}

// StopWorker marks a worker stopped, so the others stop counting it when
// they split the campaign's rate.
func (s *Store) StopWorker(ctx context.Context, workerID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE workers SET stopped_at = now() WHERE id = $1`, workerID)
	if err != nil {
		return fmt.Errorf("stop worker: %w", err)
	}
	return nil
}

// Workers lists the campaign's workers that have not stopped.
func (s *Store) Workers(ctx context.Context, campaignID int64) ([]campaign.Worker, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, campaign_id, hostname, pid, heartbeat_at FROM workers
		WHERE campaign_id = $1 AND stopped_at IS NULL ORDER BY started_at`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("list workers of campaign %d: %w", campaignID, err)
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.Worker, error) {
		var w campaign.Worker
		err := r.Scan(&w.ID, &w.CampaignID, &w.Hostname, &w.PID, &w.HeartbeatAt)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("list workers of campaign %d: %w", campaignID, err)
	}
	return ws, nil
}

// ExpireLeases ends the leases of dead workers now and marks them stopped.
// Only rows still leased (lease in the future) are touched, through the
// partial index on sending rows.
func (s *Store) ExpireLeases(ctx context.Context, campaignID int64, workerIDs []string) (int64, error) {
	if len(workerIDs) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE workers SET stopped_at = coalesce(stopped_at, now()) WHERE id = ANY($1)`, workerIDs)
	b.Queue(`
		UPDATE recipients SET lease_expires_at = now(), updated_at = now()
		WHERE campaign_id = $1 AND status = 'sending' AND lease_owner = ANY($2)
		  AND lease_expires_at > now()`, campaignID, workerIDs)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return 0, fmt.Errorf("expire leases of dead workers: %w", err)
	}
	tag, err := br.Exec()
	if err != nil {
		return 0, fmt.Errorf("expire leases of dead workers: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RenewLeases extends leases the worker still holds, by id: a row another
// worker took over (after this one's lease expired) is not renewed, and its
// absence from the result tells the worker not to send it. Rows in doubt
// are not renewed: they wait for reconciliation.
func (s *Store) RenewLeases(ctx context.Context, workerID string, ids []int64, lease time.Duration) ([]int64, error) {
	// The rows are locked in id order, as Record's writes take them (it
	// sorts its batch), so a renewal and a write of the same rows never
	// deadlock.
	rows, err := s.pool.Query(ctx, `
		WITH l AS (
			SELECT id FROM recipients
			WHERE id = ANY($2) AND status = 'sending' AND lease_owner = $1 AND in_doubt_since IS NULL
			ORDER BY id
			FOR UPDATE
		)
		UPDATE recipients r SET lease_expires_at = now() + $3::interval
		FROM l WHERE r.id = l.id
		RETURNING r.id`, workerID, ids, lease)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	return held, nil
}

// ClaimInDoubt leases rows whose lease ran out — their worker died, or their
// request's outcome is unknown — for reconciliation. in_doubt_since keeps the
// moment the first lease ended: from then on nobody can be sending the row,
// and the safety window is counted from it.
func (s *Store) ClaimInDoubt(ctx context.Context, campaignID int64, workerID string, n int, lease time.Duration) ([]campaign.Claim, error) {
	rows, err := s.pool.Query(ctx, `
		WITH picked AS (
			SELECT id FROM recipients
			WHERE campaign_id = $1 AND status = 'sending' AND lease_expires_at <= now()
			ORDER BY lease_expires_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE recipients r SET
			lease_owner      = $3,
			lease_expires_at = now() + $4::interval,
			in_doubt_since   = coalesce(r.in_doubt_since, r.lease_expires_at),
			updated_at       = now()
		FROM picked p
		WHERE r.id = p.id
		RETURNING r.id, r.phone, r.attrs, r.attempts, r.claimed_at, r.in_doubt_since, coalesce(r.sender, '')`,
		campaignID, n, workerID, lease)
	if err != nil {
		return nil, fmt.Errorf("claim in-doubt recipients of campaign %d: %w", campaignID, err)
	}
	claims, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.Claim, error) {
		var c campaign.Claim
		var attrs []byte
		var claimedAt *time.Time
		if err := r.Scan(&c.RecipientID, &c.Phone, &attrs, &c.Attempt, &claimedAt, &c.InDoubtSince, &c.Sender); err != nil {
			return c, err
		}
		if claimedAt != nil {
			c.ClaimedAt = *claimedAt
		}
		return c, json.Unmarshal(attrs, &c.Attrs)
	})
	if err != nil {
		return nil, fmt.Errorf("claim in-doubt recipients of campaign %d: %w", campaignID, err)
	}
	return claims, nil
}

// Record writes a batch of outcomes in one round trip and one transaction:
// the fenced UPDATE from unnest arrays, the send_attempts audit rows, and
// any opt-outs. The fence — status still sending, same owner, same attempt —
// makes a late write from a worker that lost its lease a no-op.
func (s *Store) Record(ctx context.Context, campaignID int64, workerID string, outcomes []campaign.Outcome) (int, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	// In id order: the rows are updated (and locked) as the unnest lists
	// them, and RenewLeases locks in the same order.
	outcomes = slices.Clone(outcomes)
	slices.SortFunc(outcomes, func(a, b campaign.Outcome) int { return cmp.Compare(a.RecipientID, b.RecipientID) })
	n := len(outcomes)
	var (
		ids       = make([]int64, n)
		attempts  = make([]int32, n)
		statuses  = make([]string, n)
		sids      = make([]*string, n)
		tstat     = make([]*string, n)
		codes     = make([]*int32, n)
		msgs      = make([]*string, n)
		segs      = make([]*int32, n)
		retryIn   = make([]time.Duration, n)
		recheck   = make([]time.Duration, n)
		unclaim   = make([]int32, n)
		sentAt    = make([]*time.Time, n)
		holdUntil = make([]*time.Time, n)
		holdWhy   = make([]*string, n)

		aIDs, aAttempt, aHTTP, aCode []int64
		aStarted                     []time.Time
		aLatency                     []float64
		aMsg, aSID                   []*string
		aResult                      []string
		optOuts                      []string
	)
	for i := range outcomes {
		o := &outcomes[i]
		ids[i] = o.RecipientID
		attempts[i] = int32(o.Attempt)
		statuses[i] = string(o.Status)
		sids[i] = nullString(o.MessageSID)
		tstat[i] = nullString(o.TwilioStatus)
		codes[i] = nullInt(o.ErrorCode)
		msgs[i] = nullString(o.ErrorMessage)
		segs[i] = nullInt(o.Segments)
		retryIn[i] = o.RetryIn
		recheck[i] = o.Recheck
		if o.Unclaim {
			unclaim[i] = 1
		}
		if !o.SentAt.IsZero() {
			t := o.SentAt
			sentAt[i] = &t
		}
		if !o.HoldUntil.IsZero() {
			t, why := o.HoldUntil, holdColumn(o.Hold)
			holdUntil[i], holdWhy[i] = &t, &why
		}
		if o.OptOut != "" {
			optOuts = append(optOuts, o.OptOut)
		}
		if a := o.Audit; a != nil {
			aIDs = append(aIDs, o.RecipientID)
			aAttempt = append(aAttempt, int64(o.Attempt))
			aStarted = append(aStarted, a.StartedAt)
			aLatency = append(aLatency, float64(a.Latency.Microseconds())/1000)
			aHTTP = append(aHTTP, int64(a.HTTPStatus))
			aCode = append(aCode, int64(o.ErrorCode))
			aMsg = append(aMsg, nullString(o.ErrorMessage))
			aSID = append(aSID, nullString(o.MessageSID))
			aResult = append(aResult, string(a.Result))
		}
	}

	b := &pgx.Batch{}
	// Error fields are replaced, not merged: an accepted retry clears the
	// previous attempt's error. Twilio's own words (sid, status) are kept
	// when an outcome has none.
	// A row that leaves 'sending' without Twilio having taken its message
	// (pending again, skipped, expired, refused) gives back the segments its
	// claim reserved against its sender's daily cap. The released CTE reads
	// the rows as they were before this statement (every part of a WITH
	// sees one snapshot), joined to the rows the fence let through.
	b.Queue(`
		WITH upd AS (
			UPDATE recipients r SET
				status           = u.status,
				message_sid      = coalesce(u.sid, r.message_sid),
				twilio_status    = coalesce(u.twilio_status, r.twilio_status),
				error_code       = u.code,
				error_message    = u.msg,
				segments         = coalesce(u.segments, r.segments),
				attempts         = r.attempts - u.unclaim,
				next_attempt_at  = CASE WHEN u.status <> 'pending' THEN r.next_attempt_at
				                        WHEN u.hold_until IS NOT NULL THEN u.hold_until
				                        ELSE now() + u.retry_in END,
				hold             = CASE WHEN u.status = 'pending' THEN u.hold END,
				lease_owner      = CASE WHEN u.status = 'sending' THEN r.lease_owner END,
				lease_expires_at = CASE WHEN u.status = 'sending' THEN now() + u.recheck END,
				in_doubt_since   = CASE WHEN u.status = 'sending' THEN coalesce(r.in_doubt_since, now()) END,
				claimed_at       = CASE WHEN u.unclaim = 1 THEN NULL ELSE r.claimed_at END,
				sent_at          = coalesce(u.sent_at, r.sent_at),
				reserved_day     = CASE WHEN `+releasedSQL+` THEN NULL ELSE r.reserved_day END,
				budget_cost      = CASE WHEN `+releasedSQL+` THEN NULL ELSE r.budget_cost END,
				updated_at       = now()
			FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
			            $9::int[], $10::interval[], $11::interval[], $12::int[], $13::timestamptz[],
			            $14::timestamptz[], $15::text[])
			     AS u(id, attempt, status, sid, twilio_status, code, msg, segments, retry_in, recheck, unclaim, sent_at,
			          hold_until, hold)
			WHERE r.id = u.id AND r.status = 'sending' AND r.lease_owner = $1 AND r.attempts = u.attempt
			RETURNING r.id, `+releasedSQL+` AS released
		), released AS (
			SELECT old.sender, old.reserved_day AS day, sum(coalesce(old.segments, 1)) AS n
			FROM recipients old JOIN upd ON upd.id = old.id
			WHERE upd.released AND old.reserved_day IS NOT NULL
			GROUP BY 1, 2
		), give AS (
			UPDATE sender_usage s SET segments = greatest(s.segments - released.n, 0)
			FROM released WHERE s.sender = released.sender AND s.day = released.day
		), unspent AS (
			SELECT sum(coalesce(old.segments, 1)) AS segments, sum(old.budget_cost) AS amount
			FROM recipients old JOIN upd ON upd.id = old.id
			WHERE upd.released AND old.budget_cost IS NOT NULL
		), refund AS (
			UPDATE campaign_budget b SET segments = greatest(b.segments - unspent.segments, 0),
			                             amount = greatest(b.amount - unspent.amount, 0)
			FROM unspent WHERE b.campaign_id = $16 AND unspent.segments IS NOT NULL
		), uncontact AS (
			DELETE FROM contacts c
			USING (SELECT recipient_id, max(at) AS at FROM contacts
			       WHERE recipient_id IN (SELECT id FROM upd WHERE released) GROUP BY 1) last
			WHERE c.recipient_id = last.recipient_id AND c.at = last.at
		)
		SELECT count(*) FROM upd`,
		workerID, ids, attempts, statuses, sids, tstat, codes, msgs, segs, retryIn, recheck, unclaim, sentAt,
		holdUntil, holdWhy, campaignID)
	if len(aIDs) > 0 {
		b.Queue(`
			INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at, latency_ms,
			                           http_status, error_code, error_message, message_sid, outcome)
			SELECT u.id, $1, u.attempt, $2, u.started_at, u.latency_ms, nullif(u.http, 0), nullif(u.code, 0),
			       u.msg, u.sid, u.result
			FROM unnest($3::bigint[], $4::int[], $5::timestamptz[], $6::float8[], $7::int[], $8::int[],
			            $9::text[], $10::text[], $11::text[])
			     AS u(id, attempt, started_at, latency_ms, http, code, msg, sid, result)`,
			campaignID, workerID, aIDs, aAttempt, aStarted, aLatency, aHTTP, aCode, aMsg, aSID, aResult)
	}
	if len(optOuts) > 0 {
		b.Queue(`
			INSERT INTO opt_outs (phone, reason, source)
			SELECT p, 'Twilio error 21610: the recipient replied STOP', 'twilio' FROM unnest($1::text[]) AS p
			ON CONFLICT (phone) DO NOTHING`, optOuts)
	}
	// Status callbacks that arrived before this batch wrote their message
	// sids (the race with `smsblast serve`) are waiting in message_events
	// unapplied: apply them now, in the same transaction. See
	// applyPendingEventsSQL in delivery.go.
	b.Queue(applyPendingEventsSQL, sids)
	// A batch runs as one implicit transaction: all of it or none.
	br := s.pool.SendBatch(ctx, b)
	var applied int
	err := br.QueryRow().Scan(&applied)
	if err == nil {
		for i := 1; i < b.Len() && err == nil; i++ {
			_, err = br.Exec()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("record %d outcomes for campaign %d: %w", n, campaignID, err)
	}
	return applied, nil
}

// releasedSQL is, inside Record's update, whether an outcome gives back
// what the claim reserved — the segments against a daily cap and a budget,
// the contact a frequency cap counts: the row leaves 'sending' without
// Twilio having taken its message (pending again, skipped, expired, or
// refused without a sid).
const releasedSQL = `(u.status IN ('pending', 'skipped', 'expired')
	OR (u.status = 'failed' AND u.sid IS NULL AND r.message_sid IS NULL))`

// ExpirePending ends the campaign's pending recipients as expired: its stop
// time passed before they were sent. The pending index finds them; rows in
// doubt ('sending') are left to reconciliation, which may still find they
// were sent before the deadline.
func (s *Store) ExpirePending(ctx context.Context, campaignID int64) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE recipients SET status = 'expired', hold = NULL, updated_at = now(),
			error_message = 'not sent: the campaign''s stop time passed first'
		WHERE campaign_id = $1 AND status = 'pending'`, campaignID)
	if err != nil {
		return 0, fmt.Errorf("expire unsent recipients of campaign %d: %w", campaignID, err)
	}
	return tag.RowsAffected(), nil
}

// Remaining counts what is left, from the campaign's counters (a few rows,
// however large the campaign), and reads when the next pending recipient
// is due from the front of recipients_pending_idx.
func (s *Store) Remaining(ctx context.Context, campaignID int64) (campaign.Remaining, error) {
	var r campaign.Remaining
	var next *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(pending), 0)::bigint, coalesce(sum(sending), 0)::bigint,
		       (SELECT min(next_attempt_at) FROM recipients WHERE campaign_id = $1 AND status = 'pending')
		FROM campaign_counters WHERE campaign_id = $1`,
		campaignID).Scan(&r.Pending, &r.Sending, &next)
	if err != nil {
		return r, fmt.Errorf("count remaining recipients of campaign %d: %w", campaignID, err)
	}
	if next != nil {
		r.NextDue = *next
	}
	return r, nil
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullInt(n int) *int32 {
	if n == 0 {
		return nil
	}
	v := int32(n)
	return &v
}
