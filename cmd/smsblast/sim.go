package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/smsblast/smsblast/twilio/twiliosim"
)

func simCommand() *command {
	return &command{
		name:    "sim",
		args:    "",
		summary: "run a local Twilio Messages API simulator (prints the exports to use it)",
		examples: `  smsblast sim --addr 127.0.0.1:4010
  smsblast sim --latency 50ms --jitter 20ms --max-concurrency 100 --fail-5xx 0.02 \
      --fail-429 0.02 --lose-response 0.01 --deliver-after 200ms --undelivered 0.03 --seed 1

  The simulator accepts a random auth token, printed for you to export, or
  the one in TWILIO_AUTH_TOKEN when that is set (then it is not printed);
  TWILIO_API_KEY and TWILIO_API_SECRET add an API key. Secrets are never
  flags: anyone on the machine can read a command line.`,
		run: runSim,
	}
}

func runSim(ctx context.Context, a *app, fs *flagSet, args []string) error {
	addr := fs.String("addr", "127.0.0.1:4010", "listen address")
	var opts twiliosim.Options
	opts.RegisterFlags(fs.FlagSet)
	tokenFromEnv := false
	fs.validate = func([]string) error {
		if err := addrFlag("addr", *addr); err != nil {
			return err
		}
		tokenFromEnv = opts.FromEnv(a.getenv)
		err := opts.Validate()
		var oe *twiliosim.OptionError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &oe) && oe.Flag != "":
			return usagef("--%s: %s", oe.Flag, oe.Problem)
		case errors.As(err, &oe) && oe.Option == "AuthToken":
			return fmt.Errorf("TWILIO_AUTH_TOKEN %s", oe.Problem)
		case errors.As(err, &oe):
			return fmt.Errorf("TWILIO_API_KEY, TWILIO_API_SECRET: %s", oe.Problem)
		}
		return err
	}
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	opts.Logger = a.log
	sim := twiliosim.New(opts)
	defer sim.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(a.stdout, "Twilio simulator listening on http://%s\n\n", ln.Addr())
	fmt.Fprintf(a.stdout, "export TWILIO_API_URL=http://%s\n", ln.Addr())
	fmt.Fprintf(a.stdout, "export TWILIO_ACCOUNT_SID=%s\n", sim.AccountSID())
	if tokenFromEnv {
		// It is the caller's own secret: never echo it.
		fmt.Fprintln(a.stdout, "# TWILIO_AUTH_TOKEN: the one in your environment")
	} else {
		// A random token, good for this run only.
		fmt.Fprintf(a.stdout, "export TWILIO_AUTH_TOKEN=%s\n", sim.AuthToken())
	}
	fmt.Fprintln(a.stdout, "\nFrom +15005550006 is a valid sender. Ctrl-C stops.")
	// Close the simulator as shutdown starts, so stalled requests
	// (--lose-mode stall) end instead of holding the shutdown.
	stop := context.AfterFunc(ctx, sim.Close)
	defer stop()
	return a.serveHTTP(ctx, ln, sim)
}
