package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgtest"
)

func TestPruneUsage(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://unused/x"}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"prune"}, "--older-than is required"},
		{[]string{"prune", "--older-than", "ninety days"}, `--older-than: "ninety days" is not an age`},
		{[]string{"prune", "--older-than", "-5d"}, "give an age from 1h to 100 years"},
		{[]string{"prune", "--older-than", "0d"}, "give an age from 1h to 100 years"},
		{[]string{"prune", "--older-than", "99999999999d"}, "give an age from 1h to 100 years"},
		{[]string{"prune", "--older-than", "90d", "extra"}, "usage: smsblast prune"},
		{[]string{"prune", "--older-than", "90d", "--lock-wait", "0s"}, "--lock-wait 0s: give a duration from 1s to 1h"},
	} {
		code, out, errOut := runApp(t, env, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errOut, tt.wantErr)
		}
	}
}

func TestParseAge(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{"90d": 90 * day, "12w": 84 * day, "36h": 36 * time.Hour, "1d": day} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// prune --dry-run names the weeks it would drop and changes nothing;
// prune drops them; --json says the same for a script.
func TestPrune(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Weeks of twenty weeks ago, and the current ones (not the table as it
	// was before partitioning, which would hold them all).
	now := time.Now()
	if _, err := st.Pool().Exec(ctx, `DROP TABLE send_attempts_legacy, message_events_legacy`); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{now.AddDate(0, 0, -140), now} {
		if _, err := st.EnsurePartitions(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO message_events (message_sid, status, payload, received_at)
		SELECT 'SM' || md5(i::text), 'sent', '{}', now() - interval '139 days' + i * interval '1 minute'
		FROM generate_series(1, 50) i`); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runApp(t, env, "prune", "--older-than", "90d", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"would drop 6 partitions older than 90d", "about 50 rows",
		"message_events_p", "kept send_attempts: 4 partitions from "} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events`).Scan(&n); err != nil || n != 50 {
		t.Fatalf("the dry run changed message_events: %d rows (%v)", n, err)
	}

	code, out, errOut = runApp(t, env, "prune", "--older-than", "90d", "--json")
	if code != 0 {
		t.Fatalf("prune: exit %d: %s", code, errOut)
	}
	var rep store.PruneReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(rep.Dropped) != 6 || rep.DryRun || rep.Cutoff.After(now.AddDate(0, 0, -89)) {
		t.Errorf("report %+v", rep)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d old events left (%v)", n, err)
	}
	code, out, _ = runApp(t, env, "prune", "--older-than", "90d")
	if code != 0 || !strings.Contains(out, "nothing to drop") {
		t.Errorf("second prune: exit %d:\n%s", code, out)
	}
}
