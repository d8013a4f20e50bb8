package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smsblast/smsblast/campaign"
)

// BeginImport starts an import's transaction on c (campaign.ImportStore).
// A c without an ID is created inside the transaction, so an import that
// fails leaves no campaign behind; its name already taken is
// campaign.ErrExists, with nothing begun.
//
// Imports of one campaign take turns: each holds the campaign's import
// lock (a transaction-scoped advisory lock) to its end. Side by side, two
// imports of overlapping files would each wait on the other's uncommitted
// rows, a deadlock as soon as they meet the shared numbers in different
// orders; in turn, the second reads the first's phones when it begins and
// loads only what is new. waiting is called first if another import holds
// the lock.
func (s *Store) BeginImport(ctx context.Context, c *campaign.Campaign, waiting func()) (campaign.ImportTx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin import into campaign %q: %w", c.Name, err)
	}
	if c.ID == 0 {
		// ON CONFLICT DO NOTHING waits for another transaction inserting
		// the same name (another first import) to end: if it commits, no
		// row comes back and this import appends to its campaign instead;
		// if it rolls back, this one creates it.
		got, err := insertCampaign(ctx, tx, c, " ON CONFLICT (name) DO NOTHING")
		if errors.Is(err, pgx.ErrNoRows) {
			err = fmt.Errorf("create campaign %q: %w", c.Name, campaign.ErrExists)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, err
		}
		*c = *got
	}
	if err := lockImports(ctx, tx, c.ID, waiting); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("begin import into campaign %q: %w", c.Name, err)
	}
	return &importTx{tx: tx, campaignID: c.ID}, nil
}

// lockImports takes campaign id's import lock for the rest of tx, calling
// waiting first if another import holds it.
func lockImports(ctx context.Context, tx pgx.Tx, id int64, waiting func()) error {
	const key = `hashtextextended('smsblast import ' || $1::bigint, 0)`
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(`+key+`)`, id).Scan(&got); err != nil {
		return fmt.Errorf("take the campaign's import lock: %w", err)
	}
	if got {
		return nil
	}
	if waiting != nil {
		waiting()
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+key+`)`, id); err != nil {
		return fmt.Errorf("wait for the campaign's import lock: %w", err)
	}
	return nil
}

// importTx is one import's transaction. Not safe for concurrent use.
type importTx struct {
	tx         pgx.Tx
	campaignID int64
}

// ExistingPhones reads the campaign's phones, for the importer's filter.
func (t *importTx) ExistingPhones(ctx context.Context, fn func(string) error) error {
	// An index-only scan of the UNIQUE (campaign_id, phone) index.
	return t.each(ctx, "read the campaign's phones", fn,
		`SELECT phone FROM recipients WHERE campaign_id = $1`, t.campaignID)
}

func (t *importTx) each(ctx context.Context, what string, fn func(string) error, sql string, args ...any) error {
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var phone string
	for rows.Next() {
		if err := rows.Scan(&phone); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(phone); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// recipientCopyColumns are what an import sets; the rest take their defaults
// (status pending, due now).
var recipientCopyColumns = []string{"campaign_id", "phone", "attrs", "source_line", "segments", "time_zones"}

// copySource adapts a campaign.ImportRowSource to pgx's CopyFromSource,
// reusing one values slice: pgx encodes each row before asking for the next.
type copySource struct {
	src        campaign.ImportRowSource
	campaignID int64
	vals       []any
}

func (c *copySource) Next() bool { return c.src.Next() }
func (c *copySource) Err() error { return c.src.Err() }
func (c *copySource) Values() ([]any, error) {
	r := c.src.Row()
	c.vals[0], c.vals[1], c.vals[2], c.vals[3], c.vals[4] = c.campaignID, r.Phone, r.Attrs, int32(r.Line), int32(r.Segments)
	c.vals[5] = nullString(r.TimeZones)
	return c.vals, nil
}

// CopyRecipients streams the rows into recipients with COPY: the fastest
// load there is, and the statement-level counter trigger runs once for all
// of them. The importer gives it only phones that were not in the campaign
// when it read the campaign's phones, so a unique violation means a writer
// other than an import (imports take turns) added one since: the caller
// retries, inserting every row through InsertRecipients.
func (t *importTx) CopyRecipients(ctx context.Context, src campaign.ImportRowSource) (int64, error) {
	cs := &copySource{src: src, campaignID: t.campaignID, vals: make([]any, len(recipientCopyColumns))}
	n, err := t.tx.CopyFrom(ctx, pgx.Identifier{"recipients"}, recipientCopyColumns, cs)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, fmt.Errorf("copy recipients into campaign %d: %w", t.campaignID, campaign.ErrConcurrentImport)
	}
	if err != nil {
		return 0, fmt.Errorf("copy recipients into campaign %d: %w", t.campaignID, err)
	}
	return n, nil
}

// InsertRecipients inserts rows that may already be there.
func (t *importTx) InsertRecipients(ctx context.Context, rows []campaign.ImportRow) ([]int, error) {
	phones := make([]string, len(rows))
	attrs := make([]string, len(rows))
	lines := make([]int32, len(rows))
	segments := make([]int32, len(rows))
	zones := make([]string, len(rows))
	for i, r := range rows {
		phones[i], attrs[i], lines[i], segments[i], zones[i] = r.Phone, string(r.Attrs), int32(r.Line), int32(r.Segments), r.TimeZones
	}
	// One statement for a few thousand rows, through unnest. In line order,
	// so that ON CONFLICT (campaign_id, phone) DO NOTHING keeps the first
	// row of a phone and skips the later ones and those the campaign has;
	// a row another writer inserted and has not committed is waited for,
	// then skipped if it commits. Slower than the COPY (a speculative
	// insertion and an executor row per row, and the importer waits for
	// it): an import that sends every row this way takes nearly twice as
	// long (BenchmarkImport1MHeld against BenchmarkImport1M; the README's
	// Performance has the figures), so only rows the filter cannot vouch
	// for come here.
	rs, err := t.tx.Query(ctx, `
		INSERT INTO recipients (campaign_id, phone, attrs, source_line, segments, time_zones)
		SELECT $1, r.phone, r.attrs::jsonb, r.line, r.segments, nullif(r.zones, '')
		FROM unnest($2::text[], $3::text[], $4::integer[], $5::integer[], $6::text[])
		     AS r(phone, attrs, line, segments, zones)
		ORDER BY r.line
		ON CONFLICT (campaign_id, phone) DO NOTHING
		RETURNING source_line`,
		t.campaignID, phones, attrs, lines, segments, zones)
	if err != nil {
		return nil, fmt.Errorf("insert recipients into campaign %d: %w", t.campaignID, err)
	}
	inserted, err := pgx.CollectRows(rs, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("insert recipients into campaign %d: %w", t.campaignID, err)
	}
	return inserted, nil
}

// CountOptedOut counts the opted-out recipients this transaction inserted.
func (t *importTx) CountOptedOut(ctx context.Context) (int, error) {
	// Rows this transaction inserted carry its id in xmin (the import uses
	// no savepoints, so no subtransaction's). One probe of the unique
	// (campaign_id, phone) index per opt-out: the cost follows opt_outs,
	// not the size of the import or the campaign. The LATERAL … LIMIT 1
	// keeps the planner to that order: the statistics know nothing yet of
	// the rows this import added, and a plain join could be planned as a
	// walk over all of them, millions, thought to be a few.
	var n int
	err := t.tx.QueryRow(ctx, `
		SELECT count(*) FROM opt_outs o,
		LATERAL (SELECT FROM recipients r
		         WHERE r.campaign_id = $1 AND r.phone = o.phone AND r.xmin = pg_current_xact_id()::xid
		         LIMIT 1) AS mine`, t.campaignID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count opted-out recipients imported into campaign %d: %w", t.campaignID, err)
	}
	return n, nil
}

// InsertRejects records rejected rows.
func (t *importTx) InsertRejects(ctx context.Context, source string, rejects []campaign.ImportReject) error {
	lines := make([]int32, len(rejects))
	raws := make([]string, len(rejects))
	reasons := make([]string, len(rejects))
	for i, r := range rejects {
		lines[i], raws[i], reasons[i] = int32(r.Line), r.Raw, r.Reason
	}
	// One statement per few thousand rows through unnest; the conflict is
	// on import_rejects_once_idx (campaign_id, source, source_line,
	// md5(raw)), so a re-imported file records nothing new.
	_, err := t.tx.Exec(ctx, `
		INSERT INTO import_rejects (campaign_id, source, source_line, raw, reason)
		SELECT $1, $2, r.line, r.raw, r.reason
		FROM unnest($3::integer[], $4::text[], $5::text[]) AS r(line, raw, reason)
		ON CONFLICT DO NOTHING`,
		t.campaignID, source, lines, raws, reasons)
	if err != nil {
		return fmt.Errorf("record rejected rows of campaign %d: %w", t.campaignID, err)
	}
	return nil
}

// Commit writes the imports row and commits the transaction. A campaign
// canceled meanwhile is campaign.ErrCanceled (the caller rolls back): its
// recipients could never be sent. A completed campaign that gained
// recipients is paused, so that send takes it up again.
func (t *importTx) Commit(ctx context.Context, rec campaign.ImportRecord) (int64, error) {
	// The row lock orders this commit against a concurrent cancel (which
	// takes the same lock) and is held only from here to the commit.
	var status campaign.Status
	if err := t.tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, t.campaignID).Scan(&status); err != nil {
		return 0, fmt.Errorf("lock campaign %d: %w", t.campaignID, err)
	}
	if status == campaign.StatusCanceled {
		return 0, fmt.Errorf("import into campaign %d: %w", t.campaignID, campaign.ErrCanceled)
	}
	if status == campaign.StatusCompleted && rec.Imported > 0 {
		_, err := t.tx.Exec(ctx, `
			UPDATE campaigns SET status = 'paused', updated_at = now(),
			       status_reason = 'recipients imported after it completed: run send to send them'
			WHERE id = $1`, t.campaignID)
		if err != nil {
			return 0, fmt.Errorf("reopen campaign %d: %w", t.campaignID, err)
		}
	}
	attrKeys := rec.AttrKeys
	if attrKeys == nil {
		attrKeys = []string{} // known to be none, unlike NULL
	}
	var id int64
	err := t.tx.QueryRow(ctx, `
		INSERT INTO imports (campaign_id, source, rows_read, imported, duplicates, rejected, attr_keys, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
		RETURNING id`,
		t.campaignID, rec.Source, rec.RowsRead, rec.Imported, rec.Duplicates, rec.Rejected, attrKeys, rec.StartedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record import into campaign %d: %w", t.campaignID, err)
	}
	if err := t.tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit import into campaign %d: %w", t.campaignID, err)
	}
	return id, nil
}

// Rollback abandons the import.
func (t *importTx) Rollback(ctx context.Context) error {
	err := t.tx.Rollback(ctx)
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("roll back import into campaign %d: %w", t.campaignID, err)
	}
	return nil
}

var _ campaign.ImportStore = (*Store)(nil)
