package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// The statements behind `smsblast serve`: status callbacks and opt-outs.

var _ campaign.DeliveryStore = (*Store)(nil)

// rankSQL is a CASE expression giving the rank of the recipient state in
// column col, built from campaign's ordering so that Go and SQL cannot
// disagree about which way is forward.
func rankSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, s := range campaign.RecipientStatuses() {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, s.Rank())
	}
	b.WriteString(" ELSE -1 END")
	return b.String()
}

// lockSendingByPhone waits for any sender transaction that is writing the
// outcome of a recipient with this phone. FOR UPDATE blocks on the row a
// sender's Record has updated but not yet committed; once it commits, the
// row is re-checked, is no longer 'sending', and is not locked. The next
// statement then runs on a snapshot that includes the sender's sid. The
// other way round — this transaction first — the sender's UPDATE waits for
// this one to commit its unapplied event, and the sender's apply statement
// (a later statement, hence a later snapshot) sees it. Either way the event
// is applied once. Uses recipients_sending_phone_idx: only rows in flight.
const lockSendingByPhone = `
	SELECT 1 FROM recipients WHERE phone = $1 AND status = 'sending' ORDER BY id FOR UPDATE`

// recordStatusSQL applies one callback and logs it, in one statement. The
// UPDATE's rank guard is re-evaluated on the latest row version when two
// callbacks for one message race (READ COMMITTED re-checks a row it had to
// wait for), so the recipient only moves up. Rows in 'sending' are never
// touched: the sender holds them and its fenced write would fail; their
// events wait unapplied for that write. applied_at is set when the sid
// belongs to a recipient, whether or not the event moved it.
var recordStatusSQL = `
	WITH target AS (
		SELECT id FROM recipients
		WHERE message_sid = $1 AND status NOT IN ('pending', 'sending')
	), upd AS (
		UPDATE recipients r SET
			status        = $2,
			twilio_status = $3,
			error_code    = coalesce($4, r.error_code),
			error_message = CASE WHEN $4 IS NULL THEN r.error_message ELSE $5 END,
			delivered_at  = CASE WHEN $2 = 'delivered' THEN coalesce($6, now()) ELSE r.delivered_at END,
			updated_at    = now()
		WHERE r.message_sid = $1 AND r.status NOT IN ('pending', 'sending')
		  AND ` + rankSQL("r.status") + ` < $7
		RETURNING r.id
	)
	INSERT INTO message_events (message_sid, status, error_code, payload, recipient_status,
	                            error_message, done_at, applied_at)
	SELECT $1, $3, $4, $8, $2, $5, $6, CASE WHEN EXISTS (SELECT 1 FROM target) THEN now() END
	RETURNING applied_at IS NOT NULL, (SELECT count(*) FROM upd)`

// RecordStatus records one status callback: the raw event in
// message_events and, if it moves the recipient with its sid up, the
// recipient's new status, Twilio status, error and delivery time. One
// round trip, one transaction, committed before it returns.
func (s *Store) RecordStatus(ctx context.Context, ev *campaign.StatusEvent) (campaign.StatusResult, error) {
	payload := make(map[string]string, len(ev.Params))
	for k, v := range ev.Params {
		if len(v) > 0 {
			payload[k] = v[0]
		}
	}
	var done *time.Time
	if !ev.DoneAt.IsZero() {
		done = &ev.DoneAt
	}
	b := &pgx.Batch{}
	if ev.To != "" {
		b.Queue(lockSendingByPhone, ev.To)
	}
	var matched bool
	var updated int64
	b.Queue(recordStatusSQL, ev.MessageSID, string(ev.Status), ev.TwilioStatus, nullInt(ev.ErrorCode),
		nullString(ev.ErrorMessage), done, ev.Status.Rank(), payload).
		QueryRow(func(row pgx.Row) error { return row.Scan(&matched, &updated) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("record status %s of message %s: %w", ev.TwilioStatus, ev.MessageSID, err)
	}
	switch {
	case updated > 0:
		return campaign.StatusApplied, nil
	case matched:
		return campaign.StatusStale, nil
	default:
		return campaign.StatusBuffered, nil
	}
}

// bestEventsSQL selects, per message sid, the status callback that wins
// among those matching where: the highest-ranked recipient status, the
// earliest among equals (so the first final verdict stays, as for
// callbacks applied at once).
func bestEventsSQL(where string) string {
	return `
		SELECT DISTINCT ON (e.message_sid) e.message_sid, e.recipient_status, e.status,
		       e.error_code, e.error_message, e.done_at, e.received_at
		FROM message_events e
		WHERE ` + where + ` AND e.recipient_status IS NOT NULL
		ORDER BY e.message_sid, ` + rankSQL("e.recipient_status") + ` DESC, e.id`
}

// setFromBestEvent is the SET list that applies the winning callback b
// (a row of bestEventsSQL) to recipient r: its state, Twilio's word, the
// error if it carries one, and the delivery time.
const setFromBestEvent = `
			status        = b.recipient_status,
			twilio_status = b.status,
			error_code    = coalesce(b.error_code, r.error_code),
			error_message = CASE WHEN b.error_code IS NULL THEN r.error_message ELSE b.error_message END,
			delivered_at  = CASE WHEN b.recipient_status = 'delivered'
			                     THEN coalesce(b.done_at, b.received_at) ELSE r.delivered_at END,
			updated_at    = now()`

// applyPendingEventsSQL is the statement store/send.go's Record adds to its
// batch: after writing message sids, apply the status callbacks that arrived
// before them (message_events rows still unapplied). Per sid the highest-ranked
// event wins, the earliest among equals (the first final verdict stays, as for
// callbacks applied at once). Only events whose sid now belongs to a
// recipient are marked applied; the others keep waiting. It reads the
// partial index message_events_unapplied_idx, so it costs an index probe per
// sid when, as usual, nothing is waiting.
var applyPendingEventsSQL = `
	WITH best AS (` + bestEventsSQL("e.applied_at IS NULL AND e.message_sid = ANY($1::text[])") + `
	), upd AS (
		UPDATE recipients r SET ` + setFromBestEvent + `
		FROM best b
		WHERE r.message_sid = b.message_sid AND r.status NOT IN ('pending', 'sending')
		  AND ` + rankSQL("r.status") + ` < ` + rankSQL("b.recipient_status") + `
	)
	UPDATE message_events e SET applied_at = now()
	WHERE e.applied_at IS NULL AND e.message_sid = ANY($1::text[])
	  AND EXISTS (SELECT 1 FROM recipients r
	              WHERE r.message_sid = e.message_sid AND r.status NOT IN ('pending', 'sending'))`

// ApplyPendingEvents applies waiting status callbacks to the recipients with
// these sids, as Record does after writing them. Tests and tools use it; the
// engine needs nothing but Record.
func (s *Store) ApplyPendingEvents(ctx context.Context, sids []string) (int64, error) {
	tag, err := s.pool.Exec(ctx, applyPendingEventsSQL, sids)
	if err != nil {
		return 0, fmt.Errorf("apply pending status callbacks: %w", err)
	}
	return tag.RowsAffected(), nil
}

// OptOut adds phone to opt_outs. The primary key makes a repeated STOP a
// no-op that keeps the first reason and time.
func (s *Store) OptOut(ctx context.Context, phone, reason, source string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO opt_outs (phone, reason, source) VALUES ($1, $2, $3)
		ON CONFLICT (phone) DO NOTHING`, phone, reason, source)
	if err != nil {
		return false, fmt.Errorf("add opt-out: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// OptIn removes phone's opt-out when the recipient made it (a STOP reply,
// or Twilio's own STOP list seen as error 21610). A manual opt-out is an
// operator's decision — perhaps on a complaint — and a text does not undo it.
func (s *Store) OptIn(ctx context.Context, phone string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM opt_outs WHERE phone = $1 AND source IN ('inbound', 'twilio')`, phone)
	if err != nil {
		return false, fmt.Errorf("remove opt-out: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
