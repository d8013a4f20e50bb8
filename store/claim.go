package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// Claim runs one claim in a transaction: it locks the next due pending
// recipients (and the usage rows of capped senders), lets req.Decide say
// what becomes of each, and applies the decisions. The policy — which
// sender, whether a daily cap or a send window holds a recipient back —
// lives in the engine; this method only reads and writes.
func (s *Store) Claim(ctx context.Context, req campaign.ClaimRequest) ([]campaign.Claim, campaign.ClaimCounts, error) {
	var counts campaign.ClaimCounts
	var claims []campaign.Claim
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := claimCandidates(ctx, tx, &req)
		if err != nil || len(st.Candidates) == 0 {
			return err
		}
		decisions := req.Decide(st)
		if len(decisions) != len(st.Candidates) {
			return fmt.Errorf("decide: %d decisions for %d candidates", len(decisions), len(st.Candidates))
		}
		claims, counts, err = applyClaim(ctx, tx, &req, st, decisions)
		return err
	})
	if err != nil {
		return nil, counts, fmt.Errorf("claim recipients of campaign %d: %w", req.CampaignID, err)
	}
	return claims, counts, nil
}

// claimCandidates locks the candidates and the capped senders' usage rows.
//
// The candidates come from recipients_pending_idx in (next_attempt_at, id)
// order, so however many rows are done or held for later, this is an index
// range scan that stops after N rows. SKIP LOCKED lets several workers claim
// disjoint rows without waiting for each other. The sticky sender comes by
// primary key, only when the campaign has a pool.
//
// Usage rows are created if missing and locked in sender order, so claims
// of different campaigns on one sender serialise on it (that is what makes
// the cap hold across processes) without deadlocking.
func claimCandidates(ctx context.Context, tx pgx.Tx, req *campaign.ClaimRequest) (*campaign.ClaimState, error) {
	sticky := "''"
	join := ""
	if len(req.Pool) > 1 {
		sticky, join = "coalesce(s.sender, '')", "LEFT JOIN sticky_senders s ON s.phone = r.phone"
	}
	b := &pgx.Batch{}
	b.Queue(`
		SELECT r.id, r.phone, coalesce(r.segments, 1), coalesce(r.time_zones, ''),
		       EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = r.phone), `+sticky+`
		FROM recipients r `+join+`
		WHERE r.campaign_id = $1 AND r.status = 'pending' AND r.next_attempt_at <= $2
		ORDER BY r.next_attempt_at, r.id
		LIMIT $3
		FOR UPDATE OF r SKIP LOCKED`, req.CampaignID, req.Now, req.N)
	senders, days := capDayArrays(req.CapDays)
	if len(senders) > 0 {
		b.Queue(`
			INSERT INTO sender_usage (sender, day)
			SELECT * FROM unnest($1::text[], $2::date[]) ORDER BY 1
			ON CONFLICT (sender, day) DO NOTHING`, senders, days)
		b.Queue(`
			SELECT u.sender, u.segments FROM sender_usage u
			JOIN unnest($1::text[], $2::date[]) AS d(sender, day) ON d.sender = u.sender AND d.day = u.day
			ORDER BY u.sender
			FOR UPDATE OF u`, senders, days)
	}
	if req.Budget {
		b.Queue(`INSERT INTO campaign_budget (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING`, req.CampaignID)
		b.Queue(`SELECT segments, amount::float8 FROM campaign_budget WHERE campaign_id = $1 FOR UPDATE`, req.CampaignID)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	st := &campaign.ClaimState{Usage: map[string]int64{}, Contacts: map[string]int{}}
	st.Candidates, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.Candidate, error) {
		var c campaign.Candidate
		err := r.Scan(&c.RecipientID, &c.Phone, &c.Segments, &c.TimeZones, &c.OptedOut, &c.Sticky)
		return c, err
	})
	if err != nil {
		return nil, err
	}
	if len(senders) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		var sender string
		var used int64
		if _, err := pgx.ForEachRow(rows, []any{&sender, &used}, func() error {
			st.Usage[sender] = used
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if req.Budget {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		if err := br.QueryRow().Scan(&st.Spent.Segments, &st.Spent.Amount); err != nil {
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if req.Frequency.Count > 0 && len(st.Candidates) > 0 {
		if err := readContacts(ctx, tx, req, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// readContacts locks each candidate's phone — a transaction-scoped advisory
// lock, in phone order, taken by every claim of a campaign with a frequency
// cap, so two such claims never both count a phone's contacts before the
// other's are written — and counts its contacts, from any campaign, within
// the window (contacts_phone_idx).
func readContacts(ctx context.Context, tx pgx.Tx, req *campaign.ClaimRequest, st *campaign.ClaimState) error {
	phones := make([]string, len(st.Candidates))
	for i, c := range st.Candidates {
		phones[i] = c.Phone
	}
	b := &pgx.Batch{}
	b.Queue(`
		SELECT count(pg_advisory_xact_lock(hashtextextended('smsblast phone ' || x.p, 0)))
		FROM (SELECT DISTINCT p FROM unnest($1::text[]) AS p ORDER BY p) x`, phones)
	b.Queue(`
		SELECT phone, count(*) FROM contacts
		WHERE phone = ANY ($1) AND at > $2::timestamptz - $3::interval
		GROUP BY phone`, phones, req.Now, req.Frequency.Window)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var phone string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&phone, &n}, func() error {
		st.Contacts[phone] = n
		return nil
	}); err != nil {
		return err
	}
	return br.Close()
}

// applyClaim writes the decisions in one batch: one UPDATE of the candidates
// from unnest arrays (claimed, held or skipped), the reserved segments, and
// the sticky senders chosen.
func applyClaim(ctx context.Context, tx pgx.Tx, req *campaign.ClaimRequest, st *campaign.ClaimState, ds []campaign.Decision) ([]campaign.Claim, campaign.ClaimCounts, error) {
	var counts campaign.ClaimCounts
	n := len(ds)
	ids := make([]int64, n)
	kinds := make([]string, n)
	senders := make([]*string, n)
	holds := make([]*time.Time, n)
	reasons := make([]*string, n)
	reserveDays := make([]*time.Time, n)
	holdReasons := make([]*string, n)
	costs := make([]*float64, n)
	var spentSegments int64
	var spentAmount float64
	var contactIDs []int64
	var contactPhones []string
	reserved := map[string]int64{}
	var stickyPhones, stickySenders []string
	for i, d := range ds {
		c := &st.Candidates[i]
		ids[i] = c.RecipientID
		switch {
		case d.Leave:
			kinds[i] = "leave"
			counts.Left++
		case d.Skip != "":
			kinds[i], reasons[i] = "skip", &d.Skip
			counts.Skipped++
		case !d.HoldUntil.IsZero():
			kinds[i], holds[i] = "hold", &d.HoldUntil
			if d.Sender != "" {
				senders[i] = &d.Sender
			}
			if d.Hold != "" {
				reason := holdColumn(d.Hold)
				holdReasons[i] = &reason
			}
			counts.Held++
		default:
			kinds[i], senders[i] = "claim", &d.Sender
			if d.Reserve {
				day, ok := req.CapDays[d.Sender]
				if !ok {
					return nil, counts, fmt.Errorf("decide: reserve on %s, which has no cap day", d.Sender)
				}
				reserveDays[i] = &day
				reserved[d.Sender] += int64(c.Segments)
			}
			if d.Sticky {
				stickyPhones, stickySenders = append(stickyPhones, c.Phone), append(stickySenders, d.Sender)
			}
			if req.Budget {
				cost := d.Cost
				costs[i] = &cost
				spentSegments += int64(c.Segments)
				spentAmount += cost
			}
			contactIDs, contactPhones = append(contactIDs, c.RecipientID), append(contactPhones, c.Phone)
		}
	}
	b := &pgx.Batch{}
	// The lease is on the database's clock (leases are about real time:
	// whether a process still lives); next_attempt_at on the engine's.
	b.Queue(`
		UPDATE recipients r SET
			status           = CASE u.kind WHEN 'claim' THEN 'sending' WHEN 'skip' THEN 'skipped' ELSE r.status END,
			attempts         = r.attempts + CASE WHEN u.kind = 'claim' THEN 1 ELSE 0 END,
			lease_owner      = CASE WHEN u.kind = 'claim' THEN $1 END,
			lease_expires_at = CASE WHEN u.kind = 'claim' THEN now() + $2::interval END,
			claimed_at       = CASE WHEN u.kind = 'claim' THEN now() ELSE r.claimed_at END,
			in_doubt_since   = NULL,
			next_attempt_at  = coalesce(u.hold_until, r.next_attempt_at),
			sender           = coalesce(u.sender, r.sender),
			reserved_day     = CASE WHEN u.kind = 'claim' THEN u.reserve_day ELSE r.reserved_day END,
			budget_cost      = CASE WHEN u.kind = 'claim' THEN u.cost ELSE r.budget_cost END,
			hold             = u.hold,
			error_message    = coalesce(u.reason, r.error_message),
			updated_at       = now()
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::date[], $9::text[],
		            $10::numeric[])
		     AS u(id, kind, sender, hold_until, reason, reserve_day, hold, cost)
		WHERE r.id = u.id AND u.kind = ANY ('{claim,hold,skip}')
		RETURNING r.id, r.phone, r.attrs, r.attempts, r.claimed_at, r.sender, u.kind = 'claim'`,
		req.WorkerID, req.Lease, ids, kinds, senders, holds, reasons, reserveDays, holdReasons, costs)
	if len(reserved) > 0 {
		rs := slices.Sorted(maps.Keys(reserved))
		days := make([]time.Time, len(rs))
		amounts := make([]int64, len(rs))
		for i, s := range rs {
			days[i], amounts[i] = req.CapDays[s], reserved[s]
		}
		b.Queue(`
			UPDATE sender_usage u SET segments = u.segments + d.n
			FROM unnest($1::text[], $2::date[], $3::bigint[]) AS d(sender, day, n)
			WHERE u.sender = d.sender AND u.day = d.day`, rs, days, amounts)
	}
	if req.Budget && (spentSegments > 0 || spentAmount > 0) {
		b.Queue(`UPDATE campaign_budget SET segments = segments + $2, amount = amount + $3 WHERE campaign_id = $1`,
			req.CampaignID, spentSegments, spentAmount)
	}
	// Every claim records its recipients as contacts, so that a campaign
	// with a frequency cap counts what every campaign sends.
	if len(contactIDs) > 0 {
		b.Queue(`
			INSERT INTO contacts (phone, at, campaign_id, recipient_id)
			SELECT p, $1, $2, id FROM unnest($3::text[], $4::bigint[]) AS u(p, id)`,
			req.Now, req.CampaignID, contactPhones, contactIDs)
	}
	if len(stickyPhones) > 0 {
		b.Queue(`
			INSERT INTO sticky_senders (phone, sender)
			SELECT * FROM unnest($1::text[], $2::text[])
			ON CONFLICT (phone) DO UPDATE SET sender = excluded.sender, updated_at = now()
			WHERE sticky_senders.sender <> excluded.sender`, stickyPhones, stickySenders)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, counts, err
	}
	claims := make([]campaign.Claim, 0, n)
	for rows.Next() {
		var c campaign.Claim
		var attrs []byte
		var claimedAt *time.Time
		var sender *string
		var claimed bool
		if err := rows.Scan(&c.RecipientID, &c.Phone, &attrs, &c.Attempt, &claimedAt, &sender, &claimed); err != nil {
			rows.Close()
			return nil, counts, err
		}
		if !claimed {
			continue
		}
		c.ClaimedAt = *claimedAt
		c.Sender = *sender
		if err := json.Unmarshal(attrs, &c.Attrs); err != nil {
			rows.Close()
			return nil, counts, fmt.Errorf("decode attrs of recipient %d: %w", c.RecipientID, err)
		}
		claims = append(claims, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, counts, err
	}
	for i := 1; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			return nil, counts, err
		}
	}
	return claims, counts, br.Close()
}

// holdColumn is recipients.hold for a hold reason.
func holdColumn(r campaign.HoldReason) string {
	switch r {
	case campaign.HoldDailyCap:
		return "daily_cap"
	case campaign.HoldWindow:
		return "window"
	}
	return string(r)
}

// ReleaseHolds makes due now the pending recipients held back for reason
// (waiting for sender's daily cap to reset, say) after the cause went away
// (the cap was raised). Held rows are dated in the future, so this reads
// only the future part of each campaign's pending index.
func (s *Store) ReleaseHolds(ctx context.Context, sender string, reason campaign.HoldReason) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE recipients r SET next_attempt_at = now(), hold = NULL, updated_at = now()
		FROM campaigns c
		WHERE r.campaign_id = c.id AND c.status NOT IN ('completed', 'canceled')
		  AND r.status = 'pending' AND r.next_attempt_at > now() AND r.hold = $2 AND r.sender = $1`,
		sender, holdColumn(reason))
	if err != nil {
		return 0, fmt.Errorf("release recipients held by %s of %s: %w", reason, sender, err)
	}
	return tag.RowsAffected(), nil
}

// ReleaseCampaignHolds makes due now a campaign's pending recipients held
// back for reason (their send window) after what held them changed (the
// window was widened); the next claim looks at them again.
func (s *Store) ReleaseCampaignHolds(ctx context.Context, campaignID int64, reason campaign.HoldReason) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE recipients SET next_attempt_at = now(), hold = NULL, updated_at = now()
		WHERE campaign_id = $1 AND status = 'pending' AND next_attempt_at > now() AND hold = $2`,
		campaignID, holdColumn(reason))
	if err != nil {
		return 0, fmt.Errorf("release recipients of campaign %d held by %s: %w", campaignID, reason, err)
	}
	return tag.RowsAffected(), nil
}

// capDayArrays turns cap days into parallel arrays in sender order.
func capDayArrays(m map[string]time.Time) ([]string, []time.Time) {
	senders := make([]string, 0, len(m))
	for s := range m {
		senders = append(senders, s)
	}
	slices.Sort(senders)
	days := make([]time.Time, len(senders))
	for i, s := range senders {
		days[i] = m[s]
	}
	return senders, days
}
