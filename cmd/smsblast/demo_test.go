package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/store/pgtest"
)

// demoFast runs the demo's story quicker than a person would watch it.
var demoFast = []string{"--rate", "3000", "--concurrency", "60", "--deliver-after", "100ms"}

// TestDemo runs `smsblast demo` twice against one database, as a user
// running `make demo` twice would: both runs tell the whole story and every
// check holds (the demo exits 1 otherwise).
func TestDemo(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t), "SMSBLAST_HOME": t.TempDir()}
	want := []string{
		"1. Import testdata/demo.csv",
		"rows read  2556",
		"^C  (the demo interrupts itself after",
		"interrupted: run 'smsblast send demo-",
		"3. Resume",
		"completed",
		"SELECT … FROM campaign_stats",
		"delivery_rate",
		"21211       Invalid 'To' phone number",
		`psql "$(smsblast db url)"`,
		"All 9 checks held",
	}
	names := map[string]bool{}
	for run := 1; run <= 2; run++ {
		code, out, errOut := runApp(t, env, append([]string{"demo"}, demoFast...)...)
		if code != 0 {
			t.Fatalf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", run, code, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("run %d: stdout lacks %q:\n%s", run, w, out)
			}
		}
		if strings.Contains(out, "✗") {
			t.Errorf("run %d: a check failed:\n%s", run, out)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(out, "smsblast demo: campaign "), "\n")
		if names[name] {
			t.Errorf("run %d reused campaign %q", run, name)
		}
		names[name] = true
	}
}

// TestDemoJSON checks the --json report: only JSON on stdout, every check
// held, and the counts the story promises.
func TestDemoJSON(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.URL(t), "SMSBLAST_HOME": t.TempDir()}
	code, out, errOut := runApp(t, env, append([]string{"demo", "--json"}, demoFast...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var r demoReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out)
	}
	if !r.OK || len(r.Checks) != 9 {
		t.Errorf("ok %v with %d checks, want ok with 9: %+v", r.OK, len(r.Checks), r.Checks)
	}
	if r.Import.Imported != demoImported || r.Import.Duplicates != demoDuplicates || r.Import.Rejected != demoRejected {
		t.Errorf("import %+v", r.Import)
	}
	total := r.Counts["delivered"] + r.Counts["undelivered"] + r.Counts["failed"] + r.Counts["skipped"]
	if r.Counts["total"] != demoImported || total != demoImported {
		t.Errorf("counts %v: want %d recipients, all final", r.Counts, demoImported)
	}
	if r.Simulator.Created != demoImported-5 {
		t.Errorf("the simulator created %d messages, want %d", r.Simulator.Created, demoImported-5)
	}
}

func TestDemoUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"demo", "extra"}, "usage: smsblast demo"},
		{[]string{"demo", "--rate", "0"}, "--rate: 0 is not a rate"},
		{[]string{"demo", "--rat", "5"}, "did you mean --rate?"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runApp(t, map[string]string{"DATABASE_URL": "postgres://unused/x"}, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.wantErr)
			}
		})
	}
}
