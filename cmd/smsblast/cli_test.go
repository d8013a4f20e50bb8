package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// runApp runs one smsblast command line in-process with the given
// environment, returning the exit code and both streams.
func runApp(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runAppStdin(t, env, "", args...)
}

// runAppStdin is runApp with text on standard input.
func runAppStdin(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{
		stdin:  strings.NewReader(stdin),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string { return env[k] },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := a.run(ctx, args)
	return code, stdout.String(), stderr.String()
}

// TestHelp checks what a newcomer sees first: every command listed once,
// examples, where credentials come from; usage per command with --flags.
func TestHelp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://unused/x"}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errOut := runApp(t, env, args...)
		if code != 0 || errOut != "" {
			t.Fatalf("smsblast %s: exit %d, stderr %q", args[0], code, errOut)
		}
		for _, c := range allCommands() {
			line := "  " + strings.TrimSpace(c.name+" "+c.args) + " "
			if strings.Count(out, line) != 1 {
				t.Errorf("smsblast %s lists %q %d times, want once:\n%s", args[0], line, strings.Count(out, line), out)
			}
		}
		for _, want := range []string{"Examples:", "smsblast demo", "TWILIO_AUTH_TOKEN", "never from flags"} {
			if !strings.Contains(out, want) {
				t.Errorf("smsblast %s lacks %q", args[0], want)
			}
		}
	}
	// No arguments: the same help, on stderr, as a usage error.
	code, out, errOut := runApp(t, env)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage: smsblast COMMAND") {
		t.Errorf("smsblast with no arguments: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, c := range allCommands() {
		name := c.name
		for _, args := range [][]string{{name, "-h"}, {"help", name}} {
			code, out, errOut := runApp(t, env, args...)
			if code != 0 || errOut != "" {
				t.Errorf("smsblast %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
				continue
			}
			for _, want := range []string{"Usage: smsblast " + name, "Common flags:", "  --log-level", "Examples:"} {
				if !strings.Contains(out, want) {
					t.Errorf("smsblast %s lacks %q:\n%s", strings.Join(args, " "), want, out)
				}
			}
			if singleDash.MatchString(out) {
				t.Errorf("smsblast %s shows a single-dash flag:\n%s", strings.Join(args, " "), out)
			}
		}
	}
}

var singleDash = regexp.MustCompile(`\n  -[a-z]`)

// TestTypos checks that mistakes exit 2 with one line naming the fix.
func TestTypos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sned"}, `unknown command "sned" (did you mean "send"?)`},
		{[]string{"stauts"}, `(did you mean "status"?)`},
		{[]string{"improt", "x", "y.csv"}, `(did you mean "import"?)`},
		{[]string{"verison"}, `(did you mean "version"?)`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; run 'smsblast help' for the list`},
		{[]string{"send", "x", "--rat", "5"}, "send: unknown flag --rat (did you mean --rate?)"},
		{[]string{"send", "x", "--concurency", "5"}, "(did you mean --concurrency?)"},
		{[]string{"import", "x", "y.csv", "--form", "+15005550006"}, "(did you mean --from?)"},
		{[]string{"status", "--jsno"}, "(did you mean --json?)"},
		{[]string{"serve", "--adr", ":8080"}, "(did you mean --addr?)"},
		{[]string{"send", "x", "--rate", "fast"}, `send: invalid value "fast" for flag --rate`},
		{[]string{"send"}, "usage: smsblast send CAMPAIGN (see 'smsblast send -h')"},
		{[]string{"version", "extra"}, "usage: smsblast version"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runApp(t, map[string]string{"DATABASE_URL": "postgres://unused/x"}, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", code, out, errOut, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/smsblast/smsblast", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-27T15:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	unstamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"release with VCS", stamped, "smsblast v1.2.3 (commit 0123456789ab, 2026-11-27, modified) go1.26.8 "},
		{"checkout with -buildvcs=false", unstamped, "smsblast devel (commit unknown: built without VCS stamping, e.g. -buildvcs=false) go1.26.8 "},
		{"no build info", nil, "smsblast devel (commit unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := readVersion(func() (*debug.BuildInfo, bool) { return tt.bi, tt.bi != nil })
			if got := v.String(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want prefix %q", got, tt.want)
			}
		})
	}

	// The command itself, as built by go test.
	code, out, errOut := runApp(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "smsblast ") || errOut != "" {
		t.Fatalf("smsblast version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runApp(t, nil, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || v.Go == "" {
		t.Fatalf("smsblast version --json: exit %d, %v: %q", code, err, out)
	}
}
