package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// PendingRecipient is one recipient send has yet to text, as preview reads
// it.
type PendingRecipient struct {
	Line  int
	Phone string
	// Attrs are its CSV columns; valid until fn returns (the map is reused).
	Attrs map[string]string
	// OptedOut: its phone is in opt_outs, so send skips it.
	OptedOut bool
	// Contacts counts its phone's messages from any campaign within the
	// frequency cap's window (0 without a cap).
	Contacts int
}

// EachPending streams the campaign's pending recipients to fn, with what
// send would make of them now: whether each is opted out and, with a
// frequency cap, how often it was texted within the cap's window before
// now. Rows come in no particular order.
//
// It is one query read as it arrives (pgx reads rows off the connection as
// they are consumed), so memory does not grow with the campaign: 10M
// recipients cost one row's worth at a time. opt_outs and the window's
// contacts are joined by hash (each read once), not probed per recipient.
func (s *Store) EachPending(ctx context.Context, campaignID int64, freq campaign.FrequencyCap, now time.Time, fn func(*PendingRecipient) error) error {
	contacts := `0`
	join := ``
	args := []any{campaignID}
	if freq.Count > 0 {
		contacts = `coalesce(c.n, 0)`
		join = `LEFT JOIN (SELECT phone, count(*) AS n FROM contacts
		                   WHERE at > $2::timestamptz - $3::interval GROUP BY phone) c ON c.phone = r.phone`
		args = append(args, now, freq.Window)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(r.source_line, 0), r.phone, r.attrs, o.phone IS NOT NULL, `+contacts+`
		FROM recipients r
		LEFT JOIN opt_outs o ON o.phone = r.phone
		`+join+`
		WHERE r.campaign_id = $1 AND r.status = 'pending'`, args...)
	if err != nil {
		return fmt.Errorf("read pending recipients of campaign %d: %w", campaignID, err)
	}
	p := PendingRecipient{Attrs: map[string]string{}}
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&p.Line, &p.Phone, &raw, &p.OptedOut, &p.Contacts}, func() error {
		clear(p.Attrs)
		if err := json.Unmarshal(raw, &p.Attrs); err != nil {
			return fmt.Errorf("read the columns of line %d: %w", p.Line, err)
		}
		return fn(&p)
	})
	if err != nil {
		return fmt.Errorf("read pending recipients of campaign %d: %w", campaignID, err)
	}
	return nil
}
