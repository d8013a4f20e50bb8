package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// A budget of 50 segments on 100 one-segment recipients, sent by three
// processes at once: exactly 50 segments reach Twilio, the campaign is
// paused with the reason; raising the budget and sending again finishes it.
func TestBudgetAcrossProcessesCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	mustRun(t, env, "import", "budget", writeCSV(t, 0, 100), "--from", "+15005550006", "--body", "Hi {{.name}}",
		"--send-window", "any", "--budget-segments", "50", "--rate", "200")
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { runApp(t, env, "send", "budget", "--safety-window", "0") })
	}
	wg.Wait()
	if n := len(sim.Messages()); n != 50 {
		t.Errorf("three processes sent %d one-segment messages on a budget of 50 segments", n)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "status", "budget", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "paused" || !strings.Contains(st.StatusReason, "budget reached: 50 segments") || st.Counts["pending"] != 50 {
		t.Errorf("status after the budget: %s (%s), counts %v", st.Status, st.StatusReason, st.Counts)
	}
	mustRun(t, env, "set", "budget", "--budget-segments", "100")
	if out := mustRun(t, env, "send", "budget", "--safety-window", "0"); !strings.Contains(out, "completed") {
		t.Errorf("send after raising the budget:\n%s", out)
	}
	if n := len(sim.Messages()); n != 100 {
		t.Errorf("%d messages after raising the budget to 100, want 100", n)
	}
}

// A budget in money: 30 messages of 2 segments at 0.01 USD each fit a
// budget of 0.50 USD 25 times over; the campaign stops at 0.50.
func TestBudgetInMoneyCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	long := strings.Repeat("x", 200) // two segments
	if code, _, errOut := runApp(t, env, "import", "money", writeCSV(t, 0, 30), "--from", "+15005550006", "--body", long,
		"--send-window", "any", "--budget", "0.5"); code != 2 || !strings.Contains(errOut, "--price") {
		t.Fatalf("a budget in money without prices: exit %d, %s", code, errOut)
	}
	mustRun(t, env, "import", "money", writeCSV(t, 0, 30), "--from", "+15005550006", "--body", long,
		"--send-window", "any", "--budget", "0.5", "--price", "0.01USD")
	out := mustRun(t, env, "send", "money", "--safety-window", "0")
	if !strings.Contains(out, "budget reached: 0.50 USD") {
		t.Errorf("send on a budget in money:\n%s", out)
	}
	if n := len(sim.Messages()); n != 25 {
		t.Errorf("%d two-segment messages at 0.01 per segment on a budget of 0.50, want 25", n)
	}
}

// Two campaigns sent at once, each with --frequency-cap 1/24h, to the same
// 500 people: each person is texted once; the other campaign skips them
// with reason frequency_capped.
func TestFrequencyCapAcrossCampaignsCLI(t *testing.T) {
	t.Parallel()
	env, sim := cliWorld(t, twiliosim.Options{})
	csv := writeCSV(t, 0, 500)
	for _, name := range []string{"monday", "tuesday"} {
		mustRun(t, env, "import", name, csv, "--from", "+15005550006", "--body", name+" {{.name}}",
			"--send-window", "any", "--frequency-cap", "1/24h", "--rate", "500")
	}
	var wg sync.WaitGroup
	for _, name := range []string{"monday", "tuesday"} {
		wg.Go(func() { mustRun(t, env, "send", name, "--safety-window", "0") })
	}
	wg.Wait()
	perPhone := map[string]int{}
	for _, m := range sim.Messages() {
		perPhone[m.To]++
	}
	if len(perPhone) != 500 {
		t.Errorf("%d people texted, want 500", len(perPhone))
	}
	for p, n := range perPhone {
		if n != 1 {
			t.Errorf("%s texted %d times within 24 h with a cap of 1/24h", p, n)
		}
	}
	var skipped int64
	for _, name := range []string{"monday", "tuesday"} {
		var st statusJSON
		if err := json.Unmarshal([]byte(mustRun(t, env, "status", name, "--json")), &st); err != nil {
			t.Fatal(err)
		}
		skipped += st.Counts["skipped"]
	}
	if skipped != 500 {
		t.Errorf("%d recipients skipped as frequency-capped across the two campaigns, want 500", skipped)
	}
	out := mustRun(t, env, "report", "tuesday", "--status", "skipped")
	if !strings.Contains(out, "frequency_capped") && skipped > 0 {
		if out2 := mustRun(t, env, "report", "monday", "--status", "skipped"); !strings.Contains(out2, "frequency_capped") {
			t.Errorf("the report does not say why recipients were skipped:\n%s", out)
		}
	}
}
