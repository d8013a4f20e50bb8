package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/store/pgtest"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// cliWorld is a database and a simulator, and the environment that points
// smsblast at them.
func cliWorld(t *testing.T, opts twiliosim.Options) (map[string]string, *twiliosim.Server) {
	t.Helper()
	sim := twiliosim.New(opts)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return map[string]string{
		"DATABASE_URL":       pgtest.URL(t),
		"TWILIO_API_URL":     srv.URL,
		"TWILIO_ACCOUNT_SID": sim.AccountSID(),
		"TWILIO_AUTH_TOKEN":  sim.AuthToken(),
	}, sim
}

const cliCSV = "phone,name\n+14155550100,Ada\n+14155550101,Alan\n+15005550001,Bad\n+15005550009,Landline\n"

func importCLI(t *testing.T, env map[string]string, name string) {
	t.Helper()
	path := t.TempDir() + "/r.csv"
	if err := os.WriteFile(path, []byte(cliCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runApp(t, env, "import", name, path, "--from", "+15005550006", "--body", "Hi {{.name}}", "--max-attempts", "3", "--send-window", "any"); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
}

// The whole engine through the CLI: send, status (text and JSON), send on a
// completed campaign, retry of failures by code.
func TestSendStatusRetryCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	importCLI(t, env, "cli")

	code, out, errOut := runApp(t, env, "send", "cli", "--rate", "100", "--safety-window", "0")
	if code != 0 || !strings.Contains(out, `campaign "cli" completed`) || !strings.Contains(out, "2 accepted, 2 failed") {
		t.Fatalf("send: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := len(sim.Messages()); n != 2 {
		t.Errorf("Twilio has %d messages, want 2", n)
	}
	code, out, _ = runApp(t, env, "send", "cli")
	if code != 0 || !strings.Contains(out, "already completed") {
		t.Errorf("send on a completed campaign: exit %d, %q", code, out)
	}

	code, out, _ = runApp(t, env, "status", "cli")
	for _, want := range []string{"campaign cli: completed", "accepted  2", "failed  2", "21211", "Invalid 'To' phone number", "21614"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runApp(t, env, "status", "cli", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
		t.Fatalf("status --json: exit %d, %v:\n%s", code, err, out)
	}
	if st.Total != 4 || st.Counts["accepted"] != 2 || st.Counts["failed"] != 2 || len(st.TopErrors) != 2 {
		t.Errorf("status --json: %+v", st)
	}

	code, out, _ = runApp(t, env, "retry", "cli", "--codes", "21614")
	if code != 0 || !strings.Contains(out, "1 recipients requeued") {
		t.Fatalf("retry: exit %d, %q", code, out)
	}
	code, out, _ = runApp(t, env, "status", "cli")
	if !strings.Contains(out, "paused (recipients requeued by retry") || !strings.Contains(out, "pending  1") {
		t.Errorf("status after retry:\n%s", out)
	}
	// The requeued landline fails again; the other failure stays as it was.
	code, out, _ = runApp(t, env, "send", "cli", "--safety-window", "0")
	if code != 0 || !strings.Contains(out, "completed") || !strings.Contains(out, "0 accepted, 1 failed") {
		t.Errorf("send after retry: exit %d\n%s", code, out)
	}
	if n := len(sim.Messages()); n != 2 {
		t.Errorf("Twilio has %d messages after the retry, want still 2", n)
	}
}

// pause and cancel from "another shell"; send refuses a canceled campaign.
func TestPauseCancelCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	importCLI(t, env, "pc")
	code, out, _ := runApp(t, env, "pause", "pc")
	if code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("pause: exit %d, %q", code, out)
	}
	code, out, _ = runApp(t, env, "pause", "pc")
	if code != 0 || !strings.Contains(out, "already paused") {
		t.Errorf("pause twice: exit %d, %q", code, out)
	}
	code, out, _ = runApp(t, env, "cancel", "pc", "--reason", "wrong list")
	if code != 0 || !strings.Contains(out, "canceled") {
		t.Fatalf("cancel: exit %d, %q", code, out)
	}
	code, _, errOut := runApp(t, env, "send", "pc")
	if code != 1 || !strings.Contains(errOut, "canceled") {
		t.Errorf("send on a canceled campaign: exit %d, %q", code, errOut)
	}
	if n := len(sim.Messages()); n != 0 {
		t.Errorf("Twilio has %d messages for a canceled campaign", n)
	}
	code, _, errOut = runApp(t, env, "pause", "nope")
	if code != 1 || !strings.Contains(errOut, "campaign not found") {
		t.Errorf("pause of an unknown campaign: exit %d, %q", code, errOut)
	}
}

// Usage mistakes name the flag and exit 2; a missing credential says which.
func TestSendUsageCLI(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://unused/x"}
	tests := []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"send"}, env, 2, "usage: smsblast send CAMPAIGN"},
		{[]string{"send", "x", "--rate", "-1"}, env, 2, "--rate: -1 is not a rate"},
		{[]string{"send", "x", "--rat", "5"}, env, 2, "did you mean --rate"},
		{[]string{"send", "x", "--request-timeout", "29s"}, env, 2, "--request-timeout"},
		{[]string{"send", "x"}, env, 1, "TWILIO_ACCOUNT_SID"},
		{[]string{"retry", "x", "--codes", "30003,abc"}, env, 2, "--codes"},
	}
	for _, tt := range tests {
		code, _, errOut := runApp(t, tt.env, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("smsblast %s: exit %d, stderr %q; want exit %d mentioning %q",
				strings.Join(tt.args, " "), code, errOut, tt.code, tt.want)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 && tt.code == 2 {
			t.Errorf("smsblast %s: usage error takes more than one line:\n%s", strings.Join(tt.args, " "), errOut)
		}
	}
}

// smsblast sim prints the exports to paste, serves the API with them, and
// stops on the first interrupt.
func TestSimCommand(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	a := &app{stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- a.run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--seed", "3"})
		pw.Close()
	}()
	exports := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() && len(exports) < 3 {
		if kv, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			exports[k] = v
		}
	}
	go io.Copy(io.Discard, pr)
	cfg, err := twilio.ConfigFromEnv(func(k string) string { return exports[k] })
	if err != nil {
		t.Fatalf("exports %v: %v", exports, err)
	}
	tw, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tw.CreateMessage(ctx, &twilio.CreateMessageParams{To: "+14155550100", From: "+15005550006", Body: "hi"})
	if err != nil || m.Status != "queued" {
		t.Fatalf("create through smsblast sim: %+v, %v", m, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("sim exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop on interrupt")
	}
}

// send --metrics-addr serves the sender's live figures while it runs.
func TestSendMetrics(t *testing.T) {
	t.Parallel()
	env, _ := cliWorld(t, twiliosim.Options{Latency: 20 * time.Millisecond})
	importCLI(t, env, "metrics")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, []string{"send", "metrics", "--rate", "0.5", "--metrics-addr", addr}) }()
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Contains(body, `smsblast_sender_rate_ceiling{campaign="metrics"} 0.5`) {
			break
		}
	}
	for _, want := range []string{`smsblast_sender_rate_ceiling{campaign="metrics"} 0.5`,
		`smsblast_sender_requests_in_flight{campaign="metrics"}`, `smsblast_sender_recipients_total{campaign="metrics",outcome="accepted"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	cancel()
	if code := <-done; code != 130 {
		t.Errorf("send exited %d after an interrupt; want 130", code)
	}
}
