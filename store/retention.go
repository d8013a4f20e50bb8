package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Retention of the audit trails (migrations/00005_retention.sql):
// send_attempts and message_events are partitioned by week on their time
// column. EnsurePartitions creates the coming weeks ahead of the rows;
// Prune drops the weeks that are entirely older than a cutoff. Both take
// their table locks with a short lock_timeout and try again later rather
// than queue: a DDL statement waiting for a lock holds up every statement
// behind it, the send path's included.

// auditTable is a table partitioned by week, with its time column.
type auditTable struct{ name, column string }

var auditTables = []auditTable{{"send_attempts", "started_at"}, {"message_events", "received_at"}}

// PartitionWeeksAhead is how many weeks after the current one
// EnsurePartitions makes sure exist.
const PartitionWeeksAhead = 2

// partitionLockTimeout bounds how long a partition's DDL waits for a
// table lock, and so how long it can hold up the statements queued behind
// it. Each attempt that times out leaves the database as it was.
const partitionLockTimeout = 200 * time.Millisecond

// Partition is one partition of an audit table.
type Partition struct {
	Table string `json:"table"`
	Name  string `json:"partition"`
	// From and To bound the times it holds, From included, To excluded.
	// From is zero for a partition open below (the table as it was before
	// partitioning); both are zero for the default partition.
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Default bool      `json:"default,omitempty"`
	// Rows is the planner's estimate, or an exact count where there is no
	// estimate yet (a table not analyzed since it was created).
	Rows int64 `json:"rows"`
	// Bytes is its size on disk, indexes and TOAST included.
	Bytes int64 `json:"bytes"`
}

// Partitions lists the partitions of send_attempts and message_events,
// oldest first within each table, the default partition last.
func (s *Store) Partitions(ctx context.Context) ([]Partition, error) {
	names := make([]string, len(auditTables))
	for i, t := range auditTables {
		names[i] = t.name
	}
	// PostgreSQL keeps a partition's bounds only as an expression; its text
	// is parsed back by the same server in the same statement, so the
	// session's DateStyle and TimeZone cannot come between.
	rows, err := s.pool.Query(ctx, `
		SELECT p.relname, c.relname, b = 'DEFAULT',
		       (regexp_match(b, 'FROM \(''([^'']*)''\)'))[1]::timestamptz,
		       (regexp_match(b, 'TO \(''([^'']*)''\)'))[1]::timestamptz,
		       c.reltuples::bigint, pg_total_relation_size(c.oid)
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		CROSS JOIN LATERAL pg_get_expr(c.relpartbound, c.oid) AS b
		WHERE p.relname = ANY($1) AND p.relnamespace = 'public'::regnamespace
		ORDER BY 1, 3, 5`, names)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
		var p Partition
		var from, to *time.Time
		err := r.Scan(&p.Table, &p.Name, &p.Default, &from, &to, &p.Rows, &p.Bytes)
		if from != nil {
			p.From = from.UTC()
		}
		if to != nil {
			p.To = to.UTC()
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	for i := range parts {
		if parts[i].Rows >= 0 {
			continue
		}
		// Never analyzed: count. Such a table is new, and seldom large.
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{parts[i].Name}.Sanitize()).
			Scan(&parts[i].Rows); err != nil {
			return nil, fmt.Errorf("count rows of %s: %w", parts[i].Name, err)
		}
	}
	return parts, nil
}

// weekStart is the start of t's week: Monday 00:00 UTC.
func weekStart(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// EnsurePartitions creates the weekly partitions of send_attempts and
// message_events from the end of the last one through
// PartitionWeeksAhead weeks after now's week, and returns the names of
// those it created. Weeks between the last partition and now's week that
// have no partition (smsblast was not run for a while) get none: their rows,
// if any, stay in the default partition, and Prune deletes them there.
// Rows the default partition holds in a week being created are moved into
// it in the same transaction.
//
// Creating a partition takes, for milliseconds, a lock on the default
// partition that excludes readers of the table, and one on recipients (the
// new partition's foreign key) that excludes writers: each is waited for at
// most partitionLockTimeout, and a week that could not be created is left
// for the next call (send and serve call it hourly), which the weeks ahead
// leave plenty of time for.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) ([]string, error) {
	parts, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	current := weekStart(now)
	horizon := current.AddDate(0, 0, 7*(PartitionWeeksAhead+1))
	var created []string
	var errs []error
	for _, t := range auditTables {
		from := current
		for _, p := range parts {
			if p.Table == t.name && !p.Default && p.To.After(from) {
				from = p.To
			}
		}
		for from.Before(horizon) {
			to := weekStart(from).AddDate(0, 0, 7)
			name := fmt.Sprintf("%s_p%s", t.name, from.Format("20060102"))
			if err := s.createPartition(ctx, t, name, from, to); err != nil {
				errs = append(errs, err)
				break // the next week must start where this one ends
			}
			created = append(created, name)
			from = to
		}
	}
	return created, errors.Join(errs...)
}

// createPartition creates one week as a table of the parent's shape, moves
// into it any rows of the week that the default partition caught, and
// attaches it. ATTACH PARTITION (not CREATE TABLE … PARTITION OF) locks the
// parent only against other DDL, so inserts into the other partitions go on.
func (s *Store) createPartition(ctx context.Context, t auditTable, name string, from, to time.Time) error {
	parent := pgx.Identifier{t.name}.Sanitize()
	def := pgx.Identifier{t.name + "_default"}.Sanitize()
	part := pgx.Identifier{name}.Sanitize()
	col := pgx.Identifier{t.column}.Sanitize()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", partitionLockTimeout.Milliseconds())); err != nil {
			return err
		}
		// Defaults (the id sequence) and CHECK constraints, which ATTACH
		// requires; the indexes and foreign keys come with ATTACH.
		if _, err := tx.Exec(ctx, `CREATE TABLE `+part+` (LIKE `+parent+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			WITH moved AS (DELETE FROM `+def+` WHERE `+col+` >= $1 AND `+col+` < $2 RETURNING *)
			INSERT INTO `+part+` SELECT * FROM moved`, from, to); err != nil {
			return err
		}
		// The bounds are literals: ATTACH takes no parameters.
		_, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
			parent, part, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano)))
		return err
	})
	if err != nil {
		return fmt.Errorf("create partition %s of %s for %s to %s: %w", name, t.name,
			from.Format(time.DateOnly), to.Format(time.DateOnly), explainLockTimeout(err))
	}
	return nil
}

// PruneOptions tune Prune. The zero value drops what it can, waiting up
// to a minute per partition for a moment when no query is reading it.
type PruneOptions struct {
	// DryRun reports what would be dropped and deleted, and changes nothing.
	DryRun bool
	// LockWait is how long Prune keeps trying to drop one partition while
	// queries read the table. Default one minute.
	LockWait time.Duration
}

// PruneReport is what Prune dropped (or, in a dry run, would drop).
type PruneReport struct {
	Cutoff time.Time `json:"cutoff"`
	// Dropped are the partitions entirely older than Cutoff.
	Dropped []Partition `json:"dropped"`
	// DefaultRows counts, per table, the rows of its default partition
	// older than Cutoff, deleted one by one.
	DefaultRows map[string]int64 `json:"default_rows_deleted"`
	// Kept are the partitions left, with rows at or after Cutoff (the
	// oldest may hold up to a week of rows older than Cutoff).
	Kept []Partition `json:"kept"`
	// DryRun is set when nothing was changed.
	DryRun bool `json:"dry_run"`
}

// Prune drops the partitions of send_attempts and message_events whose
// every row is older than cutoff, and deletes the rows older than cutoff
// from their default partitions (which hold only rows no week covered:
// normally none). Recipients are never touched: their final states stay
// in recipients, whatever the audit trail keeps.
//
// Dropping a partition needs, for milliseconds, a lock that excludes every
// reader and writer of the table. Prune asks for it with a lock_timeout of
// partitionLockTimeout, so that the senders queued behind it wait that
// long at most, and retries with a random back-off while long queries
// read the table, for up to opts.LockWait per partition.
func (s *Store) Prune(ctx context.Context, cutoff time.Time, opts PruneOptions) (*PruneReport, error) {
	if opts.LockWait <= 0 {
		opts.LockWait = time.Minute
	}
	parts, err := s.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{Cutoff: cutoff.UTC(), DefaultRows: map[string]int64{}, DryRun: opts.DryRun,
		Dropped: []Partition{}, Kept: []Partition{}}
	for _, p := range parts {
		if p.Default || p.To.IsZero() || p.To.After(cutoff) {
			rep.Kept = append(rep.Kept, p)
			continue
		}
		if !opts.DryRun {
			if err := s.dropPartition(ctx, p, opts.LockWait); err != nil {
				return rep, err
			}
		}
		rep.Dropped = append(rep.Dropped, p)
	}
	for _, t := range auditTables {
		def := pgx.Identifier{t.name + "_default"}.Sanitize()
		col := pgx.Identifier{t.column}.Sanitize()
		var n int64
		if opts.DryRun {
			err = s.pool.QueryRow(ctx, `SELECT count(*) FROM `+def+` WHERE `+col+` < $1`, cutoff).Scan(&n)
		} else {
			// Row locks only: the default partition is normally empty,
			// and what it holds is rows no week covered.
			var tag pgconn.CommandTag
			tag, err = s.pool.Exec(ctx, `DELETE FROM `+def+` WHERE `+col+` < $1`, cutoff)
			n = tag.RowsAffected()
		}
		if err != nil {
			return rep, fmt.Errorf("prune the default partition of %s: %w", t.name, err)
		}
		rep.DefaultRows[t.name] = n
	}
	return rep, nil
}

// dropPartition drops one partition, retrying while its lock is not free.
func (s *Store) dropPartition(ctx context.Context, p Partition, wait time.Duration) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("drop partition %s: %w", p.Name, err)
	}
	defer conn.Release()
	deadline := time.Now().Add(wait)
	backoff := 50 * time.Millisecond
	for {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", partitionLockTimeout.Milliseconds())); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{p.Name}.Sanitize())
			return err
		})
		if err == nil || !isLockTimeout(err) || time.Now().After(deadline) {
			break
		}
		// Jittered, so that it does not fall in step with a periodic reader.
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop partition %s: %w", p.Name, ctx.Err())
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, time.Second)
	}
	if err != nil {
		return fmt.Errorf("drop partition %s of %s: %w", p.Name, p.Table, explainLockTimeout(err))
	}
	return nil
}

// isLockTimeout reports whether err is PostgreSQL's lock_not_available.
func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// explainLockTimeout words a lock timeout for a person.
func explainLockTimeout(err error) error {
	if isLockTimeout(err) {
		return fmt.Errorf("other sessions kept the table busy (a long query reading it?): try again later: %w", err)
	}
	return err
}
