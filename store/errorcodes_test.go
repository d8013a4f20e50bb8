package store_test

import (
	"context"
	"testing"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

// twilio_errors follows the table it is given: new codes are added, changed
// ones updated, and codes no longer in the table kept (recipients may carry
// them).
func TestSyncErrorCodes(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	ctx := context.Background()
	read := func() map[int]store.ErrorCode {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `SELECT code, coalesce(http_status, 0), description, class, retryable FROM twilio_errors`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int]store.ErrorCode{}
		for rows.Next() {
			var c store.ErrorCode
			if err := rows.Scan(&c.Code, &c.HTTPStatus, &c.Description, &c.Class, &c.Retryable); err != nil {
				t.Fatal(err)
			}
			got[c.Code] = c
		}
		return got
	}
	before := read()
	if len(before) == 0 {
		t.Fatal("a migrated test database has an empty twilio_errors; pgtest syncs the client's table")
	}
	changed := before[21211]
	changed.Description, changed.Retryable = "changed", true
	added := store.ErrorCode{Code: 39999, Description: "new delivery code", Class: "delivery", Retryable: true}
	for range 2 { // the second sync changes nothing
		if err := st.SyncErrorCodes(ctx, []store.ErrorCode{added, changed}); err != nil {
			t.Fatal(err)
		}
	}
	after := read()
	if after[21211] != changed || after[39999] != added {
		t.Errorf("after sync: 21211 %+v, 39999 %+v", after[21211], after[39999])
	}
	if len(after) != len(before)+1 {
		t.Errorf("%d codes after sync, want %d: none removed, one added", len(after), len(before)+1)
	}
}
