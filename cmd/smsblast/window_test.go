package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// A window open now in New York but closed in Los Angeles and Honolulu,
// whatever the hour: the two hours around New York's present time of day.
func windowOpenInNewYorkOnly(t *testing.T) string {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(ny)
	from, to := now.Add(-time.Hour), now.Add(time.Hour)
	return fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), to.Hour(), to.Minute())
}

// End to end with the real clock: a campaign of New York, Los Angeles and
// Honolulu numbers whose window is open only in New York now texts only the
// New York numbers; status --json holds the others until their windows
// open; send --no-wait exits 0 saying so.
func TestSendWindowByRecipientZoneCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	path := t.TempDir() + "/r.csv"
	csv := "phone,name\n"
	for i := range 5 {
		csv += fmt.Sprintf("+1212555%04d,NY\n+1415555%04d,LA\n+1808555%04d,HI\n", i, i, i)
	}
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	window := windowOpenInNewYorkOnly(t)
	mustRun(t, env, "import", "zones", path, "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", window)
	out := mustRun(t, env, "send", "zones", "--no-wait", "--safety-window", "0")
	if !strings.Contains(out, "all that is left is held") || !strings.Contains(out, "outside send window") {
		t.Errorf("send --no-wait:\n%s", out)
	}
	msgs := sim.Messages()
	for _, m := range msgs {
		if !strings.HasPrefix(m.To, "+1212") {
			t.Errorf("%s texted with window %s, open only in New York", m.To, window)
		}
	}
	if len(msgs) != 5 {
		t.Errorf("%d messages, want the 5 New York numbers", len(msgs))
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "zones", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	held := map[string]campaign.Hold{}
	for _, h := range st.Holds {
		if h.Reason == campaign.HoldWindow {
			held[h.Zone] = h
		}
	}
	for _, zone := range []string{"America/Los_Angeles", "Pacific/Honolulu"} {
		h, ok := held[zone]
		if !ok || h.Recipients != 5 || !h.Until.After(time.Now()) {
			t.Errorf("status --json holds %+v; want 5 recipients in %s held until their window opens", st.Holds, zone)
			continue
		}
		loc, _ := time.LoadLocation(zone)
		if got := h.Until.In(loc).Format("15:04"); got != strings.Split(window, "-")[0] {
			t.Errorf("%s reopens at %s local time, want %s", zone, got, strings.Split(window, "-")[0])
		}
	}
	if st.Counts["pending"] != 10 {
		t.Errorf("counts %v, want 10 pending", st.Counts)
	}
}

// --start-at three seconds ahead: nothing is created before it. --stop-at
// in the middle of a send: the rest expire, every message carries a
// ValidityPeriod that ends by the deadline, and none is created after it.
func TestStartAndStopTimesCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	start := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	mustRun(t, env, "import", "later", writeCSV(t, 0, 20), "--from", "+15005550006", "--body", "Hi {{.name}}",
		"--send-window", "any", "--start-at", start.Format(time.RFC3339))
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "later", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Holds) != 1 || st.Holds[0].Reason != campaign.HoldStart || !st.Holds[0].Until.Equal(start) {
		t.Errorf("before its start, status --json holds %+v", st.Holds)
	}
	if out := mustRun(t, env, "send", "later", "--no-wait"); !strings.Contains(out, "before start") {
		t.Errorf("send --no-wait before the start:\n%s", out)
	}
	if n := len(sim.Messages()); n != 0 {
		t.Fatalf("%d messages before the start", n)
	}
	mustRun(t, env, "send", "later", "--safety-window", "0") // waits for the start, then sends
	for _, m := range sim.Messages() {
		if m.DateCreated.Before(start) {
			t.Errorf("message to %s created at %s, before the start %s", m.To, m.DateCreated.Format(time.StampMilli), start.Format(time.StampMilli))
		}
	}
	if n := len(sim.Messages()); n != 20 {
		t.Errorf("%d messages after the start, want 20", n)
	}

	// 200 recipients at 40/s take 5 s; the stop comes after about 2.
	stop := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	mustRun(t, env, "import", "deadline", writeCSV(t, 1000, 200), "--from", "+15005550006", "--body", "Hi {{.name}}",
		"--send-window", "any", "--rate", "40", "--stop-at", stop.Format(time.RFC3339))
	out := mustRun(t, env, "send", "deadline", "--safety-window", "0")
	if !strings.Contains(out, "completed") {
		t.Errorf("send past the stop time:\n%s", out)
	}
	var sent int
	for _, m := range sim.Messages() {
		if !strings.HasPrefix(m.Body, "Hi") || m.To < "+14155551000" {
			continue
		}
		sent++
		if m.DateCreated.After(stop) {
			t.Errorf("message created at %s, after the stop %s", m.DateCreated.Format(time.StampMilli), stop.Format(time.StampMilli))
		}
		deadline := m.DateCreated.Add(time.Duration(m.ValidityPeriod) * time.Second)
		if m.ValidityPeriod == 0 || deadline.After(stop.Add(time.Second)) {
			t.Errorf("message created at %s with ValidityPeriod %d s outlives the stop %s",
				m.DateCreated.Format(time.StampMilli), m.ValidityPeriod, stop.Format(time.StampMilli))
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "deadline", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if sent == 0 || sent == 200 || st.Counts["expired"] != int64(200-sent) {
		t.Errorf("%d sent before the stop; status counts %v: want the rest expired", sent, st.Counts)
	}
}
