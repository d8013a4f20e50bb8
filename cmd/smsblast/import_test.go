package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsblast/smsblast/store/pgtest"
)

func TestImportCLI(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := t.TempDir()
	people := writeFile(t, "people.csv", "Name,Mobile Number\nAnn,(415) 555-0100\nBob,+14155550101\nAnn,415.555.0100\nCarl,555-01\n")
	noPhone := writeFile(t, "nophone.csv", "name,email\nAnn,a@example.com\n")
	empty := writeFile(t, "empty.csv", "")
	messy, err := filepath.Abs("../../testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}

	// Steps run in order: each builds on the campaign the last one left.
	steps := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
	}{
		{name: "first import needs a sender", args: []string{"import", "spring", people, "--body", "Hi {{.name}}"},
			code: 2, stderr: []string{"--from: campaign \"spring\" does not exist yet"}},
		{name: "template reads a missing column", args: []string{"import", "spring", people, "--from", "+15005550006", "--body", "Hi {{.first_name}}"},
			code: 2, stderr: []string{"reads .first_name", "columns: name"}},
		{name: "missing file", args: []string{"import", "spring", filepath.Join(dir, "nope.csv"), "--from", "+15005550006", "--body", "Hi"},
			code: 1, stderr: []string{"open " + filepath.Join(dir, "nope.csv") + ": no such file or directory"}},
		{name: "wrong arguments", args: []string{"import", "spring"}, code: 2, stderr: []string{"usage: smsblast import CAMPAIGN FILE.csv"}},
		{name: "unknown flag", args: []string{"import", "spring", people, "--boddy", "x"}, code: 2, stderr: []string{"did you mean --body?"}},
		{name: "creates and imports", args: []string{"import", "spring", people, "--from", "+15005550006", "--body", "Hi {{.name}}"},
			code: 0, stdout: []string{`into new campaign "spring"`, "rows read 4", "imported 2", "duplicates 1", "rejected 1",
				"invalid phone 1", `line 5: phone "555-01" is not a valid US number`, "1: 2"}},
		{name: "re-import adds nothing", args: []string{"import", "spring", people, "--json"},
			code: 0, stdout: []string{`"imported": 0`, `"duplicates": 3`, `"rejected": 1`, `"created": false`}},
		{name: "conflicting setting", args: []string{"import", "spring", people, "--body", "Bye"},
			code: 2, stderr: []string{`--body: campaign "spring" already has "Hi {{.name}}"`}},
		{name: "same settings are fine", args: []string{"import", "spring", people, "--from", "+15005550006", "--body", "Hi {{.name}}"},
			code: 0, stdout: []string{"imported 0"}},
		{name: "no phone column", args: []string{"import", "spring", noPhone}, code: 2,
			stderr: []string{`headers found: "name", "email"`, "--phone-column"}},
		{name: "empty file", args: []string{"import", "spring", empty}, code: 1, stderr: []string{"no header row"}},
		{name: "stdin", stdin: "phone,name\n+13035550123,Hal\n", args: []string{"import", "spring", "-"},
			code: 0, stdout: []string{"imported stdin", "imported 1"}},
		{name: "messy file into a second campaign", args: []string{"import", "other", messy, "--messaging-service", "MG" + strings.Repeat("a", 32),
			"--body", "{{.first_name}} 🎉", "--default-region", "us", "--rate", "2"},
			code: 0, stdout: []string{"imported 4", "duplicates 3", "rejected 3", "need UCS-2"}},
	}
	for _, s := range steps {
		code, stdout, stderr := runAppStdin(t, map[string]string{"DATABASE_URL": db}, s.stdin, s.args...)
		if code != s.code {
			t.Errorf("%s: exit %d; want %d\nstdout: %s\nstderr: %s", s.name, code, s.code, stdout, stderr)
			continue
		}
		flat := strings.Join(strings.Fields(stdout), " ") // the table's alignment aside
		for _, want := range s.stdout {
			if !strings.Contains(flat, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, want, stdout)
			}
		}
		for _, want := range s.stderr {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, want, stderr)
			}
		}
		if s.code != 0 && strings.Count(stderr, "smsblast: ") != 1 {
			t.Errorf("%s: the error is not printed exactly once:\n%s", s.name, stderr)
		}
	}

	// --json is one JSON document with the counts scripts read.
	code, stdout, _ := runAppStdin(t, map[string]string{"DATABASE_URL": db}, "", "import", "spring", people, "--json")
	var out struct {
		RowsRead, Imported, Duplicates, Rejected int
		RejectedBy                               map[string]int `json:"rejected_by"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); code != 0 || err != nil || out.RowsRead != 0 && out.RejectedBy["invalid_phone"] != 1 {
		t.Errorf("--json: exit %d, %v, %+v:\n%s", code, err, out, stdout)
	}
}
