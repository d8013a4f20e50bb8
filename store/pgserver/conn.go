package pgserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// socketURL builds a libpq URI for a Unix socket directory. Both libpq (psql)
// and pgx read the socket directory from the host query parameter.
func socketURL(dir, database string) string {
	return "postgres://" + Role + "@/" + database + "?host=" + escapeQueryPath(dir)
}

// escapeQueryPath percent-encodes a path for a URI query value, keeping "/"
// readable. Unlike url.QueryEscape it never writes "+" for a space: libpq
// does not decode "+".
func escapeQueryPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
			'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// ping opens and closes one connection.
func ping(ctx context.Context, url string) error {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse %s: %w", url, err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// createDatabase creates database name unless it exists. Callers hold the
// cluster lock, but a user may create it by hand at the same moment, so
// "already exists" counts as success.
func createDatabase(ctx context.Context, maintURL, name string) error {
	cfg, err := pgconn.ParseConfig(maintURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", maintURL, err)
	}
	cfg.ConnectTimeout = 10 * time.Second
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to embedded PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := conn.ExecParams(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", [][]byte{[]byte(name)}, nil, nil, nil).Read()
	if res.Err != nil {
		return fmt.Errorf("look up database %s: %w", name, res.Err)
	}
	if len(res.Rows) > 0 {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+quoteIdent(name)).ReadAll()
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
