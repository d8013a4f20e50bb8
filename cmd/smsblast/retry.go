package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

func retryCommand() *command {
	return &command{
		name:    "retry",
		args:    "CAMPAIGN",
		summary: "requeue failed recipients worth another try (all retryable codes, or --codes)",
		examples: `  smsblast retry spring-sale                 # codes twilio_errors marks retryable (30003, 30008, …)
  smsblast retry spring-sale --codes 30003,30005
  smsblast send spring-sale                  # then send them`,
		run: runRetry,
	}
}

func runRetry(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	codesFlag := fs.String("codes", "", "comma-separated Twilio error codes to requeue (default: every retryable one)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var codes []int
	for f := range strings.SplitSeq(*codesFlag, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return usagef("--codes: %q is not a Twilio error code (e.g. --codes 30003,30008)", f)
		}
		codes = append(codes, n)
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.CampaignByName(ctx, pos[0])
	if err != nil {
		return err
	}
	n, err := st.Requeue(ctx, c.ID, codes)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		writeJSON(a.stdout, map[string]any{"campaign": c.Name, "requeued": n, "codes": codes})
		return nil
	case n == 0:
		fmt.Fprintf(a.stdout, "campaign %q: no failed recipients match; nothing requeued\n", c.Name)
		return nil
	}
	fmt.Fprintf(a.stdout, "campaign %q: %d recipients requeued; run 'smsblast send %s' to send them\n", c.Name, n, c.Name)
	return nil
}
