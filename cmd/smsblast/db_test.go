package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/store/pgserver"
	"github.com/smsblast/smsblast/store/pgtest"
)

func TestDBURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://u@db.example/app"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "DATABASE_URL", args: []string{"db", "url"}, want: "postgres://u@db.example/app\n"},
		{name: "--db wins", args: []string{"db", "url", "--db", "postgres://other/x"}, want: "postgres://other/x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runAppStdin(t, env, "", tt.args...)
			if code != 0 || out != tt.want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, tt.want)
			}
		})
	}
}

func TestDBUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no subcommand", args: []string{"db"}, wantErr: "usage: smsblast db"},
		{name: "unknown subcommand", args: []string{"db", "sqll"}, wantErr: `did you mean "sql"?`},
		{name: "sql without SQL", args: []string{"db", "sql"}, wantErr: "usage: smsblast db sql"},
		{name: "url with an argument", args: []string{"db", "url", "x"}, wantErr: "usage: smsblast db url"},
		{name: "empty SQL", args: []string{"db", "sql", "  "}, wantErr: "the SQL is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runAppStdin(t, map[string]string{"DATABASE_URL": "postgres://unused/x"}, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.wantErr) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and stderr containing %q", code, out, errOut, tt.wantErr)
			}
		})
	}
}

func TestDBSQLTable(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	code, out, errOut := runAppStdin(t, env, "", "db", "sql",
		`SELECT 1 AS n, NULL::text AS missing, 'two words' AS s, E'a\nb' AS multi UNION ALL SELECT 22, 'x', '', 'c'`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `n   missing  s          multi
-   -------  -          -----
1   NULL     two words  a\nb
22  x                   c
(2 rows)
`
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

func TestDBSQLSeveralStatementsFromStdin(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	sql := `INSERT INTO campaigns (name, from_number, body_template) VALUES ('spring', '+15005550006', 'hi'), ('fall', '+15005550006', 'yo');
SELECT name, status FROM campaigns ORDER BY name`
	code, out, errOut := runAppStdin(t, env, sql, "db", "sql", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `INSERT 0 2

name    status
----    ------
fall    draft
spring  draft
(2 rows)
`
	if out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

func TestDBSQLJSON(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	code, out, errOut := runAppStdin(t, env, "", "db", "sql", "--json",
		`SELECT 1 AS n, 2.50::numeric AS amount, 'NaN'::float8 AS nan, true AS ok, NULL AS nothing,
		        '{"first_name": "Ada"}'::jsonb AS attrs, 'text' AS s`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout is not a JSON array of objects: %v\n%s", err, out)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1: %s", len(rows), out)
	}
	got := rows[0]
	want := map[string]any{
		"n": 1.0, "amount": 2.5, "nan": "NaN", "ok": true, "nothing": nil,
		"attrs": map[string]any{"first_name": "Ada"}, "s": "text",
	}
	for k, w := range want {
		gb, _ := json.Marshal(got[k])
		wb, _ := json.Marshal(w)
		if _, ok := got[k]; !ok || string(gb) != string(wb) {
			t.Errorf("%s = %s, want %s", k, gb, wb)
		}
	}
	// Keys follow the column order, as in the query.
	if strings.Index(out, `"n"`) > strings.Index(out, `"s"`) {
		t.Errorf("keys out of column order:\n%s", out)
	}

	code, out, _ = runAppStdin(t, env, "", "db", "sql", "--json", "SELECT 1 WHERE false")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("no rows: exit %d, stdout %q; want an empty array", code, out)
	}
}

func TestDBSQLError(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t)}
	code, out, errOut := runAppStdin(t, env, "", "db", "sql", "SELECT * FROM no_such_table")
	if code != 1 || out != "" || !strings.Contains(errOut, `relation "no_such_table" does not exist`) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and the server's message", code, out, errOut)
	}
}

// The embedded default end to end: db url starts it, psql accepts the URL,
// db sql reaches the same server, db stop stops it.
func TestDBEmbedded(t *testing.T) {
	t.Parallel()
	psql := findPsql()
	if psql == "" {
		t.Skip("the embedded default needs the PostgreSQL server binaries and psql")
	}
	home := t.TempDir()
	t.Cleanup(func() {
		if err := (&pgserver.Embedded{Home: home}).Destroy(context.Background()); err != nil {
			t.Errorf("destroy embedded cluster: %v", err)
		}
	})
	env := map[string]string{"SMSBLAST_HOME": home, "HOME": t.TempDir()}

	code, out, errOut := runAppStdin(t, env, "", "db", "url")
	if code != 0 {
		t.Fatalf("db url: exit %d: %s", code, errOut)
	}
	url := strings.TrimSpace(out)
	// Migrated already, so psql shows smsblast's tables from the start.
	psqlOut, err := exec.Command(psql, url, "-Atc", "SELECT current_database() || ' ' || to_regclass('recipients')::text").CombinedOutput()
	if err != nil || strings.TrimSpace(string(psqlOut)) != "smsblast recipients" {
		t.Fatalf(`psql "$(smsblast db url)": %v: %s`, err, psqlOut)
	}

	code, out, errOut = runAppStdin(t, env, "", "db", "sql", "SELECT count(*) AS campaigns FROM campaigns")
	if code != 0 || !strings.Contains(out, "campaigns\n---------\n0") {
		t.Fatalf("db sql on the embedded server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runAppStdin(t, env, "", "db", "stop")
	if code != 0 || !strings.HasPrefix(out, "stopped embedded PostgreSQL") {
		t.Fatalf("db stop: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if (&pgserver.Embedded{Home: home}).Running() {
		t.Fatal("the embedded server still runs after db stop")
	}
	code, out, _ = runAppStdin(t, env, "", "db", "stop")
	if code != 0 || !strings.Contains(out, "not running") {
		t.Fatalf("second db stop: exit %d, stdout %q", code, out)
	}
}

// findPsql returns a psql that belongs to installed server binaries, or "".
func findPsql() string {
	pgCtl, err := exec.LookPath("pg_ctl")
	if err != nil {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		if len(m) == 0 {
			return ""
		}
		pgCtl = m[len(m)-1]
	}
	if real, err := filepath.EvalSymlinks(pgCtl); err == nil {
		pgCtl = real
	}
	psql := filepath.Join(filepath.Dir(pgCtl), "psql")
	if _, err := os.Stat(psql); err != nil {
		return ""
	}
	return psql
}

// db check recounts the rows: silent success when the counters match, the
// differences and exit 1 when they do not (here, after a change made with
// the triggers disabled, as a restore without them would leave).
func TestDBCheck(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	code, _, errOut := runApp(t, env, "db", "sql", `
		INSERT INTO campaigns (name, from_number, body_template) VALUES ('spring', '+15005550006', 'hi');
		INSERT INTO recipients (campaign_id, phone, status, error_code)
		SELECT 1, '+1415555' || lpad(i::text, 4, '0'), CASE WHEN i % 2 = 0 THEN 'failed' ELSE 'pending' END,
		       CASE WHEN i % 2 = 0 THEN 21211 END
		FROM generate_series(1, 10) i`)
	if code != 0 {
		t.Fatalf("setup: %s", errOut)
	}
	code, out, errOut := runApp(t, env, "db", "check")
	if code != 0 || out != "counters match a recount of the rows (campaigns: 1, recipients: 10)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	if code, _, errOut := runApp(t, env, "db", "sql", `
		ALTER TABLE recipients DISABLE TRIGGER USER;
		UPDATE recipients SET status = 'pending', error_code = NULL WHERE status = 'failed';
		ALTER TABLE recipients ENABLE TRIGGER USER`); code != 0 {
		t.Fatalf("setup: %s", errOut)
	}
	code, out, errOut = runApp(t, env, "db", "check")
	for _, line := range []string{"spring    pending ", "failed with error 21211", "pending in time zones (unknown)"} {
		if !strings.Contains(out, line) {
			t.Errorf("stdout lacks %q:\n%s", line, out)
		}
	}
	if code != 1 || !strings.Contains(errOut, "counters differ from a recount of the rows: 4 differences") {
		t.Fatalf("exit %d, stderr %q; want 1 and the number of differences", code, errOut)
	}

	code, out, _ = runApp(t, env, "db", "check", "--json")
	var res struct {
		Campaigns  int `json:"campaigns"`
		Mismatches []struct {
			Campaign, Counter, Counted, Actual string
		} `json:"mismatches"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res.Mismatches) != 4 {
		t.Fatalf("--json: exit %d, %v, %s", code, err, out)
	}
	if m := res.Mismatches[0]; m.Campaign != "spring" || m.Counter != "pending" || m.Counted != "5" || m.Actual != "10" {
		t.Errorf("first mismatch %+v", m)
	}
}
