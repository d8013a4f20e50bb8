package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// TestProgressMeter checks the one progress display of import and send: the
// terminal line and the log line, with a count, a share or neither.
func TestProgressMeter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	tests := []struct {
		name      string
		unit      string
		s         progressSample
		wantLine  string
		wantAttrs string
	}{
		{
			name:      "send: a count of a known total",
			unit:      "msg",
			s:         progressSample{done: 600, total: 2400, note: "(failed 1, skipped 0, in doubt 2)", attrs: []any{"failed", 1, "in_doubt", 2}},
			wantLine:  "[######..................]  25%  600/2400 msg  300.0 msg/s  ETA 6s  (failed 1, skipped 0, in doubt 2)",
			wantAttrs: "[campaign c done 600 of 2400 rate 300.0 eta 6s failed 1 in_doubt 2]",
		},
		{
			name:      "import of a file: a share by bytes",
			unit:      "rows",
			s:         progressSample{done: 600, read: 1 << 20, size: 4 << 20},
			wantLine:  "[######..................]  25%  600 rows  300.0 rows/s  ETA 6s",
			wantAttrs: "[campaign c done 600 percent 25 rate 300.0 eta 6s]",
		},
		{
			name:      "import of standard input: no share",
			unit:      "rows",
			s:         progressSample{done: 600},
			wantLine:  "600 rows  300.0 rows/s",
			wantAttrs: "[campaign c done 600 rate 300.0 eta …]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &progressMeter{lastT: t0}
			m.observe(t0.Add(2*time.Second), tt.s.done, time.Second)
			if got := m.line(tt.s, tt.unit); got != tt.wantLine {
				t.Errorf("line\n got %q\nwant %q", got, tt.wantLine)
			}
			if got := fmt.Sprint(m.attrs("c", tt.s)); got != tt.wantAttrs {
				t.Errorf("attrs\n got %s\nwant %s", got, tt.wantAttrs)
			}
		})
	}

	// Nothing done yet: no rate, so no ETA; and a sample within the gap
	// does not move the rate.
	m := &progressMeter{lastT: t0}
	s := progressSample{total: 100}
	m.observe(t0.Add(time.Second), 0, time.Second)
	if eta := m.eta(s); eta != "…" {
		t.Errorf("ETA with nothing done = %q, want …", eta)
	}
	m.observe(t0.Add(1500*time.Millisecond), 50, time.Second)
	if m.rate != 0 {
		t.Errorf("rate %v after a sample within the gap, want 0", m.rate)
	}
}

// send's progress line says when Twilio has not answered for over a
// minute, and why; shorter silences are the log's alone.
func TestSendProgressNote(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	s := send.Stats{Failed: 1, InDoubt: 2, TransportErrors: 40, LastTransportError: "connection refused"}
	if got, want := sendNote(s, now), "(failed 1, skipped 0, in doubt 2)"; got != want {
		t.Errorf("answering: %q; want %q", got, want)
	}
	s.UnreachableSince = now.Add(-30 * time.Second)
	if got := sendNote(s, now); strings.Contains(got, "unreachable") {
		t.Errorf("30 s of silence: %q; want nothing said yet", got)
	}
	s.UnreachableSince = now.Add(-72 * time.Second)
	if got, want := sendNote(s, now), "(failed 1, skipped 0, in doubt 2)  Twilio unreachable for 1m12s: connection refused"; got != want {
		t.Errorf("72 s of silence: %q; want %q", got, want)
	}
	if got := fmt.Sprint(sendAttrs(s, now)); !strings.Contains(got, "transport_errors 40 twilio_unreachable_for 1m12s twilio_error connection refused") {
		t.Errorf("log attrs: %s", got)
	}
}

// The total of send's progress follows the campaign: recipients imported
// during the send raise it, so done never passes it.
func TestSendTotalFollowsImports(t *testing.T) {
	t.Parallel()
	env, _ := cliWorld(t, twiliosim.Options{})
	importCLI(t, env, "grow")
	st, err := store.Open(context.Background(), env["DATABASE_URL"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	c, err := st.CampaignByName(ctx, "grow")
	if err != nil {
		t.Fatal(err)
	}
	total := newSendTotal(st, c.ID)
	total.refresh(ctx, 0)
	if got := total.get(ctx, 0); got != 4 {
		t.Fatalf("total %d; want the 4 pending", got)
	}
	// Three done, then an import adds two: the total is read again.
	path := t.TempDir() + "/more.csv"
	if err := os.WriteFile(path, []byte("phone,name\n+14155550190,Ed\n+14155550191,Flo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runApp(t, env, "import", "grow", path); code != 0 {
		t.Fatal(errOut)
	}
	if got := total.get(ctx, 5); got != 5 {
		t.Errorf("between reads, done 5: total %d; want done, never less", got)
	}
	total.readAt = time.Time{} // as after sendTotalEvery
	if got := total.get(ctx, 3); got != 9 {
		t.Errorf("after the import: total %d; want 3 done + 6 pending", got)
	}
}
