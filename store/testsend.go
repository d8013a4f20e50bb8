package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// TestRecipient returns the columns and CSV line of the recipient a test
// send uses: the first imported (lowest id) with source_line = line, or the
// first imported when line is 0 (campaign.TestStore).
func (s *Store) TestRecipient(ctx context.Context, campaignID int64, line int) (map[string]string, int, error) {
	// A one-off read: the campaign's rows come through the unique
	// (campaign_id, phone) index and the first by id is kept (a top-1
	// sort, no big sort); with a line, those of that line only.
	var raw []byte
	var got int
	err := s.pool.QueryRow(ctx, `
		SELECT attrs, coalesce(source_line, 0) FROM recipients
		WHERE campaign_id = $1 AND ($2 = 0 OR source_line = $2)
		ORDER BY id LIMIT 1`, campaignID, line).Scan(&raw, &got)
	if errors.Is(err, pgx.ErrNoRows) {
		if line > 0 {
			return nil, 0, fmt.Errorf("find the recipient of CSV line %d in campaign %d: %w", line, campaignID, campaign.ErrNoRecipient)
		}
		return nil, 0, fmt.Errorf("find a recipient of campaign %d: %w", campaignID, campaign.ErrNoRecipient)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("find a recipient of campaign %d: %w", campaignID, err)
	}
	attrs := map[string]string{}
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return nil, 0, fmt.Errorf("read the columns of line %d: %w", got, err)
	}
	return attrs, got, nil
}

// OptedOut reports whether phone is in opt_outs (its primary key).
func (s *Store) OptedOut(ctx context.Context, phone string) (bool, error) {
	var yes bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)`, phone).Scan(&yes); err != nil {
		return false, fmt.Errorf("look up opt-out: %w", err)
	}
	return yes, nil
}

// RecordTestSend adds t to test_sends.
func (s *Store) RecordTestSend(ctx context.Context, t *campaign.TestSend) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO test_sends (campaign_id, source_line, to_number, from_number, message_sid, status,
		                        error_code, error_message, segments, sent_at)
		VALUES ($1, nullif($2, 0), $3, nullif($4, ''), nullif($5, ''), $6, nullif($7, 0), nullif($8, ''), $9, $10)`,
		t.CampaignID, t.SourceLine, t.To, t.From, t.MessageSID, t.Status, t.ErrorCode, t.ErrorMessage, t.Segments, t.SentAt)
	if err != nil {
		return fmt.Errorf("record test send of campaign %d: %w", t.CampaignID, err)
	}
	return nil
}

var _ campaign.TestStore = (*Store)(nil)
