package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// commandArgs are positional arguments each command accepts, so that its
// flags are what a check is about. A command missing here fails the test.
var commandArgs = map[string][]string{
	"demo": nil, "import": {"spring", "list.csv"}, "send": {"spring"}, "status": {"spring"},
	"pause": {"spring"}, "cancel": {"spring"}, "retry": {"spring"}, "report": {"spring"},
	"set": {"spring", "--geomatch"}, "resolve": {"spring"}, "senders": {"set", "+14155550100"},
	"serve": nil, "db": {"url"}, "sim": nil, "version": nil, "preview": {"spring"}, "optouts": nil,
	"prune": {"--older-than", "90d"},
}

// badValues are, per kind of flag, values no flag of that kind should
// take: negative, zero, absurdly large or small, not a number at all.
var badValues = map[string][]string{
	"int":      {"-1", "0", "99999999999", "99999999999999999999", "1e3", "NaN"},
	"float":    {"-1", "0", "NaN", "Inf", "+Inf", "-Inf", "1e308", "1e-300", "0x1p-1074", "ten"},
	"duration": {"-1s", "-1ns", "0s", "1000000h", "5", "NaN"},
}

// goodExceptions are (flag, value) pairs that are meaningful after all,
// each with why. Everything else in badValues must be a usage error.
var goodExceptions = map[string]string{
	"callback-retries=-1":     "negative means no retries",
	"callback-retries=0":      "0 means the default, 3",
	"seed=-1":                 "any seed replays a run",
	"seed=0":                  "any seed replays a run",
	"seed=99999999999":        "any seed replays a run",
	"max-concurrency=0":       "0 means unlimited",
	"sender-mps=0":            "0 means unlimited",
	"queue-seconds=0":         "0 means the default, 36000",
	"queue-seconds=1e-300":    "a queue that holds nothing: every create overflows (a fault to simulate)",
	"queue-seconds=0x1p-1074": "a queue that holds nothing: every create overflows (a fault to simulate)",
	"safety-window=0s":        "0 means none at all, for the simulator",
	"rows=0":                  "preview without samples: only the totals",
	"latency=0s":              "no added latency",
	"jitter=0s":               "no jitter",
	"deliver-after=0s":        "delivered at once",
	"list-lag=0s":             "a list without lag",
	"metrics-cache=0s":        "read the database on every scrape",
	"budget=0":                "0 means no budget",
	"budget-segments=0":       "0 means no budget",
	"daily-cap=0":             "0 means no daily cap",
}

// fractionFlags take a probability: a tiny one is a fraction all the same.
var fractionFlags = map[string]bool{"fail-5xx": true, "fail-429": true, "lose-response": true, "undelivered": true, "reorder": true}

// checkApp runs one command line up to and including its checks only
// (checkOnly): nothing is opened, listened on or connected to.
func checkApp(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/unreachable"}
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] }, checkOnly: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return code, stdout.String(), stderr.String()
}

// commandFlagSet returns c's flags, as its run function defines them.
func commandFlagSet(t *testing.T, c *command) *flagSet {
	t.Helper()
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	fs := a.flags(c)
	if err := c.run(context.Background(), a, fs, []string{"-h"}); err != errHelp {
		t.Fatalf("%s -h: %v", c.name, err)
	}
	return fs
}

// flagKind is "int", "float" or "duration" for the numeric flags, "" else.
func flagKind(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case int, int64, uint, uint64:
		return "int"
	case float64:
		return "float"
	case time.Duration:
		return "duration"
	}
	return ""
}

// TestFlagBadValues gives every numeric and duration flag of every command
// in the command table each bad value of its kind: each must be a usage
// error (exit 2) on one line naming the flag, found by the command's
// checks, before the database or anything else is touched. The table is
// built from the flag sets, so a new flag is tested as soon as it exists.
func TestFlagBadValues(t *testing.T) {
	t.Parallel()
	tested := 0
	for _, c := range allCommands() {
		pos, ok := commandArgs[c.name]
		if !ok {
			t.Errorf("command %s: add its positional arguments to commandArgs", c.name)
			continue
		}
		base := append([]string{c.name}, pos...)
		// The command line without a bad value passes its checks: what
		// follows fails because of the value and nothing else.
		if code, _, errOut := checkApp(t, base...); code != 0 {
			t.Errorf("smsblast %s: exit %d, %q; want its checks to pass", strings.Join(base, " "), code, errOut)
			continue
		}
		commandFlagSet(t, c).VisitAll(func(f *flag.Flag) {
			kind := flagKind(f)
			for _, v := range badValues[kind] {
				if _, ok := goodExceptions[f.Name+"="+v]; ok {
					continue
				}
				if fractionFlags[f.Name] && (v == "0" || v == "1e-300" || v == "0x1p-1074") {
					continue
				}
				tested++
				args := append(append([]string{}, base...), "--"+f.Name, v)
				code, out, errOut := checkApp(t, args...)
				if code != 2 || out != "" || !strings.Contains(errOut, "--"+f.Name) || strings.Count(errOut, "\n") != 1 {
					t.Errorf("smsblast %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming --%s",
						strings.Join(args, " "), code, out, errOut, f.Name)
				}
			}
		})
	}
	t.Logf("%d bad values of numeric and duration flags tested", tested)
	if tested < 100 {
		t.Errorf("only %d bad values tested: are the flag sets empty?", tested)
	}
	// Every exception still names a flag that exists.
	names := map[string]bool{}
	for _, c := range allCommands() {
		commandFlagSet(t, c).VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	}
	for k := range goodExceptions {
		if name, _, _ := strings.Cut(k, "="); !names[name] {
			t.Errorf("goodExceptions names --%s, which no command has", name)
		}
	}
}

// The checks of values that are not numbers: each a usage error naming
// what to fix, before anything is opened.
func TestFlagBadStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", "", "f.csv"}, "invalid campaign name: it is empty"},
		{[]string{"import", "   ", "f.csv"}, "is only white space"},
		{[]string{"import", long, "f.csv"}, "is 102400 characters long; the limit is 100"},
		{[]string{"import", "red\x1b[31m", "f.csv"}, "U+001B"},
		{[]string{"import", "two\nlines", "f.csv"}, "U+000A"},
		{[]string{"import", "c", ""}, "FILE.csv is empty"},
		{[]string{"import", "c", "f.csv", "--from", "+999999999999999"}, "--from: phone \"+999999999999999\" has no known country code"},
		{[]string{"import", "c", "f.csv", "--from", "4155550100"}, "--from: \"4155550100\" is not an E.164 number"},
		{[]string{"import", "c", "f.csv", "--from", "+15005550006", "--messaging-service", "MG" + strings.Repeat("a", 32)}, "--from: give a sender number or a Messaging Service, not both"},
		{[]string{"import", "c", "f.csv", "--messaging-service", "MGbad"}, "--messaging-service"},
		{[]string{"import", "c", "f.csv", "--body", `{{template "body"}}`}, "--body: parse body template: body template refused: template \"body\" calls itself"},
		{[]string{"import", "c", "f.csv", "--body", "{{.x"}, "--body: parse body template"},
		{[]string{"import", "c", "f.csv", "--body", long}, "--body: is 102400 bytes long; the limit is 10000"},
		{[]string{"import", "c", "f.csv", "--status-callback", "ftp://x"}, "--status-callback"},
		{[]string{"import", "c", "f.csv", "--default-region", "Narnia"}, "--default-region"},
		{[]string{"send", "c", "--heartbeat", "20s"}, "--heartbeat 20s: give at most a third of --lease (30s)"},
		{[]string{"send", "c", "--request-timeout", "29s"}, "--request-timeout 29s: give less than --lease (30s)"},
		{[]string{"send", "c", "--metrics-addr", "nope"}, "--metrics-addr"},
		{[]string{"send", "", "--rate", "5"}, "invalid campaign name"},
		{[]string{"status", "\x1b]0;pwned\x07"}, "U+001B"},
		{[]string{"pause", "c", "--reason", "\x1b[2J"}, "--reason"},
		{[]string{"cancel", "c", "--reason", long}, "--reason"},
		{[]string{"retry", "c", "--codes", "99999999999"}, `--codes: "99999999999" is not a Twilio error code`},
		{[]string{"retry", "c", "--codes", "-30003"}, "--codes"},
		{[]string{"retry", "c", "--codes", "123"}, "--codes"},
		{[]string{"retry", "c", "--codes", "30003,abc"}, "--codes"},
		{[]string{"report", "c", "--format", "xml"}, "--format"},
		{[]string{"report", "c", "--status", "bogus"}, "--status"},
		{[]string{"report", "c", "--output", "/"}, "--output / is a directory"},
		{[]string{"report", "c", "--output", "/nonexistent-dir/r.csv"}, "the directory /nonexistent-dir does not exist"},
		{[]string{"serve", "--addr", "8080"}, "--addr"},
		{[]string{"serve", "--public-url", "ftp://x"}, "--public-url"},
		{[]string{"sim", "--fail-5xx", "2"}, "--fail-5xx: 2 is not a fraction from 0 to 1"},
		{[]string{"sim", "--account-sid", "bad"}, "--account-sid"},
		{[]string{"sim", "--fail", "+14155550100=21211"}, "--fail"},
		{[]string{"sim", "--addr", "nope"}, "--addr"},
		{[]string{"db", "drop"}, "db: unknown subcommand"},
		{[]string{"db", "sql", "  "}, "the SQL is empty"},
		{[]string{"send", "c", "--log-level", "loud"}, "--log-level"},
		{[]string{"set", "c"}, "give at least one setting"},
		{[]string{"set", "c", "--price", "NaN"}, "--price"},
		{[]string{"set", "c", "--price", "Inf USD"}, "--price"},
		{[]string{"set", "c", "--budget", "NaN"}, "--budget"},
		{[]string{"set", "c", "--frequency-cap", "0/0s"}, "--frequency-cap"},
		{[]string{"set", "c", "--send-window", "25:00-26:00"}, "--send-window"},
		{[]string{"set", "c", "--tz", "Mars/Olympus"}, "--tz"},
		{[]string{"set", "c", "--start-at", "tomorrow"}, "--start-at"},
		{[]string{"set", "c", "--from", "+999999999999999"}, "--from: phone \"+999999999999999\" has no known country code"},
		{[]string{"set", "c", "--validity", "1500ms"}, "--validity"},
		{[]string{"senders", "set", "+14155550100", "--cap-reset-tz", "Mars/Olympus"}, "--cap-reset-tz"},
		{[]string{"senders", "set", "+14155550100", "--kind", "pigeon"}, "--kind"},
		{[]string{"senders", "rm", "+14155550100", "--mps", "5"}, "--mps is for"},
		{[]string{"senders", "set", "hello"}, "neither an E.164 number"},
		{[]string{"resolve", "c", "--sent", "--not-sent", "--all"}, "choose one"},
		{[]string{"resolve", "c", "--sent", "415-555-01xx"}, "PHONE"},
	}
	for _, tt := range tests {
		code, out, errOut := checkApp(t, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 || len(errOut) > 400 {
			t.Errorf("smsblast %.60q: exit %d, stdout %q, stderr %.300q; want exit 2 and one short line containing %q",
				tt.args, code, out, errOut, tt.want)
		}
		if strings.ContainsRune(errOut, 0x1b) {
			t.Errorf("smsblast %.60q: an escape character reached the terminal: %q", tt.args, errOut)
		}
	}
}

// FuzzFlags runs arbitrary command lines through every command's parsing
// and checks (checkOnly: nothing is opened or connected to): each ends in
// success or a usage error of one line, printed escaped; never a panic, and
// never anything else. Arguments are separated by newlines in the input.
func FuzzFlags(f *testing.F) {
	for _, s := range []string{
		"send\nspring\n--rate\nNaN", "send\nspring\n--heartbeat\n-1s", "import\n\nf.csv", "import\nc\nf.csv\n--body\n{{template \"body\"}}",
		"retry\nc\n--codes\n99999999999", "sim\n--fail-5xx\n2", "report\nc\n--output\n/", "status\n\x1b[31m",
		"db\nsql\n", "serve\n--addr\n:8080\n--metrics-cache\n-1s", "demo\n--rate\n1e308", "import\nc\nf.csv\n--from\n+999999999999999",
		"send\n--\n-x", "help\nsend", "version\n--json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\n")
		code, out, errOut := checkApp(t, args...)
		switch code {
		case 0:
		case 2:
			if strings.Count(errOut, "\n") != 1 && !strings.Contains(errOut, "Usage: smsblast COMMAND") {
				t.Fatalf("smsblast %q: exit 2 with %q; want one line", args, errOut)
			}
		default:
			t.Fatalf("smsblast %q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if strings.ContainsRune(errOut, 0x1b) {
			t.Fatalf("smsblast %q: an escape character reached the terminal: %q", args, errOut)
		}
	})
}
