package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smsblast/smsblast/campaign"
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
	var codes []int
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		var err error
		codes, err = parseCodes(*codesFlag)
		return err
	}
	st, c, err := a.parseCampaign(ctx, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Requeue(ctx, c.ID, codes)
	if errors.Is(err, campaign.ErrCanceled) {
		return fmt.Errorf("retry campaign %q: it is canceled, so its recipients can never be sent again; nothing was requeued", c.Name)
	}
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

// parseCodes reads --codes: Twilio error codes, which have five digits.
func parseCodes(list string) ([]int, error) {
	var codes []int
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 10000 || n > 99999 {
			return nil, usagef("--codes: %s is not a Twilio error code (five digits, e.g. --codes 30003,30008)", campaign.QuoteShort(f, 20))
		}
		codes = append(codes, n)
	}
	return codes, nil
}
