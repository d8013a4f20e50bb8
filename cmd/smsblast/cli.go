package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/store/pgserver"
	"github.com/smsblast/smsblast/twilio"
)

// errHelp is returned when the user asked for -h: usage was printed, exit 0.
var errHelp = errors.New("help requested")

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef reports a usage mistake; name the flag or argument and the fix.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// settingUsage turns a campaign setting the domain refused into a usage
// error naming the flag (campaign names settings in lower snake case, the
// flags are the same words with dashes); nil for any other error.
func settingUsage(err error) error {
	var se *campaign.SettingError
	if !errors.As(err, &se) {
		return nil
	}
	return usagef("--%s: %s", strings.ReplaceAll(se.Setting, "_", "-"), se.Problem)
}

// flagSet is a command's flags plus the options every command shares.
type flagSet struct {
	*flag.FlagSet
	cmd       *command
	logFormat string
	logLevel  string
	db        *string
	// validate, set by the command before it calls parse, checks every
	// flag and positional argument at once, before anything is opened,
	// read or written: the command's one place for usage errors.
	validate func(pos []string) error
}

// flags starts a command's flag set with the shared logging flags.
func (a *app) flags(c *command) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(c.name, flag.ContinueOnError), cmd: c}
	fs.SetOutput(io.Discard) // errors are reported once, by exitCode
	fs.StringVar(&fs.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&fs.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return fs
}

// dbFlag adds --db to a command that uses the database.
func (fs *flagSet) dbFlag() {
	fs.db = fs.String("db", "", "PostgreSQL connection string (default $DATABASE_URL, else the embedded server)")
}

// parse parses args, allowing flags before, between and after positional
// arguments (`smsblast import NAME file.csv --from …`), and sets up logging.
// It checks the number of positional arguments against min and max (-1: any).
func (a *app) parse(fs *flagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.printUsage(a.stdout, fs.cmd, fs.FlagSet)
				return nil, errHelp
			}
			return nil, a.flagError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// flag stops at "--": everything after it is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if err := a.setupLog(fs); err != nil {
		return nil, err
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usagef("usage: smsblast %s %s (see 'smsblast %s -h')", fs.cmd.name, fs.cmd.args, fs.cmd.name)
	}
	if fs.validate != nil {
		if err := fs.validate(pos); err != nil {
			return nil, err
		}
	}
	if a.checkOnly {
		return nil, errChecked
	}
	return pos, nil
}

// flagError rewrites the flag package's message, suggesting the nearest flag.
func (a *app) flagError(fs *flagSet, err error) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if name, ok := strings.CutPrefix(msg, undefined); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = fmt.Sprintf("%s: unknown flag --%s", fs.cmd.name, campaign.Printable(name))
		if s := nearest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
		return usagef("%s", msg)
	}
	// The flag package names flags with one dash; users type two.
	msg = strings.ReplaceAll(msg, "for flag -", "for flag --")
	return usagef("%s: %s", fs.cmd.name, msg)
}

func (a *app) setupLog(fs *flagSet) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(fs.logLevel)); err != nil {
		return usagef("--log-level: %q is not one of debug, info, warn, error", fs.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch fs.logFormat {
	case "text":
		a.log = slog.New(slog.NewTextHandler(a.stderr, opts))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(a.stderr, opts))
	default:
		return usagef("--log-format: %q is not text or json", fs.logFormat)
	}
	return nil
}

// databaseURL resolves the database: --db, then $DATABASE_URL, then the
// embedded server (started if needed).
func (a *app) databaseURL(ctx context.Context, fs *flagSet) (string, error) {
	if fs.db != nil && *fs.db != "" {
		return *fs.db, nil
	}
	if u := a.getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	e, err := a.embedded()
	if err != nil {
		return "", err
	}
	return e.Start(ctx)
}

// embedded describes the embedded server under $SMSBLAST_HOME.
func (a *app) embedded() (*pgserver.Embedded, error) {
	home, err := pgserver.DefaultHome(a.getenv)
	if err != nil {
		return nil, err
	}
	return &pgserver.Embedded{Home: home, Logger: a.log}, nil
}

// openStore opens and migrates the database the command should use.
func (a *app) openStore(ctx context.Context, fs *flagSet) (*store.Store, error) {
	url, err := a.databaseURL(ctx, fs)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, url, a.storeOptions())
}

// subcommand is the first positional argument of a command with
// subcommands (optouts, senders); "" when there is none.
func subcommand(pos []string) string {
	if len(pos) > 0 {
		return pos[0]
	}
	return ""
}

// parseCampaign parses a command that takes one campaign and nothing else,
// then opens the database and reads that campaign. The caller closes the
// store.
func (a *app) parseCampaign(ctx context.Context, fs *flagSet, args []string) (*store.Store, *campaign.Campaign, error) {
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return nil, nil, err
	}
	return a.openCampaign(ctx, fs, pos[0])
}

// openCampaign opens the database and reads the named campaign: what
// every command about one campaign does first. The caller closes the store.
func (a *app) openCampaign(ctx context.Context, fs *flagSet, name string) (*store.Store, *campaign.Campaign, error) {
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return nil, nil, err
	}
	c, err := st.CampaignByName(ctx, name)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, c, nil
}

// storeOptions are the options every command opens the database with: its
// logger, and the Twilio error table to keep twilio_errors in step with.
func (a *app) storeOptions() store.Options {
	return store.Options{Logger: a.log, ErrorCodes: errorCodes()}
}

// errorCodes is the Twilio client's error table in twilio_errors' shape.
func errorCodes() []store.ErrorCode {
	var out []store.ErrorCode
	for _, c := range twilio.Codes() {
		out = append(out, store.ErrorCode{Code: c.Code, HTTPStatus: c.HTTPStatus, Description: c.Description, Class: c.TableClass(), Retryable: c.Retryable})
	}
	return out
}

// commandNames lists the commands' names, for suggestions.
func commandNames() []string {
	var names []string
	for _, c := range allCommands() {
		names = append(names, c.name)
	}
	sort.Strings(names) // so that a tie between two suggestions always goes the same way
	return names
}

func (a *app) printHelp(w io.Writer) {
	fmt.Fprintln(w, "smsblast sends bulk SMS campaigns through Twilio, with PostgreSQL as the system of record.")
	fmt.Fprintln(w, "An interrupted send resumes with nobody texted twice and nobody skipped.")
	fmt.Fprintln(w, "\nUsage: smsblast COMMAND [arguments] [flags]")
	// One width for every group, so the summaries line up down the page.
	table := commandTable()
	width := 0
	for _, g := range table {
		for _, c := range g.commands {
			width = max(width, len(c.name)+1+len(c.args))
		}
	}
	for _, g := range table {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, c := range g.commands {
			fmt.Fprintf(w, "  %-*s  %s\n", width, strings.TrimSpace(c.name+" "+c.args), c.summary)
		}
	}
	fmt.Fprint(w, `
Examples:
  smsblast demo                                  # the whole story in under a minute, no account needed
  smsblast import spring-sale customers.csv --from +15005550006 --body 'Hi {{.first_name}}'
  smsblast send spring-sale --rate 10            # Ctrl-C stops cleanly; run it again to resume
  smsblast status spring-sale
  psql "$(smsblast db url)"                      # the results are tables and views: query them

Run 'smsblast COMMAND -h' for a command's flags and examples.
Environment: DATABASE_URL (default: an embedded PostgreSQL under SMSBLAST_HOME),
TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN (or TWILIO_API_KEY + TWILIO_API_SECRET), TWILIO_API_URL.
Credentials are read from the environment only, never from flags. See README.md.
`)
}

// commonFlags are defined by a.flags and dbFlag for every command that
// takes them; usage lists them after the command's own.
var commonFlags = map[string]bool{"db": true, "log-format": true, "log-level": true}

func (a *app) printUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	if fs == nil {
		// `smsblast help CMD`: the command's flags are defined in its run
		// function, and every command answers -h before doing anything.
		sub := &app{stdin: strings.NewReader(""), stdout: w, stderr: io.Discard, getenv: a.getenv, hard: context.Background()}
		if err := c.run(context.Background(), sub, sub.flags(c), []string{"-h"}); errors.Is(err, errHelp) {
			return
		}
		fs = a.flags(c).FlagSet
	}
	fmt.Fprintf(w, "Usage: smsblast %s [flags]\n\n%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	var own, common []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if commonFlags[f.Name] {
			common = append(common, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, own)
	}
	fmt.Fprintln(w, "\nCommon flags:")
	printFlags(w, common)
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.examples, "\n"))
	}
}

// zeroDefault are the defaults not worth printing.
var zeroDefault = map[string]bool{"": true, "0": true, "0s": true, "false": true}

// printFlags lists flags as users type them (--name VALUE), each with its
// meaning and non-zero default, in aligned columns.
func printFlags(w io.Writer, flags []*flag.Flag) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		if def := f.DefValue; !zeroDefault[def] && !strings.Contains(usage, "(default") {
			if name == "string" {
				def = strconv.Quote(def)
			}
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	}
	tw.Flush()
}

// nearest returns the candidate closest to s by edit distance, if close enough
// to be a plausible typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
