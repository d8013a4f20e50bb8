// Command smsblast sends bulk SMS campaigns through Twilio with PostgreSQL as
// the system of record. Run `smsblast help` for the commands.
//
// main is thin: it parses flags, wires store, twilio and campaign together,
// and turns errors into the exit statuses of exitCode.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
)

func main() {
	// The first SIGINT/SIGTERM cancels ctx: commands stop taking new work and
	// finish what is in flight. A second one cancels hard: stop at once.
	ctx, stop := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value // the first signal, for the exit status
	go func() {
		got.Store(<-sig)
		clearProgressLine(os.Stderr)
		fmt.Fprintf(os.Stderr, "smsblast: stopping%s (interrupt again to stop at once)\n", stopping(os.Args[1:]))
		stop()
		<-sig
		stopHard()
	}()
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		hard:   hard,
		signal: func() os.Signal { s, _ := got.Load().(os.Signal); return s },
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	stopHard()
	os.Exit(code)
}

// stopping says what the command does between the first interrupt and its
// exit: send finishes its requests in flight (their answers are recorded);
// an import not yet committed rolls back.
func stopping(args []string) string {
	if len(args) > 0 {
		switch args[0] {
		case "send":
			return ": finishing requests in flight"
		case "import":
			return ": an import not yet committed keeps nothing"
		}
	}
	return ""
}

// app is one invocation's environment: its streams, environment variables
// and the hard-stop context. Tests build one with buffers and a fake getenv.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// hard is canceled by a second interrupt; nil means never.
	hard context.Context
	// log is set up by the command's flags (--log-format, --log-level).
	log *slog.Logger
	// signal is the signal that stopped the command, if one did; nil
	// means SIGINT (tests cancel the context instead).
	signal func() os.Signal
	// checkOnly stops every command right after its flags and arguments
	// are checked (errChecked): tests and fuzzing run the checks alone.
	checkOnly bool
}

// command is one subcommand. Each lives in its own file, with a function
// that returns its synopsis, help and run function; commandTable lists them.
type command struct {
	name     string
	args     string // synopsis after the name, e.g. "CAMPAIGN FILE.csv"
	summary  string // one line for `smsblast help`
	examples string // shown by `smsblast CMD -h`
	// run parses args with fs (the shared flags, to which it adds its own)
	// and does the work; it answers -h before touching anything.
	run func(ctx context.Context, a *app, fs *flagSet, args []string) error
}

// commandGroup is a heading of `smsblast help` and the commands under it.
type commandGroup struct {
	title    string
	commands []*command
}

// commandTable is every command, in the order `smsblast help` and the
// README's flag reference show them: grouped by the user's jobs rather than
// the alphabet. It is built by whoever reads it, so there is no registry to
// fill in init or to change later.
func commandTable() []commandGroup {
	return []commandGroup{
		{"Start here", []*command{demoCommand()}},
		{"Campaigns", []*command{importCommand(), previewCommand(), sendCommand(), statusCommand(), setCommand(), pauseCommand(), cancelCommand(), retryCommand(), resolveCommand(), reportCommand()}},
		{"Recipients", []*command{optoutsCommand()}},
		{"Senders", []*command{sendersCommand()}},
		{"Delivery results", []*command{serveCommand()}},
		{"Tools", []*command{dbCommand(), pruneCommand(), simCommand(), versionCommand()}},
	}
}

// allCommands is the table's commands in help order.
func allCommands() []*command {
	var out []*command
	for _, g := range commandTable() {
		out = append(out, g.commands...)
	}
	return out
}

// lookupCommand finds a command by name; nil if there is none.
func lookupCommand(name string) *command {
	for _, c := range allCommands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run executes one command line and returns the process exit code.
func (a *app) run(ctx context.Context, args []string) int {
	if a.hard == nil {
		a.hard = context.Background()
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(a.stderr, nil))
	}
	if len(args) == 0 {
		a.printHelp(a.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookupCommand(args[1]); c != nil {
				a.printUsage(a.stdout, c, nil)
				return exitOK
			}
		}
		a.printHelp(a.stdout)
		return exitOK
	}
	c := lookupCommand(name)
	if c == nil {
		msg := fmt.Sprintf("unknown command %q", name)
		if s := nearest(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		fmt.Fprintf(a.stderr, "smsblast: %s; run 'smsblast help' for the list\n", msg)
		return exitUsage
	}
	err := c.run(ctx, a, a.flags(c), args[1:])
	return a.exitCode(ctx, err)
}

// Exit statuses: a contract scripts rely on, listed in the README.
const (
	exitOK      = 0 // done: a send that completed, a command that did its work
	exitFailure = 1 // a runtime error, printed on one line
	exitUsage   = 2 // a mistake on the command line, naming the flag or argument
	// exitStopped: send stopped because the campaign was paused or
	// canceled from another shell (or the dashboard); it is not finished.
	exitStopped = 3
	// exitSignal + the signal's number: interrupted (Ctrl-C gives 130,
	// SIGTERM 143), as a shell reports a process a signal ended.
	exitSignal = 128
)

// Outcomes that are not failures but must reach the exit status. The
// command has already said what happened; exitCode prints nothing more.
var (
	errStopped     = errors.New("stopped: the campaign was paused or canceled")
	errInterrupted = errors.New("interrupted")
	// errChecked ends a command in checkOnly mode, once its flags passed.
	errChecked = errors.New("flags checked")
)

// exitCode prints err once and maps it to the exit status contract.
func (a *app) exitCode(ctx context.Context, err error) int {
	var u *usageError
	switch {
	case err == nil, errors.Is(err, errHelp), errors.Is(err, errChecked):
		return exitOK
	case errors.As(err, &u):
		fmt.Fprintf(a.stderr, "smsblast: %v\n", err)
		return exitUsage
	case errors.Is(err, errStopped):
		return exitStopped
	case errors.Is(err, errInterrupted):
		return a.signalStatus()
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Cut short by the signal: say what it interrupted.
		fmt.Fprintf(a.stderr, "smsblast: interrupted: %s\n", oneLine(err))
		return a.signalStatus()
	default:
		fmt.Fprintf(a.stderr, "smsblast: %s\n", oneLine(err))
		return exitFailure
	}
}

// oneLine is err's message on one line: some libraries' errors span
// several (a connection tried on each address), and an error is one line.
func oneLine(err error) string {
	var b strings.Builder
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case b.Len() == 0:
		case strings.HasSuffix(b.String(), ":"):
			b.WriteByte(' ')
		default:
			b.WriteString("; ")
		}
		b.WriteString(line)
	}
	return b.String()
}

// signalStatus is 128 + the number of the signal that stopped the command.
func (a *app) signalStatus() int {
	if a.signal != nil {
		if s, ok := a.signal().(syscall.Signal); ok {
			return exitSignal + int(s)
		}
	}
	return exitSignal + int(syscall.SIGINT)
}
