package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

const reviewCSV = "phone,name\n+14155550100,Ada\n+14155550101,Alan\n+14155550102,Grace\n+15005550001,Bad\n"

// importReview imports reviewCSV as campaign name.
func importReview(t *testing.T, env map[string]string, name string) {
	t.Helper()
	path := t.TempDir() + "/r.csv"
	if err := os.WriteFile(path, []byte(reviewCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runApp(t, env, "import", name, path, "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any"); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
}

// dbQuery runs one fixture query against the test's database.
func dbQuery(t *testing.T, env map[string]string, sql string, args ...any) pgx.Rows {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func dbExec(t *testing.T, env map[string]string, sql string, args ...any) {
	t.Helper()
	dbQuery(t, env, sql, args...).Close()
}

// recipientStates reads phone → status and sid of a campaign's recipients.
func recipientStates(t *testing.T, env map[string]string, name string) map[string][2]string {
	t.Helper()
	rows := dbQuery(t, env, `
		SELECT r.phone, r.status, coalesce(r.message_sid, '')
		FROM recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE c.name = $1`, name)
	out := map[string][2]string{}
	for rows.Next() {
		var p, st, sid string
		if err := rows.Scan(&p, &st, &sid); err != nil {
			t.Fatal(err)
		}
		out[p] = [2]string{st, sid}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The whole story of recipients in review, through the CLI: an account with
// message redaction loses every answer; send completes with the recipients
// in review and says so; status, report and resolve show them; a person
// records one as sent (a status callback that came meanwhile applies), one
// as not sent (pending again, the completed campaign paused); the next send
// texts only that one.
func TestResolveCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{
		Redact: twiliosim.Redaction{Body: true, Phone: true}, LoseResponse: 1,
	})
	importReview(t, env, "rv")

	code, out, errOut := runApp(t, env, "send", "rv", "--safety-window", "0")
	if code != 0 || !strings.Contains(out, `campaign "rv" completed`) || !strings.Contains(out, "3 for review") ||
		!strings.Contains(out, "3 recipients need review") || !strings.Contains(out, "smsblast resolve rv") {
		t.Fatalf("send: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "need_review=3") {
		t.Errorf("send's log does not warn about the review:\n%s", errOut)
	}
	sids := map[string]string{}
	for _, p := range []string{"+14155550100", "+14155550101", "+14155550102"} {
		msgs := sim.MessagesTo(p)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages in Twilio, want 1", p, len(msgs))
		}
		sids[p] = msgs[0].SID
	}

	code, out, _ = runApp(t, env, "status", "rv")
	if code != 0 || !strings.Contains(out, "campaign rv: completed") || !strings.Contains(out, "review  3") ||
		!strings.Contains(out, "3 recipients need review") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	var st statusJSON
	code, out, _ = runApp(t, env, "status", "rv", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || st.NeedsReview != 3 || st.Counts[campaign.Review] != 3 {
		t.Errorf("status --json: exit %d, %v: %s", code, err, out)
	}
	code, out, _ = runApp(t, env, "report", "rv", "--status", "review", "--format", "json")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"status":"review"`) ||
		!strings.Contains(out, "redact") || !strings.Contains(out, sids["+14155550101"]) {
		t.Errorf("report --status review: exit %d\n%s", code, out)
	}

	// The listing: every recipient in review with its candidate.
	code, out, _ = runApp(t, env, "resolve", "rv")
	if code != 0 || !strings.Contains(out, "3 recipients in review") || !strings.Contains(out, "--not-sent PHONE") {
		t.Errorf("resolve: exit %d\n%s", code, out)
	}
	for p, sid := range sids {
		if !strings.Contains(out, p+"  "+sid) {
			t.Errorf("resolve lists no %s with candidate %s:\n%s", p, sid, out)
		}
	}
	var list resolveListJSON
	code, out, _ = runApp(t, env, "resolve", "rv", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list.InReview) != 3 {
		t.Fatalf("resolve --json: exit %d, %v: %s", code, err, out)
	}
	for _, r := range list.InReview {
		if r.MessageSID != sids[r.Phone] || r.CreatedAt == nil || !strings.Contains(r.Reason, "smsblast resolve") {
			t.Errorf("resolve --json: %+v", r)
		}
	}

	// Usage mistakes change nothing and exit 2.
	for _, args := range [][]string{
		{"resolve", "rv", "--sent"},
		{"resolve", "rv", "--sent", "--not-sent", "+14155550100"},
		{"resolve", "rv", "--sent", "--all", "+14155550100"},
		{"resolve", "rv", "+14155550100"},
		{"resolve", "rv", "--all"},
		{"resolve", "rv", "--sent", "4155550100x"},
	} {
		if code, _, errOut := runApp(t, env, args...); code != 2 || !strings.Contains(errOut, "smsblast: ") {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
	// A phone not in review refuses the whole decision.
	code, _, errOut = runApp(t, env, "resolve", "rv", "--not-sent", "+14155550100", "+14155550199", "+15005550001")
	if code != 1 || !strings.Contains(errOut, "+14155550199 (not in the campaign)") ||
		!strings.Contains(errOut, "+15005550001 (failed)") || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("resolve of phones not in review: exit %d, %q", code, errOut)
	}
	if got := recipientStates(t, env, "rv")["+14155550100"][0]; got != "review" {
		t.Errorf("+14155550100 is %s after a refused decision, want review", got)
	}

	// A status callback for the first candidate arrived while it was in
	// review: logged, not applied (review ranks as final).
	dbExec(t, env, `
		INSERT INTO message_events (message_sid, status, recipient_status, payload, applied_at)
		VALUES ($1, 'delivered', 'delivered', '{}', now())`, sids["+14155550100"])
	code, out, errOut = runApp(t, env, "resolve", "rv", "--sent", "+1 415-555-0100", "+14155550101")
	if code != 0 || !strings.Contains(out, "2 recipients recorded as sent") {
		t.Fatalf("resolve --sent: exit %d\n%s%s", code, out, errOut)
	}
	got := recipientStates(t, env, "rv")
	if got["+14155550100"] != [2]string{"delivered", sids["+14155550100"]} {
		t.Errorf("+14155550100 after --sent: %v, want delivered with %s", got["+14155550100"], sids["+14155550100"])
	}
	if s := got["+14155550101"]; s[1] != sids["+14155550101"] || (s[0] != "accepted" && s[0] != "sent" && s[0] != "delivered") {
		t.Errorf("+14155550101 after --sent: %v, want accepted or better with %s", s, sids["+14155550101"])
	}

	var res resolveJSON
	code, out, _ = runApp(t, env, "resolve", "rv", "--not-sent", "+14155550102", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res.Resolution == nil ||
		len(res.Recipients) != 1 || res.Recipients[0].Status != campaign.Pending || !res.Paused {
		t.Fatalf("resolve --not-sent --json: exit %d, %v: %s", code, err, out)
	}
	code, out, _ = runApp(t, env, "status", "rv")
	if !strings.Contains(out, "paused (recipients returned to pending by resolve") || !strings.Contains(out, "pending  1") ||
		strings.Contains(out, "need review") {
		t.Errorf("status after resolve:\n%s", out)
	}
	rows := dbQuery(t, env, `
		SELECT outcome, count(*) FROM send_attempts WHERE worker = 'smsblast resolve' GROUP BY 1 ORDER BY 1`)
	audit := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			t.Fatal(err)
		}
		audit[o] = n
	}
	if audit["found"] != 2 || audit["not_found"] != 1 {
		t.Errorf("send_attempts by resolve: %v, want 2 found and 1 not_found", audit)
	}

	// Twilio answers again: the next send texts the one recipient returned
	// to pending, and nobody else.
	sim2 := twiliosim.New(twiliosim.Options{})
	t.Cleanup(sim2.Close)
	srv2 := httptest.NewServer(sim2)
	t.Cleanup(srv2.Close)
	env2 := map[string]string{"DATABASE_URL": env["DATABASE_URL"], "TWILIO_API_URL": srv2.URL,
		"TWILIO_ACCOUNT_SID": sim2.AccountSID(), "TWILIO_AUTH_TOKEN": sim2.AuthToken()}
	code, out, errOut = runApp(t, env2, "send", "rv", "--safety-window", "0")
	if code != 0 || !strings.Contains(out, "completed") || !strings.Contains(out, "1 accepted") || strings.Contains(out, "need review") {
		t.Fatalf("send after resolve: exit %d\n%s%s", code, out, errOut)
	}
	if msgs := sim2.Messages(); len(msgs) != 1 || msgs[0].To != "+14155550102" {
		t.Errorf("second send texted %v, want only +14155550102", msgs)
	}
	code, out, _ = runApp(t, env, "resolve", "rv")
	if code != 0 || !strings.Contains(out, "no recipients in review") {
		t.Errorf("resolve with none left: exit %d, %q", code, out)
	}
}

// A canceled campaign is never sent again: its recipients in review cannot
// be put back to pending, but what was sent can still be recorded.
func TestResolveCanceledCLI(t *testing.T) {
	t.Parallel()
	env, _ := cliWorld(t, twiliosim.Options{Redact: twiliosim.Redaction{Body: true}, LoseResponse: 1})
	importReview(t, env, "gone")
	if code, out, errOut := runApp(t, env, "send", "gone", "--safety-window", "0"); code != 0 {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	// cancel refuses a completed campaign; a campaign canceled while its
	// last recipients were in doubt ends the same way.
	dbExec(t, env, `UPDATE campaigns SET status = 'canceled', status_reason = 'canceled by a user' WHERE name = 'gone'`)
	code, _, errOut := runApp(t, env, "resolve", "gone", "--not-sent", "--all")
	if code != 1 || !strings.Contains(errOut, "canceled") {
		t.Errorf("resolve --not-sent on a canceled campaign: exit %d, %q", code, errOut)
	}
	for p, s := range recipientStates(t, env, "gone") {
		if p != "+15005550001" && s[0] != "review" {
			t.Errorf("%s is %s after a refused decision, want review", p, s[0])
		}
	}
	code, out, errOut := runApp(t, env, "resolve", "gone", "--sent", "--all")
	if code != 0 || !strings.Contains(out, "3 recipients recorded as sent") {
		t.Errorf("resolve --sent --all on a canceled campaign: exit %d\n%s%s", code, out, errOut)
	}
}
