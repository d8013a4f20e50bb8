// Package store is smsblast's PostgreSQL layer: the pgx pool, the schema
// migrations, and every SQL statement the project runs. Each statement sits next to the method that runs it, with a comment on
// why it is shaped that way (the index it uses, the lock it takes).
//
// The domain types and the interfaces they satisfy belong to package campaign;
// store implements them. A *Store is safe for concurrent use.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune Open. The zero value is usable.
type Options struct {
	// ApplicationName is shown in pg_stat_activity. Default "smsblast".
	ApplicationName string
	// MaxConns caps the pool. Default: pgx's (max(4, GOMAXPROCS)), raised to 8.
	MaxConns int32
	// Logger receives migration progress. Nil discards.
	Logger *slog.Logger
	// ErrorCodes, when set, are written to twilio_errors after migrating
	// (see SyncErrorCodes).
	ErrorCodes []ErrorCode
}

// Store is a migrated PostgreSQL database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to the database at url, checks that it answers and applies
// any pending migrations. The url is never included in errors: it may hold a
// password.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the connection string; do not repeat them.
		return nil, errors.New("parse database URL: not a valid PostgreSQL connection string")
	}
	name := opts.ApplicationName
	if name == "" {
		name = "smsblast"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = name
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// A restarted server leaves dead connections in the pool; check idle ones
	// before use so that a sender recovers on its own after a Postgres restart.
	cfg.HealthCheckPeriod = 5 * time.Second

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", describe(cfg), err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := migrate(ctx, pool, opts.Logger); err != nil {
		pool.Close()
		return nil, err
	}
	st := &Store{pool: pool, log: log}
	if opts.ErrorCodes != nil {
		if err := st.SyncErrorCodes(ctx, opts.ErrorCodes); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return st, nil
}

// describe names the database without its password, for error messages.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%q on %s:%d as %q", c.Database, c.Host, c.Port, c.User)
}

// Pool returns the underlying pool, for tests that need raw access.
// Programs run SQL of their own through Query.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection. It waits for queries in progress.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
