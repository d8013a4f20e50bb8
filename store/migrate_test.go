package store_test

import (
	"context"
	"testing"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
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
	var codes int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM twilio_errors`).Scan(&codes); err != nil || codes == 0 {
		t.Errorf("twilio_errors not seeded after up again (%d rows, %v)", codes, err)
	}
}

// twilio_errors (seeded by the schema, read by SQL users) and the client's
// code table (read by the engine) must agree on which codes exist and which
// are worth a retry.
func TestTwilioErrorsMatchClient(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	rows, err := st.Pool().Query(context.Background(), `SELECT code, retryable FROM twilio_errors`)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[int]bool{}
	for rows.Next() {
		var code int
		var retryable bool
		if err := rows.Scan(&code, &retryable); err != nil {
			t.Fatal(err)
		}
		inDB[code] = retryable
	}
	for _, c := range twilio.Codes() {
		retryable, ok := inDB[c.Code]
		if !ok {
			t.Errorf("code %d (%s) is in the client's table but not in twilio_errors", c.Code, c.Description)
			continue
		}
		if retryable != c.Retryable {
			t.Errorf("code %d: twilio_errors.retryable = %v, the client says %v", c.Code, retryable, c.Retryable)
		}
		delete(inDB, c.Code)
	}
	for code := range inDB {
		t.Errorf("code %d is in twilio_errors but not in the client's table", code)
	}
}
