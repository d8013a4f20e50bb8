package pgtest_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Parallel tests each get their own migrated database: every one inserts
// the same unique campaign name and sees only its own row.
func TestURLIsolatesParallelTests(t *testing.T) {
	t.Parallel()
	var names sync.Map
	for i := range 8 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn := connect(t, pgtest.URL(t))
			var db string
			if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
				t.Fatal(err)
			}
			if prev, dup := names.LoadOrStore(db, i); dup {
				t.Fatalf("tests %d and %d share database %s", prev, i, db)
			}
			var tables int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
				AND tablename IN ('campaigns', 'recipients', 'import_rejects', 'opt_outs', 'send_attempts', 'twilio_errors')`).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 6 {
				t.Fatalf("%d of the 6 tables exist: the database is not migrated", tables)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO campaigns (name, from_number, body_template) VALUES ('spring', '+15005550006', 'hi')`); err != nil {
				t.Fatalf("insert campaign: %v", err)
			}
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM campaigns").Scan(&n); err != nil || n != 1 {
				t.Fatalf("campaigns = %d, %v; want 1", n, err)
			}
		})
	}
}

func TestStoreIsMigratedAndUsable(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	var recipients int
	if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM recipients").Scan(&recipients); err != nil {
		t.Fatalf("query recipients: %v", err)
	}
	if recipients != 0 {
		t.Fatalf("a fresh database has %d recipients", recipients)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var db string
	t.Run("user", func(t *testing.T) {
		if err := connect(t, pgtest.URL(t)).QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
	})
	var exists bool
	err := connect(t, pgtest.ServerURL(t)).QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	if err != nil || exists {
		t.Fatalf("database %q exists after its test: %v, %v", db, exists, err)
	}
}
