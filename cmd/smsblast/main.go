// Command smsblast sends bulk SMS campaigns through Twilio with PostgreSQL as
// the system of record. Run `smsblast help` for the commands.
//
// main is thin: it parses flags, wires store, twilio and campaign together,
// and turns errors into exit codes (0 success, 1 runtime failure, 2 usage).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT/SIGTERM cancels ctx: commands stop taking new work and
	// finish what is in flight. A second one cancels hard: stop at once.
	ctx, stop := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		clearProgressLine(os.Stderr)
		fmt.Fprintln(os.Stderr, "smsblast: stopping: finishing requests in flight (interrupt again to stop at once)")
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
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	stopHard()
	os.Exit(code)
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
		{"Campaigns", []*command{importCommand(), sendCommand(), statusCommand(), pauseCommand(), cancelCommand(), retryCommand(), reportCommand()}},
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
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c := lookupCommand(args[1]); c != nil {
				a.printUsage(a.stdout, c, nil)
				return 0
			}
		}
		a.printHelp(a.stdout)
		return 0
	}
	c := lookupCommand(name)
	if c == nil {
		msg := fmt.Sprintf("unknown command %q", name)
		if s := nearest(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		fmt.Fprintf(a.stderr, "smsblast: %s; run 'smsblast help' for the list\n", msg)
		return 2
	}
	err := c.run(ctx, a, a.flags(c), args[1:])
	return a.exitCode(err)
}

// exitCode prints err once and maps it to the exit code contract.
func (a *app) exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(a.stderr, "smsblast: %v\n", err)
		return 2
	default:
		fmt.Fprintf(a.stderr, "smsblast: %v\n", err)
		return 1
	}
}
