package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

func resolveCommand() *command {
	return &command{
		name:    "resolve",
		args:    "CAMPAIGN [PHONE…]",
		summary: "decide recipients in review: was the message Twilio's list shows theirs? (lists them without a flag)",
		examples: `  smsblast resolve spring-sale                                  # who is in review, and why
  smsblast resolve spring-sale --sent +14155550100 +14155550101  # those messages were theirs: record them
  smsblast resolve spring-sale --not-sent +14155550102           # it was not: pending again
  smsblast send spring-sale                                     # then send them

  A recipient is in review when a request's answer was lost and Twilio's
  list shows a message to its number from the campaign's sender whose body
  Twilio redacts (message redaction): smsblast cannot tell whether it is
  this campaign's text, so it neither re-sends nor counts it.`,
		run: runResolve,
	}
}

// resolveListJSON is the --json shape of the listing.
type resolveListJSON struct {
	Campaign string              `json:"campaign"`
	InReview []campaign.InReview `json:"in_review"`
}

// resolveJSON is the --json shape of a decision.
type resolveJSON struct {
	Campaign string `json:"campaign"`
	*campaign.Resolution
}

func runResolve(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	sent := fs.Bool("sent", false, "the candidate messages were these recipients': record them as sent")
	notSent := fs.Bool("not-sent", false, "they were not: put these recipients back to pending for the next send")
	all := fs.Bool("all", false, "decide for every recipient in review instead of naming phones")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var phones []string
	fs.validate = func(pos []string) error {
		name := pos[0]
		if err := campaignArg(name); err != nil {
			return err
		}
		phones = pos[1:]
		decide := *sent || *notSent
		switch {
		case *sent && *notSent:
			return usagef("--sent and --not-sent: choose one")
		case !decide && (*all || len(phones) > 0):
			return usagef("--sent or --not-sent: say what to record for the recipients named (or run 'smsblast resolve %s' to list them)", name)
		case decide && *all && len(phones) > 0:
			return usagef("--all: either name phones or use --all, not both")
		case decide && !*all && len(phones) == 0:
			flagName := "--sent"
			if *notSent {
				flagName = "--not-sent"
			}
			return usagef("%s: name the recipients (PHONE…) or use --all", flagName)
		}
		for i, p := range phones {
			var err error
			if phones[i], err = resolvePhone(p); err != nil {
				return err
			}
		}
		return nil
	}
	pos, err := a.parse(fs, args, 1, -1)
	if err != nil {
		return err
	}
	name := pos[0]
	decide := *sent || *notSent
	st, c, err := a.openCampaign(ctx, fs, name)
	if err != nil {
		return err
	}
	defer st.Close()

	if !decide {
		list, err := st.InReview(ctx, c.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			if list == nil {
				list = []campaign.InReview{}
			}
			writeJSON(a.stdout, resolveListJSON{Campaign: c.Name, InReview: list})
			return nil
		}
		a.printInReview(c, list)
		return nil
	}

	res, err := st.Resolve(ctx, c.ID, *sent, phones)
	switch {
	case errors.Is(err, campaign.ErrCanceled):
		return fmt.Errorf("resolve recipients of campaign %q: it is canceled, so nothing would send them: they stay in review", c.Name)
	case errors.Is(err, campaign.ErrNotInReview):
		return fmt.Errorf("resolve recipients of campaign %q: %w; nothing changed (run 'smsblast resolve %s' for the list)", c.Name, err, c.Name)
	case err != nil:
		return err
	}
	if *asJSON {
		writeJSON(a.stdout, resolveJSON{Campaign: c.Name, Resolution: res})
		return nil
	}
	if len(res.Recipients) == 0 {
		fmt.Fprintf(a.stdout, "campaign %q: no recipients in review; nothing changed\n", c.Name)
		return nil
	}
	if *sent {
		fmt.Fprintf(a.stdout, "campaign %q: %d recipients recorded as sent:\n", c.Name, len(res.Recipients))
	} else {
		fmt.Fprintf(a.stdout, "campaign %q: %d recipients back to pending:\n", c.Name, len(res.Recipients))
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, r := range res.Recipients {
		if *sent {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Phone, r.Status, r.MessageSID)
		} else {
			fmt.Fprintf(tw, "  %s\t%s\n", r.Phone, r.Status)
		}
	}
	tw.Flush()
	if !*sent {
		if res.Paused {
			fmt.Fprintf(a.stdout, "the campaign was completed and is now paused; ")
		}
		fmt.Fprintf(a.stdout, "run 'smsblast send %s' to send them\n", c.Name)
	}
	return nil
}

// printInReview lists recipients in review with what to do about them.
func (a *app) printInReview(c *campaign.Campaign, list []campaign.InReview) {
	if len(list) == 0 {
		fmt.Fprintf(a.stdout, "campaign %q: no recipients in review\n", c.Name)
		return
	}
	fmt.Fprintf(a.stdout, "campaign %q: %d recipients in review\n\n", c.Name, len(list))
	fmt.Fprint(a.stdout, `Each had a request whose answer was lost, and Twilio's list shows a message
(the candidate) to its number from this campaign's sender, created since
about that request, whose body Twilio redacts (message redaction): it may be
this campaign's text or another one, and smsblast cannot tell, so it neither
re-sends nor counts it. Check each candidate (in your records of the account,
or with the recipient), then record what you found:
`)
	fmt.Fprintf(a.stdout, "  smsblast resolve %s --sent PHONE…       it was this campaign's text\n", c.Name)
	fmt.Fprintf(a.stdout, "  smsblast resolve %s --not-sent PHONE…   it was not: send again\n\n", c.Name)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHONE\tCANDIDATE\tTWILIO STATUS\tCREATED\tIN REVIEW SINCE")
	for _, r := range list {
		created := "-"
		if r.CreatedAt != nil {
			created = r.CreatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Phone, r.MessageSID, r.TwilioStatus, created,
			r.Since.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	for _, r := range list {
		if len(r.AlsoRecordedFor) > 0 {
			fmt.Fprintf(a.stdout, "note: %s's candidate %s is also the message of %s: if Twilio answered that request with it, it is not %s's\n",
				r.Phone, r.MessageSID, strings.Join(r.AlsoRecordedFor, "; "), r.Phone)
		}
	}
}

// resolvePhone reads a phone argument as resolve lists it: E.164, with any
// spaces, dashes, dots or parentheses a person pasted along.
func resolvePhone(p string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, p)
	if !campaign.IsE164(clean) {
		return "", usagef("PHONE %q is not a number in E.164 form (+14155550100): give it as 'smsblast resolve CAMPAIGN' lists it", p)
	}
	return clean, nil
}
