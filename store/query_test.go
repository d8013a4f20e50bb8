package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	ctx := context.Background()
	text := func(s string) *string { return &s }

	// Several statements, simple protocol: each result in order, NULL told
	// apart from '', built-in types named, a SELECT of nothing keeps its columns.
	got, err := st.Query(ctx, `CREATE TEMP TABLE t (n int8, s text, j jsonb);
INSERT INTO t VALUES (1, 'a', '{"k": 1}'), (2, '', NULL);
SELECT n, s, j FROM t ORDER BY n;
SELECT n FROM t WHERE false`)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.QueryResult{
		{Tag: "CREATE TABLE"},
		{Tag: "INSERT 0 2"},
		{
			Columns: []store.Column{{Name: "n", Type: "int8"}, {Name: "s", Type: "text"}, {Name: "j", Type: "jsonb"}},
			Rows:    [][]*string{{text("1"), text("a"), text(`{"k": 1}`)}, {text("2"), text(""), nil}},
			Tag:     "SELECT 2",
		},
		{Columns: []store.Column{{Name: "n", Type: "int8"}}, Tag: "SELECT 0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("several statements:\n got %s\nwant %s", show(got), show(want))
	}

	// One statement with arguments, extended protocol: still text.
	got, err = st.Query(ctx, `SELECT $1::text AS name, $2::int + 1 AS next, now() > $3 AS later, NULL::numeric AS nothing`,
		"o'brien", 41, "2000-01-01")
	if err != nil {
		t.Fatal(err)
	}
	want = []store.QueryResult{{
		Columns: []store.Column{{Name: "name", Type: "text"}, {Name: "next", Type: "int4"}, {Name: "later", Type: "bool"}, {Name: "nothing", Type: "numeric"}},
		Rows:    [][]*string{{text("o'brien"), text("42"), text("t"), nil}},
		Tag:     "SELECT 1",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with arguments:\n got %s\nwant %s", show(got), show(want))
	}

	for _, tt := range []struct {
		name, sql string
		args      []any
		wantErr   string
	}{
		{"server error", "SELECT * FROM no_such_table", nil, `relation "no_such_table" does not exist`},
		{"error after a statement", "SELECT 1; SELECT 1/0", nil, "division by zero"},
		{"several statements with arguments", "SELECT $1::int; SELECT 2", []any{1}, "cannot insert multiple commands"},
	} {
		if _, err := st.Query(ctx, tt.sql, tt.args...); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: %v; want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
	// The connection survives an error.
	if _, err := st.Query(ctx, "SELECT 1"); err != nil {
		t.Errorf("after errors: %v", err)
	}
}

// show prints results with their values rather than pointers.
func show(rs []store.QueryResult) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("{" + r.Tag + " ")
		for _, c := range r.Columns {
			b.WriteString(c.Name + ":" + c.Type + " ")
		}
		for _, row := range r.Rows {
			b.WriteString("[")
			for _, v := range row {
				if v == nil {
					b.WriteString("NULL ")
				} else {
					b.WriteString("'" + *v + "' ")
				}
			}
			b.WriteString("]")
		}
		b.WriteString("} ")
	}
	return b.String()
}
