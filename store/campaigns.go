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
	coalesce(window_tz, ''), coalesce(budget_segments, 0), coalesce(budget_amount, 0)::float8,
	coalesce(frequency_count, 0), coalesce(frequency_window, interval '0'), smart_encode, max_segments`

func scanCampaign(row pgx.Row) (*campaign.Campaign, error) { return scanCampaignAnd(row) }

// scanCampaignAnd scans campaignColumns followed by more columns.
func scanCampaignAnd(row pgx.Row, more ...any) (*campaign.Campaign, error) {
	var c campaign.Campaign
	var start, stop *time.Time
	var window string
	err := row.Scan(append([]any{&c.ID, &c.Name, &c.From, &c.MessagingServiceSID,
		&c.BodyTemplate, &c.StatusCallback, &c.Status, &c.StatusReason,
		&c.Rate, &c.Concurrency, &c.MaxAttempts, &c.ValidityPeriod, &c.CreatedAt, &c.UpdatedAt,
		&c.Pool, &c.Geomatch, &start, &stop, &c.TZ, &window, &c.WindowTZ,
		&c.BudgetSegments, &c.BudgetAmount, &c.Frequency.Count, &c.Frequency.Window,
		&c.SmartEncode, &c.MaxSegments}, more...)...)
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
	got, err := insertCampaign(ctx, s.pool, c, "")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation on campaigns.name
		return fmt.Errorf("create campaign %q: %w", c.Name, campaign.ErrExists)
	}
	if err != nil {
		return err
	}
	*c = *got
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertCampaign inserts c through q, with onConflict appended to the
// INSERT, and returns the row as stored. With ON CONFLICT DO NOTHING a
// taken name is pgx.ErrNoRows, returned unwrapped.
func insertCampaign(ctx context.Context, q querier, c *campaign.Campaign, onConflict string) (*campaign.Campaign, error) {
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
	add("budget_segments", c.BudgetSegments, c.BudgetSegments == 0)
	add("budget_amount", c.BudgetAmount, c.BudgetAmount == 0)
	add("frequency_count", c.Frequency.Count, c.Frequency.Count == 0)
	add("frequency_window", c.Frequency.Window, c.Frequency.Count == 0)
	add("smart_encode", c.SmartEncode, !c.SmartEncode)
	add("max_segments", c.MaxSegments, c.MaxSegments == 0)
	sql := "INSERT INTO campaigns (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")" +
		onConflict + " RETURNING " + campaignColumns
	got, err := scanCampaign(q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("create campaign %q: %w", c.Name, err)
	}
	return got, nil
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
				window_tz = nullif($16, ''), budget_segments = nullif($17, 0), budget_amount = nullif($18::float8, 0),
				frequency_count = nullif($19, 0), frequency_window = CASE WHEN $19 > 0 THEN $20::interval END,
				smart_encode = $21, max_segments = coalesce(nullif($22, 0), max_segments),
				updated_at = now()
			WHERE id = $1
			RETURNING `+campaignColumns,
			c.ID, c.From, nilIfEmpty(c.Pool), c.MessagingServiceSID, c.BodyTemplate, c.StatusCallback, c.Rate,
			c.Concurrency, c.MaxAttempts, c.ValidityPeriod, c.Geomatch,
			nullTime(c.StartAt), nullTime(c.StopAt), c.TZ, c.Window.String(), c.WindowTZ,
			c.BudgetSegments, c.BudgetAmount, c.Frequency.Count, c.Frequency.Window, c.SmartEncode, c.MaxSegments))
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

// SetPrices replaces a campaign's prices by destination country.
func (s *Store) SetPrices(ctx context.Context, campaignID int64, prices campaign.Prices) error {
	countries := make([]string, 0, len(prices))
	per := make([]float64, 0, len(prices))
	currency := make([]string, 0, len(prices))
	for _, p := range prices {
		countries, per, currency = append(countries, p.Country), append(per, p.PerSegment), append(currency, p.Currency)
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM campaign_prices WHERE campaign_id = $1`, campaignID)
	b.Queue(`
		INSERT INTO campaign_prices (campaign_id, country, price_per_segment, currency)
		SELECT $1, * FROM unnest($2::text[], $3::numeric[], $4::text[])`, campaignID, countries, per, currency)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("set prices of campaign %d: %w", campaignID, err)
	}
	return nil
}

// Prices reads a campaign's prices by destination country.
func (s *Store) Prices(ctx context.Context, campaignID int64) (campaign.Prices, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT country, price_per_segment::float8, currency FROM campaign_prices WHERE campaign_id = $1`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("read prices of campaign %d: %w", campaignID, err)
	}
	out := campaign.Prices{}
	var p campaign.Price
	_, err = pgx.ForEachRow(rows, []any{&p.Country, &p.PerSegment, &p.Currency}, func() error {
		out[p.Country] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read prices of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// Spent reads what a campaign has spent of its budget (reserved included).
func (s *Store) Spent(ctx context.Context, campaignID int64) (campaign.Spent, error) {
	var sp campaign.Spent
	err := s.pool.QueryRow(ctx, `SELECT segments, amount::float8 FROM campaign_budget WHERE campaign_id = $1`, campaignID).
		Scan(&sp.Segments, &sp.Amount)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return sp, fmt.Errorf("read budget spent by campaign %d: %w", campaignID, err)
	}
	return sp, nil
}
