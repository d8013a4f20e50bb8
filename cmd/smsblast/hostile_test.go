package main

// The hostile-input suite: the built binary, given what a careless or
// hostile user would give it (issue 13's table and more), must exit with
// the documented status, say what is wrong on one line, never panic or
// show a raw SQLSTATE, and leave the database unchanged or changed exactly
// as intended. `go test -run Hostile ./...` runs it; so does make test.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// hostile is the built binary, a database of its own and a simulator.
type hostile struct {
	t   *testing.T
	bin string
	db  string
	env []string
	sim *twiliosim.Server
	dir string
}

func newHostile(t *testing.T, opts twiliosim.Options) *hostile {
	t.Helper()
	sim := twiliosim.New(opts)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	h := &hostile{t: t, bin: buildBinary(t), db: pgtest.URL(t), sim: sim, dir: t.TempDir()}
	h.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"SMSBLAST_HOME=" + t.TempDir(), // never the embedded server: DATABASE_URL is set
		"DATABASE_URL=" + h.db,
		"TWILIO_API_URL=" + srv.URL,
		"TWILIO_ACCOUNT_SID=" + sim.AccountSID(),
		"TWILIO_AUTH_TOKEN=" + sim.AuthToken(),
	}
	return h
}

// outcome is one run of the binary.
type outcome struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout:\n%s\nstderr:\n%s", o.code, o.took.Round(time.Millisecond), tail(o.stdout, 2000), tail(o.stderr, 2000))
}

// command is the binary with args and h's environment plus extra.
func (h *hostile) command(extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(append([]string{}, h.env...), extra...)
	cmd.Dir = h.dir
	return cmd
}

// run runs the binary to its end (a minute at most) with stdin.
func (h *hostile) run(stdin string, args ...string) outcome {
	return h.runEnv(nil, stdin, args...)
}

func (h *hostile) runEnv(extra []string, stdin string, args ...string) outcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append(append([]string{}, h.env...), extra...)
	cmd.Dir = h.dir
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		h.t.Fatalf("smsblast %.80q: %v", args, err)
	}
	return outcome{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
}

// file writes content under the test's directory and returns its path.
func (h *hostile) file(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// sql runs statements on the database.
func (h *hostile) sql(query string, args ...any) {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), query, args...); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
}

// scalar reads one value.
func (h *hostile) scalar(query string, args ...any) string {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	var s *string
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&s); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	if s == nil {
		return "NULL"
	}
	return *s
}

func (h *hostile) conn() *pgx.Conn {
	h.t.Helper()
	conn, err := pgx.Connect(context.Background(), h.db)
	if err != nil {
		h.t.Fatal(err)
	}
	return conn
}

// snapshot is every row a command could change, as text, so that two
// snapshots are equal exactly when nothing changed.
func (h *hostile) snapshot() string {
	h.t.Helper()
	var b strings.Builder
	for _, table := range []string{"campaigns", "recipients", "imports", "import_rejects", "opt_outs", "send_attempts", "message_events", "workers"} {
		fmt.Fprintf(&b, "%s: %s\n", table, h.scalar(`SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM `+table+` t`))
	}
	return b.String()
}

// rawDBError is what a database error looks like when it reaches a user raw.
var rawDBError = regexp.MustCompile(`SQLSTATE|violates|pq:|pgx|unable to encode`)

// check asserts the exit status, that every line of want is in stderr (or
// stdout), and that nothing panicked or showed a raw database error.
func check(t *testing.T, name string, o outcome, code int, want ...string) {
	t.Helper()
	if o.code != code {
		t.Errorf("%s: want exit %d, got %s", name, code, o)
		return
	}
	// Tables align with runs of spaces: compare with them squeezed too.
	flat := strings.Join(strings.Fields(o.stdout), " ")
	for _, w := range want {
		if !strings.Contains(o.stderr, w) && !strings.Contains(o.stdout, w) && !strings.Contains(flat, w) {
			t.Errorf("%s: output lacks %q:\n%s", name, w, o)
		}
	}
	if strings.Contains(o.stderr, "panic:") || strings.Contains(o.stderr, "goroutine ") || rawDBError.MatchString(o.stderr) {
		t.Errorf("%s: a panic or a raw database error:\n%s", name, o)
	}
	if strings.ContainsRune(o.stdout+o.stderr, 0x1b) {
		t.Errorf("%s: an escape character reached the terminal:\n%q", name, o.stderr)
	}
	if code == 1 || code == 2 {
		if lines := strings.Count(strings.TrimSpace(o.stderr), "\n") + 1; lines != 1 {
			t.Errorf("%s: the error takes %d lines:\n%s", name, lines, o.stderr)
		}
	}
}

// world imports three campaigns: spring (draft), done (completed, with
// failures) and gone (canceled, with failures).
func (h *hostile) world() {
	h.t.Helper()
	csv := h.file("people.csv", "phone,name\n+14155550100,Ann\n+14155550101,Bob\n+14155550102,Cy\n")
	for _, name := range []string{"spring", "done", "gone"} {
		o := h.run("", "import", name, csv, "--from", "+15005550006", "--body", "Hi {{.name}}")
		check(h.t, "import "+name, o, 0, "imported 3")
	}
	h.sql(`UPDATE recipients r SET status = 'failed', error_code = 21614, attempts = 1
		FROM campaigns c WHERE c.id = r.campaign_id AND c.name IN ('done', 'gone')`)
	h.sql(`UPDATE campaigns SET status = 'completed' WHERE name = 'done'`)
	h.sql(`UPDATE campaigns SET status = 'canceled', status_reason = 'wrong list' WHERE name = 'gone'`)
}

// TestHostileRefusals: what must be refused, refused without a trace in
// the database.
func TestHostileRefusals(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	h.world()
	long := strings.Repeat("n", 100<<10)
	wide := "phone," + strings.Join(func() []string {
		var s []string
		for i := range 5000 {
			s = append(s, fmt.Sprintf("col%d", i))
		}
		return s
	}(), ",") + "\n+14155550103," + strings.Repeat("x,", 4999) + "x\n"
	files := map[string]string{
		"good":     h.file("good.csv", "phone,name\n+14155550109,Dee\n"),
		"wide":     h.file("wide.csv", wide),
		"utf16":    h.file("utf16.csv", "\xff\xfep\x00h\x00o\x00n\x00e\x00\n\x00"),
		"nul":      h.file("nul.csv", "phone,name\n+14155550109,D\x00e\n"),
		"header":   h.file("header.csv", "phone,"+strings.Repeat("h", 70<<10)+"\n"),
		"badutf8":  h.file("badutf8.csv", "phone,name\n+14155550109,\xff\n"),
		"unterm":   h.file("unterm.csv", "phone,name\n+14155550109,\"Dee\n"),
		"longline": h.file("long.csv", "phone,name\n+14155550109,\""+strings.Repeat("x", 70<<10)+"\"\n"),
	}
	if err := os.Mkdir(filepath.Join(h.dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	bodyFlags := []string{"--from", "+15005550006", "--body", "Hi {{.name}}"}
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want []string
	}{
		// 1: durations that stopped a sender or made it panic.
		{"heartbeat negative", []string{"send", "spring", "--heartbeat", "-1s"}, nil, 2, []string{"--heartbeat -1s"}},
		{"heartbeat zero", []string{"send", "spring", "--heartbeat", "0"}, nil, 2, []string{"--heartbeat 0s"}},
		{"lease zero", []string{"send", "spring", "--lease", "0"}, nil, 2, []string{"--lease"}},
		{"request timeout 1ns", []string{"send", "spring", "--request-timeout", "1ns"}, nil, 2, []string{"--request-timeout 1ns"}},
		// 3: retry must not wipe a canceled campaign's verdicts.
		{"retry canceled", []string{"retry", "gone", "--codes", "21614"}, nil, 1, []string{"canceled", "nothing was requeued"}},
		{"retry canceled, all codes", []string{"retry", "gone"}, nil, 1, []string{"canceled"}},
		// 5: raw database errors.
		{"empty name", []string{"import", "", files["good"]}, nil, 2, []string{"invalid campaign name: it is empty"}},
		{"huge concurrency", append([]string{"import", "new", files["good"], "--concurrency", "99999999999"}, bodyFlags...), nil, 2, []string{"--concurrency: 99999999999 is not between 1 and 1000"}},
		{"huge max attempts", append([]string{"import", "new", files["good"], "--max-attempts", "99999999999"}, bodyFlags...), nil, 2, []string{"--max-attempts"}},
		{"huge codes", []string{"retry", "done", "--codes", "99999999999"}, nil, 2, []string{"--codes"}},
		// 7: a recursive body, refused at once; a wide file's bounded column list.
		{"recursive body", []string{"import", "new", files["good"], "--from", "+15005550006", "--body", `{{template "body"}}`}, nil, 2, []string{"--body", "calls itself"}},
		{"range without bound", []string{"import", "new", files["good"], "--from", "+15005550006", "--body", `{{range 1000000000}}{{end}}`}, nil, 2, []string{"--body"}},
		{"5,000 columns", []string{"import", "wide", files["wide"], "--from", "+15005550006", "--body", "Hi {{.name}}"}, nil, 2, []string{"… and 4,980 more"}},
		// 8: rates and concurrency.
		{"rate Inf", append([]string{"import", "new", files["good"], "--rate", "Inf"}, bodyFlags...), nil, 2, []string{"--rate: +Inf is not a rate"}},
		{"rate 1e308", append([]string{"import", "new", files["good"], "--rate", "1e308"}, bodyFlags...), nil, 2, []string{"--rate"}},
		{"rate 1e-300", append([]string{"import", "new", files["good"], "--rate", "1e-300"}, bodyFlags...), nil, 2, []string{"--rate"}},
		{"send rate NaN", []string{"send", "spring", "--rate", "NaN"}, nil, 2, []string{"--rate: NaN is not a rate"}},
		{"send rate Inf on a completed campaign", []string{"send", "done", "--rate", "Inf"}, nil, 2, []string{"--rate"}},
		{"send concurrency 100000", []string{"send", "spring", "--concurrency", "100000"}, nil, 2, []string{"--concurrency"}},
		{"safety window negative", []string{"send", "spring", "--safety-window", "-1s"}, nil, 2, []string{"--safety-window -1s"}},
		{"set rate Inf", []string{"set", "spring", "--rate", "Inf"}, nil, 2, []string{"--rate"}},
		{"set a sender that is no number", []string{"set", "spring", "--from", "+15005550006,+999999999999999"}, nil, 2, []string{"--from", "no known country code"}},
		{"set a body that calls itself", []string{"set", "spring", "--body", `{{template "body"}}`}, nil, 2, []string{"--body", "calls itself"}},
		{"sender MPS 1e308", []string{"senders", "set", "+14155550100", "--mps", "1e308"}, nil, 2, []string{"--mps"}},
		{"sender daily cap huge", []string{"senders", "set", "+14155550100", "--daily-cap", "99999999999"}, nil, 2, []string{"--daily-cap"}},
		{"sender that is no number", []string{"senders", "set", "+999999999999999", "--mps", "10"}, nil, 2, []string{"no known country code"}},
		// 9: names.
		{"name of spaces", []string{"import", "   ", files["good"]}, nil, 2, []string{"is only white space"}},
		{"name of 100 KB", []string{"status", long}, nil, 2, []string{"102400 characters long"}},
		{"name with a newline", []string{"pause", "spring\nsale"}, nil, 2, []string{"U+000A"}},
		{"name with an escape", []string{"import", "\x1b[2J\x1b[31mred", files["good"]}, nil, 2, []string{"U+001B"}},
		{"name reversing the text", []string{"cancel", "evil\u202egnp.exe"}, nil, 2, []string{"U+202E"}},
		{"resolve a name of spaces", []string{"resolve", " ", "--sent", "--all"}, nil, 2, []string{"is only white space"}},
		{"reason with an escape", []string{"pause", "spring", "--reason", "\x1b]0;pwned\x07"}, nil, 2, []string{"--reason"}},
		// 10: a sender of the right form that is no number.
		{"from +999999999999999", []string{"import", "new", files["good"], "--from", "+999999999999999", "--body", "Hi"}, nil, 2, []string{"--from", "no known country code"}},
		// 11: rows that could never be sent.
		{"import into a canceled campaign", []string{"import", "gone", files["good"]}, nil, 1, []string{"campaign is canceled"}},
		// 12: the simulator.
		{"sim fraction 2", []string{"sim", "--fail-5xx", "2"}, nil, 2, []string{"--fail-5xx: 2 is not a fraction"}},
		{"sim fraction NaN", []string{"sim", "--lose-response", "NaN"}, nil, 2, []string{"--lose-response: NaN"}},
		{"sim fraction -1", []string{"sim", "--undelivered", "-1"}, nil, 2, []string{"--undelivered: -1"}},
		{"sim account bad", []string{"sim", "--account-sid", "bad"}, nil, 2, []string{"--account-sid"}},
		{"sim token as a flag", []string{"sim", "--auth-token", "secret"}, nil, 2, []string{"unknown flag --auth-token"}},
		{"sim token with a space", []string{"sim", "--addr", "127.0.0.1:0"}, []string{"TWILIO_AUTH_TOKEN=a b"}, 1, []string{"TWILIO_AUTH_TOKEN holds white space"}},
		// Files an attacker or a bad export would hand over.
		{"UTF-16 with a BOM", []string{"import", "spring", files["utf16"]}, nil, 1, []string{"UTF-16; save it as UTF-8"}},
		{"NUL bytes", []string{"import", "spring", files["nul"]}, nil, 1, []string{"NUL byte"}},
		{"/dev/zero", []string{"import", "spring", "/dev/zero"}, nil, 1, []string{"line 1"}},
		{"a directory", []string{"import", "spring", filepath.Join(h.dir, "adir")}, nil, 2, []string{"is a directory"}},
		{"a 70 KB header", []string{"import", "spring", files["header"]}, nil, 1, []string{"record too long"}},
		{"a huge --phone-column", []string{"import", "spring", files["good"], "--phone-column", long}, nil, 2, []string{"no column", "bytes)"}},
		{"bad UTF-8 into an existing campaign", []string{"import", "spring", files["badutf8"]}, nil, 1, []string{"line 2", "invalid UTF-8"}},
		{"empty standard input", []string{"import", "spring", "-"}, nil, 1, []string{"no header row"}},
		{"report into a directory", []string{"report", "spring", "--output", filepath.Join(h.dir, "adir")}, nil, 2, []string{"is a directory"}},
		{"report into nowhere", []string{"report", "spring", "--output", "/nonexistent/r.csv"}, nil, 2, []string{"does not exist"}},
		{"a password in --db", []string{"status", "--db", "postgres://u:s3cret@127.0.0.1:1/x"}, nil, 1, nil},
		{"db subcommand", []string{"db", "drop"}, nil, 2, []string{"unknown subcommand"}},
	}
	before := h.snapshot()
	for _, tt := range tests {
		o := h.runEnv(tt.env, "", tt.args...)
		check(t, tt.name, o, tt.code, tt.want...)
		if strings.Contains(o.stderr, "s3cret") || strings.Contains(o.stderr, h.sim.AuthToken()) {
			t.Errorf("%s: a secret in the output:\n%s", tt.name, o)
		}
		if len(o.stderr) > 1000 {
			t.Errorf("%s: %d bytes of error", tt.name, len(o.stderr))
		}
		if tt.name == "recursive body" && o.took > 5*time.Second {
			t.Errorf("recursive body refused after %v", o.took)
		}
		if after := h.snapshot(); after != before {
			t.Errorf("%s changed the database", tt.name)
			before = after
		}
	}
}

// TestHostileFirstImport (row 6): a first import that fails leaves no
// campaign, so the fixed file with a corrected body works.
func TestHostileFirstImport(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	for _, bad := range []string{
		"phone,name\n+14155550100,Ann\n+14155550101,\xff\n",
		"phone,name\n+14155550100,Ann\n+14155550101,\"Bob\n",
		"phone,name\n+14155550100,\"" + strings.Repeat("x", 70<<10) + "\"\n",
	} {
		o := h.run("", "import", "first", h.file("bad.csv", bad), "--from", "+15005550006", "--body", "Hi {{.nmae}}")
		if o.code != 2 { // the typo in the body is found first: fix it
			t.Fatalf("typo in the body: %s", o)
		}
		o = h.run("", "import", "first", h.file("bad.csv", bad), "--from", "+15005550006", "--body", "Hi {{.name}}")
		check(t, "first import of a broken file", o, 1, "line ")
		if n := h.scalar(`SELECT count(*)::text FROM campaigns`); n != "0" {
			t.Fatalf("%s campaigns after a failed first import; want none", n)
		}
	}
	o := h.run("", "import", "first", h.file("fixed.csv", "phone,name\n+14155550100,Ann\n+14155550101,Bob\n"),
		"--from", "+15005550006", "--body", "Hello {{.name}}")
	check(t, "the fixed file", o, 0, `into new campaign "first"`, "imported 2")
}

// TestHostileRows: rows an export or an attacker would write are rejected
// one by one, with their reason, and the rest imported; names are literal.
func TestHostileRows(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	csv := "phone,name\n" +
		"+1 415 555 0117 ext. 12,Ext\n" +
		"4155550118x99,X\n" +
		"+14155550120#123,Hash\n" +
		"1-800-FLOWERS,Letters\n" +
		"\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",Formula\n" +
		"@SUM(1+1),At\n" +
		"+14155550121\n" +
		"+14155550122,Ok\n" +
		"'+14155550123,Quoted\n" +
		"+14155550124,=cmd|' /C calc'!A0\n"
	name := `x'); DROP TABLE campaigns; --`
	o := h.run("", "import", name, h.file("rows.csv", csv), "--from", "+15005550006", "--body", "Hi {{.name}}", "--concurrency", "200")
	check(t, "import", o, 0, "imported 3", "rejected 7",
		`line 2: phone "+1 415 555 0117 ext. 12" has an extension`, `line 3: phone "4155550118x99" has an extension`,
		`line 4: phone "+14155550120#123" has an extension`, `line 5: phone "1-800-FLOWERS" has letters`,
		"is a spreadsheet formula", "line 8: has 1 field; the header has 2",
		"concurrency 200 is more than the 100 requests in flight Twilio allows")
	if got := h.scalar(`SELECT string_agg(phone, ' ' ORDER BY phone) FROM recipients`); got != "+14155550122 +14155550123 +14155550124" {
		t.Errorf("recipients %s", got)
	}
	if got := h.scalar(`SELECT name FROM campaigns`); got != name {
		t.Errorf("campaign name stored as %q", got)
	}
	// A name made before the rules (or by SQL) is shown escaped.
	h.sql(`INSERT INTO campaigns (name, from_number, body_template) VALUES (E'legacy\x1b[2J\n', '+15005550006', 'Hi')`)
	o = h.run("", "status")
	check(t, "status of a legacy name", o, 0, `campaign legacy\x1b[2J\n: draft`)
	// The report neutralises the formula an attribute carries.
	out := filepath.Join(h.dir, "r.csv")
	check(t, "report", h.run("", "report", name, "--output", out), 0)
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "'=cmd|") {
		t.Errorf("report: %v\n%s", err, b)
	}
}

// TestHostileSendExit (row 11, row 4): completed 0, interrupted 130,
// stopped by pause or cancel from another shell 3, saying so; an
// unreachable Twilio is named at the default log level and counted.
func TestHostileSendExit(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range 40 {
		fmt.Fprintf(&csv, "+1415555%04d,N%d\n", 1000+i, i)
	}
	path := h.file("many.csv", csv.String())
	for _, name := range []string{"paused", "canceled", "ctrlc", "offline"} {
		check(t, "import "+name, h.run("", "import", name, path, "--from", "+15005550006", "--body", "Hi {{.name}}", "--rate", "4"), 0)
	}
	small := h.file("small.csv", "phone,name\n+14155550100,Ann\n")
	check(t, "import done", h.run("", "import", "done", small, "--from", "+15005550006", "--body", "Hi"), 0)
	check(t, "send to the end", h.run("", "send", "done", "--safety-window", "0"), 0, `campaign "done" completed`)

	// start runs send in the background; stop waits for its end.
	start := func(name string, extra ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := h.command(extra, "send", name, "--safety-window", "0", "--heartbeat", "200ms")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out, &errb
	}
	wait := func(cmd *exec.Cmd, out, errb *bytes.Buffer) outcome {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("send did not stop within 30 s")
		}
		return outcome{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	}
	waitSent := func(name string) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if h.scalar(`SELECT count(*)::text FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
				WHERE c.name = $1 AND r.status = 'accepted'`, name) != "0" {
				return
			}
		}
		t.Fatalf("%s: nothing sent in 20 s", name)
	}

	for _, verb := range []string{"pause", "cancel"} {
		name := map[string]string{"pause": "paused", "cancel": "canceled"}[verb]
		cmd, out, errb := start(name)
		waitSent(name)
		check(t, verb+" from another shell", h.run("", verb, name), 0)
		o := wait(cmd, out, errb)
		want := map[string]string{"pause": "'smsblast send paused' resumes it", "cancel": "it will not be sent"}[verb]
		if o.code != 3 || !strings.Contains(o.stdout, `campaign "`+name+`" stopped: `+name) || !strings.Contains(o.stdout, want) {
			t.Errorf("send stopped by %s: want exit 3 saying so, got %s", verb, o)
		}
	}

	cmd, out, errb := start("ctrlc")
	waitSent("ctrlc")
	cmd.Process.Signal(os.Interrupt)
	o := wait(cmd, out, errb)
	if o.code != 130 || !strings.Contains(o.stdout, `campaign "ctrlc" interrupted: run 'smsblast send ctrlc' to resume`) {
		t.Errorf("interrupted send: want exit 130, got %s", o)
	}
	cmd, out, errb = start("ctrlc")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		// Registered as a worker: past start-up, its signal handler is in place.
		if h.scalar(`SELECT count(*)::text FROM workers WHERE stopped_at IS NULL`) != "0" {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if o := wait(cmd, out, errb); o.code != 143 {
		t.Errorf("send stopped by SIGTERM: want exit 143, got %s", o)
	}

	// Twilio unreachable: said at the default level, counted, nothing lost.
	cmd, out, errb = start("offline", "TWILIO_API_URL=http://127.0.0.1:1")
	time.Sleep(3 * time.Second)
	cmd.Process.Signal(os.Interrupt)
	o = wait(cmd, out, errb)
	if o.code != 130 || !strings.Contains(o.stderr, "connection refused") || !strings.Contains(o.stdout, "requests got no answer from Twilio") {
		t.Errorf("send with Twilio unreachable: want exit 130, connection refused in the log and the count, got %s", o)
	}
	if n := h.scalar(`SELECT count(*)::text FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
		WHERE c.name = 'offline' AND r.status NOT IN ('pending', 'sending')`); n != "0" {
		t.Errorf("offline: %s recipients with a verdict; want none", n)
	}
}

// TestHostileReportOutput: --output never writes through a link, never
// replaces a device, and leaves a private file.
func TestHostileReportOutput(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	check(t, "import", h.run("", "import", "r", h.file("p.csv", "phone\n+14155550100\n"), "--from", "+15005550006", "--body", "Hi"), 0)

	check(t, "report to /dev/null", h.run("", "report", "r", "--output", "/dev/null"), 0)
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("/dev/null after the report: %v, %v", fi.Mode(), err)
	}
	o := h.run("", "report", "r", "--output", "/dev/stdout")
	check(t, "report to /dev/stdout", o, 0, "+14155550100")

	// A link planted where the report goes: replaced, its target untouched.
	victim := h.file("victim.txt", "precious\n")
	link := filepath.Join(h.dir, "report.csv")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	check(t, "report over a link", h.run("", "report", "r", "--output", link), 0)
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	fi, err := os.Lstat(link)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("report file: %v, %v; want a regular file, mode 0600", fi.Mode(), err)
	}
	// No temporary file is left beside it.
	if m, _ := filepath.Glob(filepath.Join(h.dir, ".report.csv.*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

// TestHostileWebhooks: serve refuses a callback that repeats a parameter
// (its signature cannot say which value is meant), an altered one and a
// huge one; a good one applies.
func TestHostileWebhooks(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	check(t, "import", h.run("", "import", "w", h.file("p.csv", "phone\n+14155550100\n"), "--from", "+15005550006", "--body", "Hi"), 0)
	const sid = "SM0123456789abcdef0123456789abcdef"
	h.sql(`UPDATE recipients SET status = 'accepted', message_sid = $1, attempts = 1`, sid)

	const token = "0123456789abcdef0123456789abcdef"
	cmd := h.command([]string{"TWILIO_AUTH_TOKEN=" + token}, "serve", "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRE := regexp.MustCompile(`serving Twilio webhooks" addr=(\S+)`)
	var logs bytes.Buffer
	var addr string
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); {
		n, err := stderr.Read(buf)
		logs.Write(buf[:n])
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		if err != nil {
			break
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start:\n%s", logs.String())
	}
	go io.Copy(io.Discard, stderr)

	post := func(path string, form url.Values, sign url.Values, raw string) int {
		t.Helper()
		u := "http://" + addr + path
		body := raw
		if body == "" {
			body = form.Encode()
		}
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Signature(token, u, sign))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status := func() string {
		return h.scalar(`SELECT status FROM recipients`)
	}
	dup := url.Values{"MessageSid": {sid}, "MessageStatus": {"failed", "delivered"}, "ErrorCode": {"30003"}}
	before := h.snapshot()
	if code := post("/twilio/status", dup, dup, ""); code != 400 {
		t.Errorf("signed callback repeating MessageStatus: %d; want 400", code)
	}
	good := url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}}
	altered := url.Values{"MessageSid": {sid}, "MessageStatus": {"sent", "delivered"}}
	if code := post("/twilio/status", altered, good, ""); code != 403 {
		t.Errorf("callback with a parameter added after signing: %d; want 403", code)
	}
	inbound := url.Values{"From": {"+14155550100", "+14155550199"}, "Body": {"STOP"}}
	if code := post("/twilio/inbound", inbound, inbound, ""); code != 400 {
		t.Errorf("inbound STOP repeating From: %d; want 400", code)
	}
	huge := "MessageSid=" + sid + "&MessageStatus=sent&Pad=" + strings.Repeat("x", 2<<20)
	if code := post("/twilio/status", nil, nil, huge); code != 413 {
		t.Errorf("2 MB callback: %d; want 413", code)
	}
	if h.snapshot() != before {
		t.Errorf("refused webhooks changed the database")
	}
	if code := post("/twilio/status", good, good, ""); code/100 != 2 || status() != "sent" {
		t.Errorf("good callback: %d, status %s; want 2xx and sent", code, status())
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after an interrupt: %v; want exit 0", err)
	}
}

// TestHostileSimToken (row 12): the simulator takes its token from the
// environment and never prints it.
func TestHostileSimToken(t *testing.T) {
	t.Parallel()
	h := newHostile(t, twiliosim.Options{})
	const token = "fedcba9876543210fedcba9876543210"
	cmd := h.command([]string{"TWILIO_AUTH_TOKEN=" + token}, "sim", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "Ctrl-C stops") && time.Now().Before(deadline); {
		n, err := stdout.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if strings.Contains(out.String(), token) || !strings.Contains(out.String(), "the one in your environment") {
		t.Errorf("sim output:\n%s", out.String())
	}
	if strings.Contains(strings.Join(cmd.Args, " "), token) {
		t.Errorf("the token is on the command line")
	}
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Errorf("sim after an interrupt: %v; want exit 0", err)
	}
}
