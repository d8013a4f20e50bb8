package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// QueryResult is what one statement run by Query returned.
type QueryResult struct {
	// Columns are the statement's columns, in order; none for a statement
	// that returns no rows by its nature (INSERT without RETURNING, CREATE,
	// SET…). A SELECT that matched nothing has its columns and no Rows.
	Columns []Column
	// Rows are the values in PostgreSQL's text format, as psql prints them
	// (timestamps in ISO 8601, booleans t and f, jsonb as JSON); a nil
	// value is SQL NULL, told apart from the empty string.
	Rows [][]*string
	// Tag is the statement's command tag: "SELECT 2", "INSERT 0 3".
	Tag string
}

// Column is one column of a QueryResult.
type Column struct {
	Name string
	// Type is the PostgreSQL type's name (int8, numeric, bool, jsonb,
	// text, timestamptz…) for the built-in types, and "" for others
	// (user-defined types, enums, domains), which read as text.
	Type string
}

// Query runs SQL written by a person rather than by this package (the
// argument of `smsblast db sql`, the queries of the views that the demo
// shows) and returns each statement's rows as text, as psql shows them.
// smsblast's own statements are methods of Store, each shaped for the index
// it uses and the lock it takes; Query is for everything else.
//
// Without args, sql may hold several statements separated by semicolons:
// it goes through PostgreSQL's simple query protocol, as psql -c does, and
// the result of each statement comes back in order. With args, sql must be
// a single statement whose $1, $2… are bound to args (the extended
// protocol), so that values are never spliced into the SQL's text.
//
// Every row is held in memory: Query is for results a person reads. A
// campaign's per-recipient rows, which can run to millions, stream through
// Results instead. A statement that fails ends Query with the server's
// error; those before it have run (and, outside a transaction, committed).
func (s *Store) Query(ctx context.Context, sql string, args ...any) ([]QueryResult, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	defer conn.Release()
	types := conn.Conn().TypeMap()
	if len(args) == 0 {
		return querySimple(ctx, conn.Conn().PgConn(), types, sql)
	}
	// DescribeExec: one round trip more than a cached statement, but
	// one-off SQL does not fill the connection's statement cache. Results
	// in text format, as the simple protocol returns them.
	args = append([]any{pgx.QueryExecModeDescribeExec, pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("run SQL: %w", err)
	}
	defer rows.Close()
	r := QueryResult{Columns: columns(types, rows.FieldDescriptions())}
	for rows.Next() {
		r.Rows = append(r.Rows, textRow(rows.RawValues()))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run SQL: %w", err)
	}
	r.Tag = rows.CommandTag().String()
	return []QueryResult{r}, nil
}

// querySimple runs sql, which may be several statements, through the
// simple query protocol and collects every statement's result.
func querySimple(ctx context.Context, pg *pgconn.PgConn, types *pgtype.Map, sql string) ([]QueryResult, error) {
	mrr := pg.Exec(ctx, sql)
	var out []QueryResult
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		r := QueryResult{Columns: columns(types, rr.FieldDescriptions())}
		for rr.NextRow() {
			r.Rows = append(r.Rows, textRow(rr.Values()))
		}
		tag, err := rr.Close()
		if err != nil {
			mrr.Close()
			return nil, fmt.Errorf("run SQL: %w", err)
		}
		r.Tag = tag.String()
		out = append(out, r)
	}
	if err := mrr.Close(); err != nil {
		return nil, fmt.Errorf("run SQL: %w", err)
	}
	return out, nil
}

func columns(types *pgtype.Map, fields []pgconn.FieldDescription) []Column {
	if len(fields) == 0 {
		return nil
	}
	cols := make([]Column, len(fields))
	for i, f := range fields {
		cols[i].Name = f.Name
		if t, ok := types.TypeForOID(f.DataTypeOID); ok {
			cols[i].Type = t.Name
		}
	}
	return cols
}

// textRow copies one row's text values: the driver reuses its buffer for
// the next row.
func textRow(values [][]byte) []*string {
	row := make([]*string, len(values))
	for i, v := range values {
		if v != nil {
			s := string(v)
			row[i] = &s
		}
	}
	return row
}
