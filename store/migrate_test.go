package store_test

import (
	"context"
	"testing"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// The migrations go up, all the way down, and up again: every Down undoes
// its Up exactly, so a user can roll back a release.
func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t) // migrated up by Open
	ctx := context.Background()
	p, closeDB, err := store.NewMigrator(st.Pool(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	tables := func() int {
		t.Helper()
		var n int
		if err := st.Pool().QueryRow(ctx, `
			SELECT count(*) FROM pg_class
			WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v')
			  AND relname <> 'goose_db_version'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	up := tables()
	if up < 11 { // 9 tables and 2 views
		t.Fatalf("%d tables and views after migrating up, want at least 11", up)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to zero: %v", err)
	}
	if n := tables(); n != 0 {
		t.Errorf("%d tables and views left after migrating down to zero", n)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if n := tables(); n != up {
		t.Errorf("%d tables and views after up again, want %d", n, up)
	}
}
