package main

// Black-box tests of the promise: build the real binary, drive it against the
// simulator with faults, kill it with SIGKILL at random moments, resume, and
// compare what Twilio (the simulator) holds with what the database says.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/store/pgserver"
	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// buildBinary compiles smsblast once per test binary, into a directory
// TestMain removes, and returns its path.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var (
	builtDir    string
	builtBinary = sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "smsblast-test-bin-")
		if err != nil {
			return "", err
		}
		builtDir = dir
		bin := filepath.Join(dir, "smsblast")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			return "", fmt.Errorf("build smsblast: %v\n%s", err, out)
		}
		return bin, nil
	})
)

// blackBox is a built binary with its environment: a database and a
// simulator reachable over loopback.
type blackBox struct {
	t   testing.TB
	bin string
	env []string
	sim *twiliosim.Server
	db  string
}

func newBlackBox(t testing.TB, dbURL string, opts twiliosim.Options) *blackBox {
	t.Helper()
	sim := twiliosim.New(opts)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"SMSBLAST_HOME=" + t.TempDir(),
		"DATABASE_URL=" + dbURL,
		"TWILIO_API_URL=" + srv.URL,
		"TWILIO_ACCOUNT_SID=" + sim.AccountSID(),
		"TWILIO_AUTH_TOKEN=" + sim.AuthToken(),
	}
	return &blackBox{t: t, bin: buildBinary(t), env: env, sim: sim, db: dbURL}
}

func (b *blackBox) command(args ...string) *exec.Cmd {
	cmd := exec.Command(b.bin, args...)
	cmd.Env = b.env
	return cmd
}

// run runs smsblast to the end and fails the test on a non-zero exit.
func (b *blackBox) run(args ...string) string {
	b.t.Helper()
	var out, errb bytes.Buffer
	cmd := b.command(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("smsblast %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), tail(errb.String(), 3000))
	}
	return out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// writeRecipients writes a CSV of n valid recipients plus the magic numbers
// that fail, an invalid number and duplicates, and returns its path.
func writeRecipients(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("Phone Number,First Name,Code\n")
	for i := range n {
		fmt.Fprintf(&b, "+1415%07d,Name%d,%d\n", 2000000+i, i, i*7)
	}
	b.WriteString("+15005550001,Invalid,1\n+15005550002,Unroutable,2\n+15005550004,OptedOut,4\n")
	b.WriteString("not-a-number,Bad,0\n")
	b.WriteString("(415) 200-0001,Dup,1\n") // same as +14152000001
	path := filepath.Join(t.TempDir(), "recipients.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const crashBody = "Hi {{.first_name}}, your code is {{.code}}"

// verifyExactlyOnce compares the simulator with the database row by row:
// every recipient the database calls sent has exactly one message in Twilio,
// with its sid and the right body; nobody else has any; nothing is left
// pending or sending; the magic numbers carry their codes.
func (b *blackBox) verifyExactlyOnce(wantSent int) {
	t := b.t
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT phone, status, coalesce(message_sid, ''), coalesce(error_code, 0),
		       attrs->>'first_name', attrs->>'code'
		FROM recipients`)
	if err != nil {
		t.Fatal(err)
	}
	byTo := map[string][]twiliosim.Message{}
	for _, m := range b.sim.Messages() {
		byTo[m.To] = append(byTo[m.To], m)
	}
	sent := 0
	wantCodes := map[string]int{"+15005550001": 21211, "+15005550002": 21612, "+15005550004": 21610}
	for rows.Next() {
		var phone, status, sid, name, code string
		var errCode int
		if err := rows.Scan(&phone, &status, &sid, &errCode, &name, &code); err != nil {
			t.Fatal(err)
		}
		msgs := byTo[phone]
		switch status {
		case "accepted", "sent", "delivered", "undelivered":
			sent++
			if len(msgs) != 1 {
				t.Errorf("%s: %s but Twilio has %d messages for it, want exactly 1", phone, status, len(msgs))
				continue
			}
			if msgs[0].SID != sid {
				t.Errorf("%s: database sid %q, Twilio's %q", phone, sid, msgs[0].SID)
			}
			if want := fmt.Sprintf("Hi %s, your code is %s", name, code); msgs[0].Body != want {
				t.Errorf("%s: body %q, want %q", phone, msgs[0].Body, want)
			}
		case "pending", "sending":
			t.Errorf("%s: still %s after the final run", phone, status)
		default:
			if len(msgs) != 0 {
				t.Errorf("%s: %s (code %d) but Twilio has %d messages", phone, status, errCode, len(msgs))
			}
			if w, ok := wantCodes[phone]; ok && errCode != w {
				t.Errorf("%s: error code %d, want %d", phone, errCode, w)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if sent != wantSent {
		t.Errorf("%d recipients sent, want %d", sent, wantSent)
	}
	if n := len(b.sim.Messages()); n != sent {
		t.Errorf("Twilio holds %d messages for %d sent recipients", n, sent)
	}
}

// verifyCounters runs `smsblast db check`: every counter that status,
// campaign_stats and /metrics read equals a recount of the rows, however
// many times a sender was killed in the middle of a transaction.
func (b *blackBox) verifyCounters() {
	b.t.Helper()
	out := b.run("db", "check")
	if !strings.Contains(out, "counters match a recount of the rows (campaigns: 1,") {
		b.t.Errorf("db check: %s", out)
	}
}

// Fast-failing settings so a test run is short: short requests, a short
// lease, and a zero safety window (the simulator lists messages at once).
var fastSend = []string{"--request-timeout", "1s", "--lease", "6s", "--safety-window", "0", "--heartbeat", "200ms", "--log-format", "json"}

func faultySim(seed int64) twiliosim.Options {
	return twiliosim.Options{
		Latency: 2 * time.Millisecond, Jitter: 4 * time.Millisecond,
		MaxConcurrency: 40, Fail5xx: 0.02, Fail429: 0.02, LoseResponse: 0.01,
		LoseMode: twiliosim.LoseStall, Seed: seed,
	}
}

func TestCrashResumeExactlyOnce(t *testing.T) {
	t.Parallel()
	const n = 5000
	b := newBlackBox(t, pgtest.URL(t), faultySim(11))
	b.run("import", "crash", writeRecipients(t, n), "--from", "+15005550006", "--body", crashBody, "--send-window", "any")

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for kills < 12 {
		cmd := b.command(append([]string{"send", "crash", "--rate", "400", "--concurrency", "24"}, fastSend...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil { // finished before the kill: nothing left to interrupt
			break
		}
		kills++
	}
	t.Logf("killed smsblast send %d times; Twilio had %d messages before the final run", kills, len(b.sim.Messages()))
	if kills < 10 {
		t.Fatalf("only %d kills happened before the campaign finished; slow the rate", kills)
	}
	out := b.run(append([]string{"send", "crash", "--rate", "2000", "--concurrency", "24"}, fastSend...)...)
	if !strings.Contains(out, "completed") {
		t.Errorf("final run output:\n%s", out)
	}
	b.verifyExactlyOnce(n)
	b.verifyCounters()
}

// Three senders share one campaign; one of them is killed. The survivors
// take over its recipients and finish; nobody is texted twice.
func TestThreeSendersOneKilled(t *testing.T) {
	t.Parallel()
	const n = 3000
	b := newBlackBox(t, pgtest.URL(t), faultySim(12))
	b.run("import", "shared", writeRecipients(t, n), "--from", "+15005550006", "--body", crashBody, "--send-window", "any")
	args := append([]string{"send", "shared", "--rate", "900", "--concurrency", "12"}, fastSend...)
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for range 3 {
		cmd := b.command(args...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		errs = append(errs, &errb)
	}
	time.Sleep(1200 * time.Millisecond)
	_ = cmds[1].Process.Signal(syscall.SIGKILL)
	_ = cmds[1].Wait()
	for _, i := range []int{0, 2} {
		done := make(chan error, 1)
		go func() { done <- cmds[i].Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("sender %d: %v\n%s", i, err, tail(errs[i].String(), 3000))
			}
		case <-time.After(2 * time.Minute):
			_ = cmds[i].Process.Kill()
			t.Fatalf("sender %d did not finish\n%s", i, tail(errs[i].String(), 3000))
		}
	}
	b.verifyExactlyOnce(n)
	b.verifyCounters()
}

// The database restarts in the middle of a send: the sender waits,
// reconnects and finishes.
func TestPostgresRestartMidSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := &pgserver.Embedded{Home: t.TempDir()}
	url, err := pg.Start(ctx)
	if err != nil {
		t.Fatalf("start a PostgreSQL of our own to restart: %v", err)
	}
	t.Cleanup(func() { _ = pg.Destroy(context.Background()) })
	const n = 2000
	b := newBlackBox(t, url, twiliosim.Options{Latency: 2 * time.Millisecond, Seed: 13})
	b.run("import", "restart", writeRecipients(t, n), "--from", "+15005550006", "--body", crashBody, "--send-window", "any")

	cmd := b.command(append([]string{"send", "restart", "--rate", "500", "--concurrency", "8"}, fastSend...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for len(b.sim.Messages()) < 500 {
		select {
		case err := <-done:
			t.Fatalf("send ended before the restart: %v\n%s", err, tail(errb.String(), 3000))
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(b.sim.Messages())
	time.Sleep(1500 * time.Millisecond)
	if _, err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("send across a restart: %v\n%s", err, tail(errb.String(), 4000))
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("send did not finish after the restart\n%s", tail(errb.String(), 4000))
	}
	t.Logf("messages when the database stopped: %d, after: %d", before, len(b.sim.Messages()))
	b.verifyExactlyOnce(n)
	b.verifyCounters()
}
