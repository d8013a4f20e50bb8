package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

func TestSpreadsheetSafe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Alice", "Alice"},
		{"+14155550100", "'+14155550100"},
		{"=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=b", "a=b"},
		{"30003", "30003"},
	} {
		if got := spreadsheetSafe(tt.in); got != tt.want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReportCLI(t *testing.T) {
	t.Parallel()
	const n = 20
	b := newDeliveryBundle(t, true)
	b.withSim(t, twiliosim.Options{Fail: map[string]int{"+14155550003": 30003, "+14155550004": 30005}})
	b.newNamedCampaign(t, "spring-sale", n)
	ctx := context.Background()
	// A hostile CSV row: a formula, a negative number, a column named like a fixed one.
	if _, err := b.st.Pool().Exec(ctx, `UPDATE recipients SET attrs = '{"name": "=HYPERLINK(\"http://x\",\"y\")", "note": "-5", "phone": "dup"}'
		WHERE phone = '+14155550001'`); err != nil {
		t.Fatal(err)
	}
	b.send(t)
	msgs := b.awaitDelivery(t)
	env := map[string]string{"DATABASE_URL": b.dbURL}

	code, out, errOut := runApp(t, env, "report", "spring-sale")
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHead := append(slices.Clone(reportColumns), "name", "note", "attrs.phone")
	if !slices.Equal(recs[0], wantHead) {
		t.Fatalf("header %v, want %v", recs[0], wantHead)
	}
	if len(recs) != n+1 {
		t.Fatalf("%d rows, want %d", len(recs)-1, n)
	}
	col := func(name string) int { return slices.Index(recs[0], name) }
	for _, r := range recs[1:] {
		phone := r[col("phone")]
		if !strings.HasPrefix(phone, "'+1415555") {
			t.Errorf("phone cell %q: want '+1415555…", phone)
		}
		m := msgs[strings.TrimPrefix(phone, "'")]
		if r[col("status")] != m.Status {
			t.Errorf("%s: status %s, simulator %s", phone, r[col("status")], m.Status)
		}
		if m.ErrorCode != 0 && (r[col("error_code")] == "" || r[col("error_description")] == "") {
			t.Errorf("%s: code %q description %q, simulator %d", phone, r[col("error_code")], r[col("error_description")], m.ErrorCode)
		}
		if phone == "'+14155550001" {
			if got := r[col("name")]; got != `'=HYPERLINK("http://x","y")` {
				t.Errorf("formula cell %q not neutralised", got)
			}
			if r[col("note")] != "'-5" || r[col("attrs.phone")] != "dup" {
				t.Errorf("row %v", r)
			}
		}
	}

	// JSON Lines, filtered: raw values, one object per line.
	code, out, errOut = runApp(t, env, "report", "spring-sale", "--format", "json", "--status", "undelivered, failed")
	if code != 0 {
		t.Fatalf("report --format json: exit %d: %s", code, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var phones []string
	for sc.Scan() {
		var r struct {
			Phone     string            `json:"phone"`
			Status    string            `json:"status"`
			ErrorCode int               `json:"error_code"`
			Attrs     map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.Status != "undelivered" || r.ErrorCode != msgs[r.Phone].ErrorCode || r.Attrs["name"] == "" {
			t.Errorf("line %q", sc.Text())
		}
		phones = append(phones, r.Phone)
	}
	if !slices.Equal(phones, []string{"+14155550003", "+14155550004"}) {
		t.Errorf("filtered phones %v", phones)
	}

	// --output: the same CSV, in a file, no temporary left behind.
	dir := t.TempDir()
	file := filepath.Join(dir, "results.csv")
	if code, _, errOut := runApp(t, env, "report", "spring-sale", "--output", file); code != 0 {
		t.Fatalf("report --output: exit %d: %s", code, errOut)
	}
	_, stdoutCSV, _ := runApp(t, env, "report", "spring-sale")
	got, err := os.ReadFile(file)
	if err != nil || string(got) != stdoutCSV {
		t.Errorf("file differs from stdout (%v)", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only results.csv", len(entries))
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"report", "spring-sale", "--status", "bogus"}, 2, "not a recipient state"},
		{[]string{"report", "spring-sale", "--format", "xml"}, 2, "not csv or json"},
		{[]string{"report"}, 2, "usage"},
		{[]string{"report", "nope"}, 1, "campaign not found"},
	} {
		code, _, errOut := runApp(t, env, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tt.args, code, errOut, tt.code, tt.msg)
		}
	}
}

func TestServeCLI(t *testing.T) {
	t.Parallel()
	b := newDeliveryBundle(t, true)
	env := map[string]string{"DATABASE_URL": b.dbURL, "TWILIO_AUTH_TOKEN": webhookToken}
	for _, tt := range []struct {
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{map[string]string{"DATABASE_URL": b.dbURL}, []string{"serve", "--addr", "127.0.0.1:0"}, 1, "TWILIO_AUTH_TOKEN is not set"},
		{env, []string{"serve", "--public-url", "example.com"}, 2, "--public-url"},
		{env, []string{"serve", "extra"}, 2, "usage"},
	} {
		code, _, errOut := runApp(t, tt.env, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tt.args, code, errOut, tt.code, tt.msg)
		}
	}

	// A real run: it listens, answers /healthz, and stops cleanly on cancel.
	logs := &lockedBuffer{}
	a := &app{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: logs, getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- a.run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--public-url", "https://sms.example.com"})
	}()
	addrRE := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", logs.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: HTTP %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after stop")
	}
	if strings.Contains(logs.String(), webhookToken) {
		t.Error("the auth token was logged")
	}
}

// TestReportColumnsFromImports: the CSV report's attribute columns come
// from what the imports recorded, the union of their CSVs' columns, unless
// the imports cannot vouch for every recipient; a key added by hand that
// the report has no column for is said, not silently dropped.
func TestReportColumnsFromImports(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	env := map[string]string{"DATABASE_URL": db}
	a := writeFile(t, "a.csv", "phone,First Name,City\n+14155550100,Ann,Oslo\n+14155550101,Bob,Rome\n")
	b := writeFile(t, "b.csv", "phone,first_name,plan\n+14155550102,Cy,gold\n+14155550100,Ann,dup\n")
	if code, _, errOut := runApp(t, env, "import", "cols", a, "--from", "+15005550006", "--body", "Hi {{.first_name}}"); code != 0 {
		t.Fatalf("import a: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runApp(t, env, "import", "cols", b); code != 0 {
		t.Fatalf("import b: exit %d: %s", code, errOut)
	}
	header := func() []string {
		t.Helper()
		code, out, errOut := runApp(t, env, "report", "cols")
		if code != 0 {
			t.Fatalf("report: exit %d: %s", code, errOut)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("report: %v:\n%s", err, out)
		}
		return recs[0][len(reportColumns):]
	}
	if got := header(); !slices.Equal(got, []string{"city", "first_name", "plan"}) {
		t.Fatalf("columns %v; want the imports' city, first_name, plan", got)
	}

	// A key added by hand: the imports do not know it, and the report says so.
	ctx := context.Background()
	pool, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close(context.Background()) })
	if _, err := pool.Exec(ctx, `UPDATE recipients SET attrs = attrs || '{"vip": "yes"}' WHERE phone = '+14155550101'`); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runApp(t, env, "report", "cols")
	if code != 0 || !strings.Contains(errOut, "attributes the report has no column for") || !strings.Contains(errOut, "recipients=1") {
		t.Errorf("report after an UPDATE by hand: exit %d, stderr %q; want a warning about 1 recipient", code, errOut)
	}

	// A recipient inserted by hand: the imports no longer account for
	// every recipient, so the rows are read; deleted again, they do.
	if _, err := pool.Exec(ctx, `INSERT INTO recipients (campaign_id, phone, attrs)
		SELECT id, '+14155550109', '{"extra": "x"}' FROM campaigns WHERE name = 'cols'`); err != nil {
		t.Fatal(err)
	}
	if got := header(); !slices.Equal(got, []string{"city", "extra", "first_name", "plan", "vip"}) {
		t.Errorf("columns %v; want the rows' city, extra, first_name, plan, vip", got)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM recipients WHERE phone = '+14155550109'`); err != nil {
		t.Fatal(err)
	}
	if got := header(); !slices.Equal(got, []string{"city", "first_name", "plan"}) {
		t.Errorf("columns %v; want the imports' again", got)
	}

	// An import older than the record of its columns: the rows are read.
	if _, err := pool.Exec(ctx, `UPDATE imports SET attr_keys = NULL WHERE source = 'b.csv'`); err != nil {
		t.Fatal(err)
	}
	if got := header(); !slices.Equal(got, []string{"city", "first_name", "plan", "vip"}) {
		t.Errorf("columns %v; want the rows' city, first_name, plan, vip", got)
	}
}
