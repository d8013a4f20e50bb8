package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// writeCSV writes n recipients +1415555NNNN from first, in a temporary file.
func writeCSV(t *testing.T, first, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&b, "+1415555%04d,N%d\n", first+i, i)
	}
	path := t.TempDir() + "/r.csv"
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := runApp(t, env, args...)
	if code != 0 {
		t.Fatalf("smsblast %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// A daily cap of 100 segments on a number two campaigns send from: exactly
// 100 segments go out that day, the rest wait with the reason and the
// time in status --json, and send --no-wait exits 0 saying so.
func TestDailyCapAcrossCampaignsCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	mustRun(t, env, "senders", "set", "+15005550006", "--mps", "500", "--daily-cap", "100")
	mustRun(t, env, "import", "spring", writeCSV(t, 0, 80), "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")
	mustRun(t, env, "import", "fall", writeCSV(t, 5000, 80), "--from", "+15005550006", "--body", "Hi {{.name}}", "--send-window", "any")

	out := mustRun(t, env, "send", "spring", "--no-wait", "--safety-window", "0")
	if !strings.Contains(out, `campaign "spring" completed`) {
		t.Fatalf("spring's 80 segments fit the cap of 100:\n%s", out)
	}
	out = mustRun(t, env, "send", "fall", "--no-wait", "--safety-window", "0")
	for _, want := range []string{`campaign "fall": all that is left is held; not waiting (--no-wait)`, "held: daily cap of +15005550006 reached", "America/Los_Angeles"} {
		if !strings.Contains(out, want) {
			t.Errorf("send --no-wait on the capped sender lacks %q:\n%s", want, out)
		}
	}
	if n := len(sim.Messages()); n != 100 {
		t.Errorf("Twilio has %d messages that day, want exactly the cap of 100", n)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "fall", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Counts["pending"] != 60 || len(st.Holds) != 1 || st.Holds[0].Reason != "daily cap" ||
		st.Holds[0].Recipients != 60 || st.Holds[0].Until.IsZero() || st.Holds[0].Zone != "America/Los_Angeles" {
		t.Errorf("status --json of the held campaign: counts %v, holds %+v", st.Counts, st.Holds)
	}
	out = mustRun(t, env, "senders")
	if !strings.Contains(out, "100 / 100") || !strings.Contains(out, "daily cap of 100 segments reached") {
		t.Errorf("senders does not show the cap used up:\n%s", out)
	}
	// Raising the cap lets the rest go the same day.
	mustRun(t, env, "senders", "set", "+15005550006", "--daily-cap", "1000")
	if out := mustRun(t, env, "send", "fall", "--no-wait", "--safety-window", "0"); !strings.Contains(out, "completed") {
		t.Errorf("after raising the cap:\n%s", out)
	}
	if n := len(sim.Messages()); n != 160 {
		t.Errorf("Twilio has %d messages, want 160", n)
	}
}

// Two campaigns sharing a pool of three numbers: every recipient gets the
// same number in both, and the numbers share the work.
func TestPoolSendersAreStickyAcrossCampaignsCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	pool := "+15005550006,+14155550200,+14155550201"
	csv := writeCSV(t, 0, 300)
	mustRun(t, env, "import", "first", csv, "--from", pool, "--body", "One {{.name}}", "--send-window", "any")
	mustRun(t, env, "import", "second", csv, "--from", pool, "--body", "Two {{.name}}", "--send-window", "any")
	mustRun(t, env, "send", "first", "--safety-window", "0")
	mustRun(t, env, "send", "second", "--safety-window", "0")
	from := map[string]map[string]string{} // body prefix → To → From
	perSender := map[string]int{}
	for _, m := range sim.Messages() {
		word := strings.Fields(m.Body)[0]
		if from[word] == nil {
			from[word] = map[string]string{}
		}
		from[word][m.To] = m.From
		perSender[m.From]++
	}
	if len(from["One"]) != 300 || len(from["Two"]) != 300 {
		t.Fatalf("messages: %d from the first campaign, %d from the second; want 300 each", len(from["One"]), len(from["Two"]))
	}
	for to, f := range from["One"] {
		if from["Two"][to] != f {
			t.Errorf("%s got the first campaign from %s and the second from %s", to, f, from["Two"][to])
		}
	}
	for _, s := range strings.Split(pool, ",") {
		if n := perSender[s]; n < 100 || n > 300 {
			t.Errorf("%s sent %d of 600 messages: the pool is not shared", s, n)
		}
	}
}
