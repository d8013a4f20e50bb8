package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smsblast/smsblast/campaign"
)

// campaignColumns is every column of campaigns, in scanCampaign's order.
// Nullable columns come back as empty strings and zeros, so the Go type needs no pointers.
const campaignColumns = `id, name, coalesce(from_number, ''), coalesce(messaging_service_sid, ''),
	body_template, coalesce(status_callback, ''), status, coalesce(status_reason, ''),
	coalesce(rate, 0), concurrency, max_attempts, coalesce(validity_period, 0), created_at, updated_at,
	coalesce(sender_pool, '{}'), geomatch, start_at, stop_at, coalesce(tz, ''), coalesce(send_window, 'any'),
	coalesce(window_tz, '')`

func scanCampaign(row pgx.Row) (*campaign.Campaign, error) { return scanCampaignAnd(row) }

// scanCampaignAnd scans campaignColumns followed by more columns.
func scanCampaignAnd(row pgx.Row, more ...any) (*campaign.Campaign, error) {
	var c campaign.Campaign
	var start, stop *time.Time
	var window string
	err := row.Scan(append([]any{&c.ID, &c.Name, &c.From, &c.MessagingServiceSID,
		&c.BodyTemplate, &c.StatusCallback, &c.Status, &c.StatusReason,
		&c.Rate, &c.Concurrency, &c.MaxAttempts, &c.ValidityPeriod, &c.CreatedAt, &c.UpdatedAt,
		&c.Pool, &c.Geomatch, &start, &stop, &c.TZ, &window, &c.WindowTZ}, more...)...)
	if err != nil {
		return nil, err
	}
	if start != nil {
		c.StartAt = *start
	}
	if stop != nil {
		c.StopAt = *stop
	}
	if c.Window, err = campaign.ParseWindow(window); err != nil {
		return nil, fmt.Errorf("campaign %q: send_window: %w", c.Name, err)
	}
	if len(c.Pool) == 0 {
		c.Pool = nil
	}
	return &c, nil
}

// CampaignByName returns the campaign called name, or campaign.ErrNotFound.
func (s *Store) CampaignByName(ctx context.Context, name string) (*campaign.Campaign, error) {
	// campaigns.name is UNIQUE: an index lookup.
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("look up campaign %q: %w", name, campaign.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up campaign %q: %w", name, err)
	}
	return c, nil
}

// CreateCampaign inserts c, which must have a name, exactly one sender and
// a body. Zero Rate, Concurrency and MaxAttempts take the schema's defaults,
// an empty Status is draft. On success c's ID, Status, Rate, Concurrency,
// MaxAttempts and timestamps are those stored. A campaign with the same name
// is campaign.ErrExists.
func (s *Store) CreateCampaign(ctx context.Context, c *campaign.Campaign) error {
	// Zero settings are left out of the INSERT so the column defaults apply:
	// the defaults live in the schema only. nullif stores Go's empty strings
	// as NULL (no sender of that kind, no callback).
	cols := []string{"name", "from_number", "messaging_service_sid", "body_template", "status_callback", "status_reason"}
	vals := []string{"$1", "nullif($2, '')", "nullif($3, '')", "$4", "nullif($5, '')", "nullif($6, '')"}
	args := []any{c.Name, c.From, c.MessagingServiceSID, c.BodyTemplate, c.StatusCallback, c.StatusReason}
	add := func(col string, v any, zero bool) {
		if !zero {
			args = append(args, v)
			cols = append(cols, col)
			vals = append(vals, fmt.Sprintf("$%d", len(args)))
		}
	}
	add("status", string(c.Status), c.Status == "")
	add("rate", c.Rate, c.Rate == 0)
	add("concurrency", c.Concurrency, c.Concurrency == 0)
	add("max_attempts", c.MaxAttempts, c.MaxAttempts == 0)
	add("validity_period", c.ValidityPeriod, c.ValidityPeriod == 0)
	add("sender_pool", c.Pool, len(c.Pool) < 2)
	add("geomatch", c.Geomatch, !c.Geomatch)
	add("start_at", c.StartAt, c.StartAt.IsZero())
	add("stop_at", c.StopAt, c.StopAt.IsZero())
	add("tz", c.TZ, c.TZ == "")
	add("send_window", c.Window.String(), c.Window.Any())
	add("window_tz", c.WindowTZ, c.WindowTZ == "")
	q := "INSERT INTO campaigns (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") +
		") RETURNING " + campaignColumns
	got, err := scanCampaign(s.pool.QueryRow(ctx, q, args...))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation on campaigns.name
		return fmt.Errorf("create campaign %q: %w", c.Name, campaign.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create campaign %q: %w", c.Name, err)
	}
	*c = *got
	return nil
}

// ChangeCampaign applies change to the campaign called name and writes the
// result, in one transaction that holds the campaign's row lock, so a
// concurrent change or status update is either before or after it. change
// learns whether the campaign ever started sending (started_at is set by the
// first send). It returns the campaign before and after.
func (s *Store) ChangeCampaign(ctx context.Context, name string, change func(c *campaign.Campaign, started bool) error) (before, after *campaign.Campaign, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var started bool
		c, err := scanCampaignAnd(tx.QueryRow(ctx, `SELECT `+campaignColumns+`, started_at IS NOT NULL
			FROM campaigns WHERE name = $1 FOR UPDATE`, name), &started)
		if errors.Is(err, pgx.ErrNoRows) {
			return campaign.ErrNotFound
		}
		if err != nil {
			return err
		}
		b := *c
		before = &b
		if err := change(c, started); err != nil {
			return err
		}
		after, err = scanCampaign(tx.QueryRow(ctx, `
			UPDATE campaigns SET
				from_number = nullif($2, ''), sender_pool = $3, messaging_service_sid = nullif($4, ''),
				body_template = $5, status_callback = nullif($6, ''), rate = nullif($7::float8, 0),
				concurrency = $8, max_attempts = $9, validity_period = nullif($10, 0), geomatch = $11,
				start_at = $12, stop_at = $13, tz = nullif($14, ''), send_window = nullif($15, 'any'),
				window_tz = nullif($16, ''), updated_at = now()
			WHERE id = $1
			RETURNING `+campaignColumns,
			c.ID, c.From, nilIfEmpty(c.Pool), c.MessagingServiceSID, c.BodyTemplate, c.StatusCallback, c.Rate,
			c.Concurrency, c.MaxAttempts, c.ValidityPeriod, c.Geomatch,
			nullTime(c.StartAt), nullTime(c.StopAt), c.TZ, c.Window.String(), c.WindowTZ))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("change campaign %q: %w", name, err)
	}
	return before, after, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
