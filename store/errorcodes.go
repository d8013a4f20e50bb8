package store

import (
	"context"
	"fmt"
	"slices"
)

// ErrorCode is one row of twilio_errors: a Twilio error code, its words, and
// how smsblast treats it. The table's contents come from the Twilio client's
// own table (twilio.Codes), handed to Open through Options.ErrorCodes, so
// there is one source.
type ErrorCode struct {
	Code        int
	HTTPStatus  int // 0 for delivery codes, stored as NULL
	Description string
	// Class is twilio_errors.class: retryable, recipient, opt_out, campaign
	// or delivery.
	Class     string
	Retryable bool
}

// SyncErrorCodes makes twilio_errors hold codes: new codes are added, known
// ones updated where they differ, and none removed (a recipient may still
// carry a code a newer table dropped). Rows are written in code order, so
// processes starting at once take their row locks in the same order.
func (s *Store) SyncErrorCodes(ctx context.Context, codes []ErrorCode) error {
	codes = slices.Clone(codes)
	slices.SortFunc(codes, func(a, b ErrorCode) int { return a.Code - b.Code })
	n := len(codes)
	code, status, desc, class, retry := make([]int32, n), make([]*int32, n), make([]string, n), make([]string, n), make([]bool, n)
	for i, c := range codes {
		code[i], desc[i], class[i], retry[i] = int32(c.Code), c.Description, c.Class, c.Retryable
		if c.HTTPStatus != 0 {
			st := int32(c.HTTPStatus)
			status[i] = &st
		}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO twilio_errors AS t (code, http_status, description, class, retryable)
		SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::bool[])
		ORDER BY 1
		ON CONFLICT (code) DO UPDATE
		SET http_status = excluded.http_status, description = excluded.description,
		    class = excluded.class, retryable = excluded.retryable
		WHERE (t.http_status, t.description, t.class, t.retryable)
		      IS DISTINCT FROM (excluded.http_status, excluded.description, excluded.class, excluded.retryable)`,
		code, status, desc, class, retry)
	if err != nil {
		return fmt.Errorf("sync twilio_errors: %w", err)
	}
	return nil
}
