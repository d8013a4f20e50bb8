package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The statements behind `smsblast resolve`: recipients in review (see
// campaign.InReview) listed, and a person's decision recorded.

// resolveWorker is send_attempts.worker for a person's decision: the audit
// trail tells it from a sender process's verdict.
const resolveWorker = "smsblast resolve"

// InReview lists the campaign's recipients in review, by phone. There is
// no index on status (see the schema): the campaign's rows are read through
// the unique (campaign_id, phone) index, which also gives the order; review
// is rare and this runs when a person asks. The candidate's other owners
// come from the message_sid index.
func (s *Store) InReview(ctx context.Context, campaignID int64) ([]campaign.InReview, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT r.id, r.phone, coalesce(r.message_sid, ''), coalesce(r.twilio_status, ''), r.sent_at,
		       r.updated_at, coalesce(r.error_message, ''), r.attempts,
		       coalesce((SELECT array_agg(format('campaign %s: %s (%s)', c.name, o.phone, o.status) ORDER BY o.id)
		                 FROM recipients o JOIN campaigns c ON c.id = o.campaign_id
		                 WHERE o.message_sid = r.message_sid AND o.id <> r.id), '{}')
		FROM recipients r
		WHERE r.campaign_id = $1 AND r.status = 'review'
		ORDER BY r.phone`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("list recipients in review of campaign %d: %w", campaignID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (campaign.InReview, error) {
		var r campaign.InReview
		err := row.Scan(&r.RecipientID, &r.Phone, &r.MessageSID, &r.TwilioStatus, &r.CreatedAt,
			&r.Since, &r.Reason, &r.Attempts, &r.AlsoRecordedFor)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list recipients in review of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// CountInReview counts the campaign's recipients in review, for the lines
// that tell a person some are waiting. Like InReview it reads the
// campaign's rows; send calls it once, when a run ends.
func (s *Store) CountInReview(ctx context.Context, campaignID int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM recipients WHERE campaign_id = $1 AND status = 'review'`, campaignID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recipients in review of campaign %d: %w", campaignID, err)
	}
	return n, nil
}

// Resolve records a person's decision on recipients in review: phones, or
// every one when phones is empty. All or nothing: a phone that is not in
// review fails the whole call with campaign.ErrNotInReview, naming each
// such phone and its state, and changes nothing.
//
// sent: the candidate message is the recipient's. It keeps the candidate's
// sid and creation time and takes the best status known for it: accepted,
// or the status Twilio's list showed, or a status callback for that sid
// already in message_events (callbacks for a recipient in review are kept
// there but not applied, since review ranks as final).
//
// Not sent: back to pending, due now, without the candidate's sid, so the
// next `send` texts it; its attempt count stays (the audit trail numbers
// attempts in order). A completed campaign becomes paused, as after retry,
// so that send resumes it. A canceled campaign is never sent again, so not
// sent is refused there (campaign.ErrCanceled); sent only records what
// happened, and is allowed.
//
// Each decision is written to send_attempts (outcome found or not_found,
// worker "smsblast resolve").
func (s *Store) Resolve(ctx context.Context, campaignID int64, sent bool, phones []string) (*campaign.Resolution, error) {
	res := &campaign.Resolution{Sent: sent, Recipients: []campaign.Resolved{}}
	var ids []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The campaign's row lock orders this against a concurrent cancel
		// (and a concurrent resolve of the same campaign).
		var status campaign.Status
		if err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, campaignID).Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return campaign.ErrNotFound
			}
			return err
		}
		if !sent && status == campaign.StatusCanceled {
			return campaign.ErrCanceled
		}
		if err := checkInReview(ctx, tx, campaignID, phones); err != nil {
			return err
		}
		var err error
		if sent {
			ids, err = resolveSent(ctx, tx, campaignID, phones, res)
		} else {
			ids, err = resolveNotSent(ctx, tx, campaignID, phones, res)
		}
		if err != nil || len(ids) == 0 {
			return err
		}
		outcome, note := campaign.AuditFound, "resolved by a person: the candidate message is the recipient's"
		if !sent {
			outcome, note = campaign.AuditNotFound, "resolved by a person: not sent; pending again"
		}
		sids := make([]*string, len(res.Recipients))
		for i := range res.Recipients {
			sids[i] = nullString(res.Recipients[i].MessageSID)
		}
		// The attempt is the one that went to review: the decision closes it.
		if _, err := tx.Exec(ctx, `
			INSERT INTO send_attempts (recipient_id, campaign_id, attempt, worker, started_at,
			                           error_message, message_sid, outcome)
			SELECT u.id, $1, r.attempts, $2, now(), $3, u.sid, $4
			FROM unnest($5::bigint[], $6::text[]) AS u(id, sid) JOIN recipients r ON r.id = u.id`,
			campaignID, resolveWorker, note, string(outcome), ids, sids); err != nil {
			return err
		}
		if !sent {
			tag, err := tx.Exec(ctx, `
				UPDATE campaigns SET status = 'paused', updated_at = now(),
				       status_reason = 'recipients returned to pending by resolve: run send to resume'
				WHERE id = $1 AND status = 'completed'`, campaignID)
			if err != nil {
				return err
			}
			res.Paused = tag.RowsAffected() == 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve recipients in review of campaign %d: %w", campaignID, err)
	}
	if sent && len(ids) > 0 {
		if err := s.applyEventsTo(ctx, ids, res); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(res.Recipients, func(a, b campaign.Resolved) int { return strings.Compare(a.Phone, b.Phone) })
	return res, nil
}

// checkInReview fails with ErrNotInReview, naming each phone and its state,
// unless every phone is a recipient of the campaign in review.
func checkInReview(ctx context.Context, tx pgx.Tx, campaignID int64, phones []string) error {
	if len(phones) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT p.phone, coalesce(r.status, '')
		FROM unnest($2::text[]) AS p(phone)
		LEFT JOIN recipients r ON r.campaign_id = $1 AND r.phone = p.phone
		WHERE r.status IS DISTINCT FROM 'review'
		ORDER BY p.phone`, campaignID, phones)
	if err != nil {
		return err
	}
	var bad []string
	for rows.Next() {
		var phone, status string
		if err := rows.Scan(&phone, &status); err != nil {
			rows.Close()
			return err
		}
		if status == "" {
			status = "not in the campaign"
		}
		bad = append(bad, phone+" ("+status+")")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", campaign.ErrNotInReview, strings.Join(bad, ", "))
	}
	return nil
}

// resolveSent moves recipients in review to the status their candidate had
// in Twilio's list (at least accepted), mapped by campaign.FromTwilioStatus,
// the one mapping. The rows are locked first, so the status computed here
// is written to the row it was read from.
func resolveSent(ctx context.Context, tx pgx.Tx, campaignID int64, phones []string, res *campaign.Resolution) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, phone, coalesce(message_sid, ''), coalesce(twilio_status, '')
		FROM recipients
		WHERE campaign_id = $1 AND status = 'review' AND (cardinality($2::text[]) = 0 OR phone = ANY($2))
		ORDER BY phone
		FOR UPDATE`, campaignID, phones)
	if err != nil {
		return nil, err
	}
	var ids []int64
	var statuses []string
	for rows.Next() {
		var id int64
		var r campaign.Resolved
		var twilioStatus string
		if err := rows.Scan(&id, &r.Phone, &r.MessageSID, &twilioStatus); err != nil {
			rows.Close()
			return nil, err
		}
		r.Status = campaign.Accepted
		if st, ok := campaign.FromTwilioStatus(twilioStatus); ok && st.Rank() > r.Status.Rank() {
			r.Status = st
		}
		ids = append(ids, id)
		statuses = append(statuses, string(r.Status))
		res.Recipients = append(res.Recipients, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// The review explanation goes: the recipient's error fields are its
	// message's again (a callback with an error code fills them).
	_, err = tx.Exec(ctx, `
		UPDATE recipients r SET
			status = u.status, error_code = NULL, error_message = NULL, updated_at = now()
		FROM unnest($1::bigint[], $2::text[]) AS u(id, status)
		WHERE r.id = u.id AND r.status = 'review'`, ids, statuses)
	return ids, err
}

// resolveNotSent returns recipients in review to pending, due now.
func resolveNotSent(ctx context.Context, tx pgx.Tx, campaignID int64, phones []string, res *campaign.Resolution) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		WITH old AS (
			SELECT id, message_sid FROM recipients
			WHERE campaign_id = $1 AND status = 'review' AND (cardinality($2::text[]) = 0 OR phone = ANY($2))
			FOR UPDATE
		)
		UPDATE recipients r SET
			status = 'pending', next_attempt_at = now(),
			message_sid = NULL, twilio_status = NULL, error_code = NULL, error_message = NULL,
			segments = NULL, sent_at = NULL, delivered_at = NULL,
			in_doubt_since = NULL, claimed_at = NULL, lease_owner = NULL, lease_expires_at = NULL,
			updated_at = now()
		FROM old WHERE r.id = old.id
		RETURNING r.id, r.phone, coalesce(old.message_sid, '')`, campaignID, phones)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		r := campaign.Resolved{Status: campaign.Pending}
		if err := rows.Scan(&id, &r.Phone, &r.MessageSID); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
		res.Recipients = append(res.Recipients, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// applyEventsSQL applies to the recipients $2 the best status callback
// received for their message sids, applied or not (a callback that arrived
// while the recipient was in review was logged, not applied). It runs after
// the decision is committed, so a callback that commits meanwhile either is
// seen here or, finding the recipient out of review, applies itself. The
// order is applyPendingEventsSQL's: highest rank, then earliest; the rank
// guard keeps a recipient from moving back.
var applyEventsSQL = `
	WITH best AS (` + bestEventsSQL("e.message_sid = ANY($1::text[])") + `
	), upd AS (
		UPDATE recipients r SET ` + setFromBestEvent + `
		FROM best b
		WHERE r.id = ANY($2::bigint[]) AND r.message_sid = b.message_sid
		  AND ` + rankSQL("r.status") + ` < ` + rankSQL("b.recipient_status") + `
		RETURNING r.phone, r.status
	), mark AS (
		UPDATE message_events e SET applied_at = now()
		WHERE e.applied_at IS NULL AND e.message_sid = ANY($1::text[])
	)
	SELECT phone, status FROM upd`

// applyEventsTo applies waiting callbacks to the recipients just resolved
// as sent, and updates res with the statuses they reach.
func (s *Store) applyEventsTo(ctx context.Context, ids []int64, res *campaign.Resolution) error {
	var sids []string
	for _, r := range res.Recipients {
		if r.MessageSID != "" {
			sids = append(sids, r.MessageSID)
		}
	}
	rows, err := s.pool.Query(ctx, applyEventsSQL, sids, ids)
	if err != nil {
		return fmt.Errorf("apply status callbacks to resolved recipients: %w", err)
	}
	moved := map[string]campaign.RecipientStatus{}
	for rows.Next() {
		var phone string
		var st campaign.RecipientStatus
		if err := rows.Scan(&phone, &st); err != nil {
			rows.Close()
			return fmt.Errorf("apply status callbacks to resolved recipients: %w", err)
		}
		moved[phone] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("apply status callbacks to resolved recipients: %w", err)
	}
	for i := range res.Recipients {
		if st, ok := moved[res.Recipients[i].Phone]; ok {
			res.Recipients[i].Status = st
		}
	}
	return nil
}
