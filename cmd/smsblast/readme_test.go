package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's generated sections: the flag reference and the SQL cookbook")

const (
	readmePath  = "../../README.md"
	composePath = "../../compose.yaml"
)

// cliFlag is one flag as `smsblast CMD -h` shows it.
type cliFlag struct {
	name  string
	arg   string // "" for a boolean flag
	usage string
}

// usageFlagLine is a line of printFlags: "  --name [ARG]  usage".
var usageFlagLine = regexp.MustCompile(`^  --(\S+)(?: (\S+))?\s{2,}(.*)$`)

// commandFlags returns a command's flags, own and common, by asking the
// command for its usage exactly as a user does (-h): the flag sets live in
// the commands' run functions, and -h is answered before anything runs.
func commandFlags(t *testing.T, name string) (own, common []cliFlag) {
	t.Helper()
	code, out, errOut := runApp(t, map[string]string{"DATABASE_URL": "postgres://unused/x"}, name, "-h")
	if code != 0 {
		t.Fatalf("smsblast %s -h: exit %d: %s", name, code, errOut)
	}
	section := ""
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case line == "Flags:":
			section = "own"
			continue
		case line == "Common flags:":
			section = "common"
			continue
		case line == "":
			section = ""
			continue
		}
		m := usageFlagLine.FindStringSubmatch(line)
		if section == "" || m == nil {
			continue
		}
		f := cliFlag{name: m[1], arg: m[2], usage: m[3]}
		if section == "own" {
			own = append(own, f)
		} else {
			common = append(common, f)
		}
	}
	return own, common
}

// flagReference renders the README's flag reference from every command's
// flag set, in the command table's order.
func flagReference(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	commonSeen := map[string]cliFlag{}
	usedBy := map[string][]string{}
	all := allCommands()
	for _, c := range all {
		name := c.name
		own, common := commandFlags(t, name)
		for _, f := range common {
			commonSeen[f.name] = f
			usedBy[f.name] = append(usedBy[f.name], name)
		}
		fmt.Fprintf(&b, "#### `smsblast %s`\n\n%s.\n\n", strings.TrimSpace(name+" "+c.args), c.summary)
		if len(own) == 0 {
			b.WriteString("No flags of its own.\n\n")
			continue
		}
		b.WriteString("| flag | meaning |\n|---|---|\n")
		for _, f := range own {
			fmt.Fprintf(&b, "| `--%s` | %s |\n", cell(strings.TrimSpace(f.name+" "+f.arg)), cell(f.usage))
		}
		b.WriteString("\n")
	}
	b.WriteString("#### Common flags\n\n| flag | meaning | commands |\n|---|---|---|\n")
	names := make([]string, 0, len(commonSeen))
	for n := range commonSeen {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := commonSeen[n]
		which := "all"
		if len(usedBy[n]) < len(all) {
			which = strings.Join(usedBy[n], ", ")
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s |\n", cell(strings.TrimSpace(f.name+" "+f.arg)), cell(f.usage), which)
	}
	return b.String()
}

// cookbookReference renders the README's SQL cookbook from
// testdata/cookbook: the files cookbook_test.go runs against a real send.
func cookbookReference(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cookbookDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cookbook queries in %s: %v", cookbookDir, err)
	}
	var b strings.Builder
	for i, f := range files {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[`testdata/cookbook/%s`](testdata/cookbook/%s):\n\n```sql\n%s\n```\n",
			filepath.Base(f), filepath.Base(f), strings.TrimSpace(string(sql)))
	}
	return b.String()
}

// generatedSections are the parts of the README a test writes from code.
var generatedSections = []struct {
	begin, end string
	render     func(*testing.T) string
}{
	{"<!-- flags:begin -->", "<!-- flags:end -->", flagReference},
	{"<!-- cookbook:begin -->", "<!-- cookbook:end -->", cookbookReference},
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEGenerated keeps the README's flag reference equal to what the
// commands define and its SQL cookbook equal to testdata/cookbook. Run with
// -update-readme to regenerate both.
func TestREADMEGenerated(t *testing.T) {
	readme := readREADME(t)
	for _, sec := range generatedSections {
		before, rest, ok1 := strings.Cut(readme, sec.begin+"\n")
		got, after, ok2 := strings.Cut(rest, sec.end)
		if !ok1 || !ok2 {
			t.Fatalf("README.md lacks the %s … %s markers", sec.begin, sec.end)
		}
		want := sec.render(t)
		if got != want {
			if *updateREADME {
				readme = before + sec.begin + "\n" + want + sec.end + after
				continue
			}
			t.Errorf("README.md between %s and %s is out of date: run go test ./cmd/smsblast -run TestREADMEGenerated -update-readme\n--- README\n%s\n--- generated\n%s",
				sec.begin, sec.end, got, want)
		}
	}
	if *updateREADME {
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestREADMEEnvironment checks that every environment variable the code
// reads is in the README's environment table.
func TestREADMEEnvironment(t *testing.T) {
	t.Parallel()
	readme := readREADME(t)
	_, env, _ := strings.Cut(readme, "### Environment")
	env, _, _ = strings.Cut(env, "###")
	getenv := regexp.MustCompile(`[gG]etenv\("([A-Z_]+)"\)`)
	// PATH and HOME are the system's; HOME is named in SMSBLAST_HOME's default.
	ignore := map[string]bool{"PATH": true, "HOME": true}
	var files []string
	for _, dir := range []string{".", "../../store", "../../store/pgserver", "../../twilio", "../../campaign"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range getenv.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
	}
	seen["TEST_DATABASE_URL"] = true // pgtest.EnvURL
	if !seen["DATABASE_URL"] || !seen["TWILIO_AUTH_TOKEN"] {
		t.Fatalf("found only %v: the scan of the sources is broken", seen)
	}
	for v := range seen {
		if !ignore[v] && !strings.Contains(env, "`"+v+"`") {
			t.Errorf("the code reads $%s but the README's environment table does not name it", v)
		}
	}
}

// shellWords splits a line of sh the simple way the README needs: quotes
// group, a # outside quotes starts a comment, and operators (| > < ; &&)
// are words of their own.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			flush()
			return words
		case r == ' ' || r == '\t':
			flush()
		case strings.ContainsRune("|<>;&", r):
			flush()
			words = append(words, string(r))
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return words
}

// readmeCommands returns the command lines of the README's ```sh blocks,
// with continuation lines joined.
func readmeCommands(readme string) []string {
	var lines []string
	inSh := false
	pending := ""
	for line := range strings.SplitSeq(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		case !inSh:
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			pending += l + " "
			continue
		}
		lines = append(lines, pending+line)
		pending = ""
	}
	return lines
}

// smsblastInvocations finds every `smsblast …` in a command line, including
// those inside $(…), and returns each one's words after "smsblast".
func smsblastInvocations(line string) [][]string {
	var out [][]string
	sub := regexp.MustCompile(`\$\((smsblast[^)]*)\)`)
	for _, m := range sub.FindAllStringSubmatch(line, -1) {
		out = append(out, shellWords(m[1])[1:])
	}
	line = sub.ReplaceAllString(line, "SUBST")
	words := shellWords(line)
	for i, w := range words {
		if w != "smsblast" && !strings.HasSuffix(w, "/smsblast") {
			continue
		}
		var args []string
		for _, a := range words[i+1:] {
			if len(a) == 1 && strings.Contains("|<>;&", a) {
				break
			}
			args = append(args, a)
		}
		out = append(out, args)
	}
	return out
}

// TestREADMECommands parses every smsblast command line of the README's sh
// blocks against the command's flags, without running it: the command must
// exist and every flag must be one it defines, with a value when it takes
// one. `make` lines must name targets of the Makefile.
func TestREADMECommands(t *testing.T) {
	t.Parallel()
	readme := readREADME(t)
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	flagsOf := map[string]map[string]cliFlag{}
	checked := 0
	for _, line := range readmeCommands(readme) {
		if words := shellWords(line); len(words) >= 2 && words[0] == "make" {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(words[1]) + `:`).Match(makefile) {
				t.Errorf("README: %q: the Makefile has no target %q", line, words[1])
			}
			checked++
		}
		for _, args := range smsblastInvocations(line) {
			checked++
			if len(args) == 0 {
				t.Errorf("README: %q: smsblast without a command", line)
				continue
			}
			name := args[0]
			if name == "help" { // answered by run itself, not a command of the table
				if len(args) > 1 && lookupCommand(args[1]) == nil {
					t.Errorf("README: %q: no command %q", line, args[1])
				}
				continue
			}
			if lookupCommand(name) == nil {
				t.Errorf("README: %q: no command %q", line, name)
				continue
			}
			if flagsOf[name] == nil {
				own, common := commandFlags(t, name)
				flagsOf[name] = map[string]cliFlag{"h": {name: "h"}, "help": {name: "help"}}
				for _, f := range slices.Concat(own, common) {
					flagsOf[name][f.name] = f
				}
			}
			for i := 1; i < len(args); i++ {
				a := args[i]
				if a == "-" || !strings.HasPrefix(a, "-") {
					continue
				}
				fname, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
				f, ok := flagsOf[name][fname]
				if !ok {
					t.Errorf("README: %q: smsblast %s has no flag %s", line, name, a)
					continue
				}
				if f.arg != "" && !hasValue {
					if i+1 >= len(args) {
						t.Errorf("README: %q: %s needs a value", line, a)
					}
					i++
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("checked only %d command lines: the README's sh blocks were not found", checked)
	}
	for _, c := range allCommands() {
		if !strings.Contains(readme, "smsblast "+c.name) {
			t.Errorf("README never shows smsblast %s", c.name)
		}
	}
}

// TestREADMECompose checks the README's DATABASE_URL for compose.yaml
// against the file: user, password, database and published port.
func TestREADMECompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	compose := string(b)
	value := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(compose)
		if m == nil {
			t.Fatalf("compose.yaml: no match for %s", re)
		}
		return m[1]
	}
	user := value(`POSTGRES_USER: (\S+)`)
	password := value(`POSTGRES_PASSWORD: (\S+)`)
	db := value(`POSTGRES_DB: (\S+)`)
	port := value(`"127\.0\.0\.1:(\d+):5432"`)
	for _, want := range []string{
		"image: postgres:16", "healthcheck:", "pg_isready",
	} {
		if !strings.Contains(compose, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	url := fmt.Sprintf("postgres://%s:%s@localhost:%s/%s?sslmode=disable", user, password, port, db)
	readme := readREADME(t)
	if n := strings.Count(readme, url); n < 2 {
		t.Errorf("README shows %s %d times; want it for DATABASE_URL and TEST_DATABASE_URL", url, n)
	}
	if !strings.Contains(compose, url) {
		t.Errorf("compose.yaml's comment does not give the URL %s", url)
	}
}
