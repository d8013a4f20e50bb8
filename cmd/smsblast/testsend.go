package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/twilio"
)

// maxTestNumbers caps --test: a test goes to the user's own phones.
const maxTestNumbers = 20

// runTestSend is `send --test`: one recipient's message to the user's own
// numbers, recorded in test_sends; no recipient changes.
func (a *app) runTestSend(ctx context.Context, fs *flagSet, name string, f sendFlags) error {
	if len(f.test) == 0 {
		return usagef("--test-line: give the numbers to send the test to with --test +1…")
	}
	if f.testLine < 0 {
		return usagef("--test-line: %d is not a line of a CSV", f.testLine)
	}
	if len(f.test) > maxTestNumbers {
		return usagef("--test: at most %d numbers, not %d", maxTestNumbers, len(f.test))
	}
	// Numbers are checked as an import checks them (default region US:
	// write others with their country code).
	norm, err := phone.NewNormalizer("US")
	if err != nil {
		return err
	}
	var to []string
	for _, raw := range f.test {
		e164, _, err := norm.Normalize(raw)
		if err != nil {
			return usagef("--test: %v", err)
		}
		if !slices.Contains(to, e164) {
			to = append(to, e164)
		}
	}
	twCfg, err := twilio.ConfigFromEnv(a.getenv)
	if err != nil {
		return err
	}
	twCfg.Timeout = f.requestTimeout
	tw, err := twilio.New(twCfg)
	if err != nil {
		return err
	}
	defer tw.CloseIdleConnections()
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	sent, err := send.Test(ctx, st, tw, send.TestRequest{Campaign: name, To: to, Line: f.testLine, Timeout: f.requestTimeout})
	var berr *campaign.BodyError
	switch {
	case errors.As(err, &berr):
		return usagef("send --test: %v", err)
	case errors.Is(err, campaign.ErrNoRecipient) && f.testLine > 0:
		return usagef("--test-line: campaign %q has no recipient from CSV line %d", name, f.testLine)
	case errors.Is(err, campaign.ErrNoRecipient):
		return fmt.Errorf("send --test: campaign %q has no recipients yet: import some first", name)
	}
	if f.json {
		out := make([]map[string]any, len(sent))
		for i, t := range sent {
			out[i] = map[string]any{"to": t.To, "line": t.SourceLine, "sid": t.MessageSID, "status": t.Status,
				"error_code": t.ErrorCode, "error_message": t.ErrorMessage, "segments": t.Segments}
		}
		writeJSON(a.stdout, map[string]any{"campaign": name, "test_sends": out})
		return err
	}
	if len(sent) > 0 {
		fmt.Fprintf(a.stdout, "test of campaign %q: the message of CSV line %d (%s), recorded in test_sends; no recipient changed\n",
			name, sent[0].SourceLine, plural(sent[0].Segments, "segment"))
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TO\tSTATUS\tSID\tERROR\t")
		for _, t := range sent {
			e := ""
			if t.ErrorCode != 0 || t.ErrorMessage != "" {
				e = fmt.Sprintf("%d %s", t.ErrorCode, t.ErrorMessage)
				if t.ErrorCode == 0 {
					e = t.ErrorMessage
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", t.To, t.Status, orNone(t.MessageSID), e)
		}
		tw.Flush()
	}
	return err
}
