package store

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
)

// OptOutImport is what ImportOptOuts did.
type OptOutImport struct {
	// Read rows came in; Added of them were new numbers; the rest were in
	// opt_outs already or repeated in the file (the first one counts).
	Read, Added int64
}

// ImportOptOuts adds the numbers of rows to opt_outs with source 'import',
// in one transaction: a file is taken whole or not at all. A number already
// there keeps its reason, source and time (an operator's manual opt-out is
// not relabelled by a list).
//
// The rows are streamed with COPY into a temporary table, then inserted in
// one statement: ON CONFLICT DO NOTHING on opt_outs' primary key, and
// DISTINCT ON the phone for numbers the file repeats (the first line wins).
// Memory does not grow with the file.
func (s *Store) ImportOptOuts(ctx context.Context, rows iter.Seq2[campaign.OptOut, error]) (OptOutImport, error) {
	var res OptOutImport
	next, stop := iter.Pull2(rows)
	defer stop()
	var rowErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE optout_stage (ord bigint, phone text, reason text) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"optout_stage"}, []string{"ord", "phone", "reason"},
			pgx.CopyFromFunc(func() ([]any, error) {
				o, err, ok := next()
				if !ok {
					return nil, nil
				}
				if err != nil {
					rowErr = err
					return nil, err
				}
				res.Read++
				return []any{res.Read, o.Phone, o.Reason}, nil
			}))
		if rowErr != nil {
			return rowErr
		}
		if err != nil {
			return fmt.Errorf("copy opt-outs: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO opt_outs (phone, reason, source)
			SELECT DISTINCT ON (phone) phone, reason, 'import' FROM optout_stage ORDER BY phone, ord
			ON CONFLICT (phone) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("add opt-outs: %w", err)
		}
		res.Added = tag.RowsAffected()
		return nil
	})
	if err != nil {
		if rowErr != nil {
			return OptOutImport{}, rowErr
		}
		return OptOutImport{}, fmt.Errorf("import opt-outs: %w", err)
	}
	return res, nil
}

// EachOptOut streams opt_outs to fn in phone order (the primary key's
// order: no sort), one row at a time.
func (s *Store) EachOptOut(ctx context.Context, fn func(*campaign.OptOut) error) error {
	rows, err := s.pool.Query(ctx, `SELECT phone, reason, source, created_at FROM opt_outs ORDER BY phone`)
	if err != nil {
		return fmt.Errorf("read opt-outs: %w", err)
	}
	var o campaign.OptOut
	if _, err := pgx.ForEachRow(rows, []any{&o.Phone, &o.Reason, &o.Source, &o.CreatedAt}, func() error {
		o.CreatedAt = o.CreatedAt.UTC()
		return fn(&o)
	}); err != nil {
		return fmt.Errorf("read opt-outs: %w", err)
	}
	return nil
}

// OptOutSource is how many opt-outs came from one source, and when the
// latest did.
type OptOutSource struct {
	Source string    `json:"source"`
	Count  int64     `json:"count"`
	Latest time.Time `json:"latest"`
}

// OptOutsBySource counts opt_outs by source (one pass over the table).
func (s *Store) OptOutsBySource(ctx context.Context) ([]OptOutSource, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT source, count(*), max(created_at) FROM opt_outs GROUP BY source ORDER BY count(*) DESC, source`)
	if err != nil {
		return nil, fmt.Errorf("count opt-outs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OptOutSource, error) {
		var o OptOutSource
		err := r.Scan(&o.Source, &o.Count, &o.Latest)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("count opt-outs: %w", err)
	}
	return out, nil
}
