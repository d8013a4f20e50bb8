package main

import (
	"context"
	"fmt"

	"github.com/smsblast/smsblast/campaign"
)

func pauseCommand() *command {
	return &command{
		name:     "pause",
		args:     "CAMPAIGN",
		summary:  "pause a campaign; running senders (on any machine) stop within seconds",
		examples: "  smsblast pause spring-sale\n  smsblast send spring-sale    # resumes it",
		run:      runSetStatus,
	}
}

func cancelCommand() *command {
	return &command{
		name:     "cancel",
		args:     "CAMPAIGN",
		summary:  "cancel a campaign for good; pending recipients are never sent",
		examples: "  smsblast cancel spring-sale",
		run:      runSetStatus,
	}
}

// runSetStatus is pause and cancel: the command's name is the verb.
func runSetStatus(ctx context.Context, a *app, fs *flagSet, args []string) error {
	verb := fs.cmd.name
	fs.dbFlag()
	reason := fs.String("reason", "", "why, recorded on the campaign (default: by a user)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		return reasonFlag("reason", *reason)
	}
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	to, done := campaign.StatusPaused, "paused"
	if verb == "cancel" {
		to, done = campaign.StatusCanceled, "canceled"
	}
	why := *reason
	if why == "" {
		why = done + " by a user"
	}
	from, err := st.SetStatus(ctx, pos[0], to, why)
	if err != nil {
		return err
	}
	if from == campaign.StatusCompleted || from == campaign.StatusCanceled && to != from {
		return fmt.Errorf("%s campaign %q: it is %s", verb, pos[0], from)
	}
	if *asJSON {
		writeJSON(a.stdout, map[string]any{"campaign": pos[0], "was": from, "status": to, "reason": why})
		return nil
	}
	switch {
	case from == to:
		fmt.Fprintf(a.stdout, "campaign %q was already %s\n", pos[0], done)
	case verb == "pause":
		fmt.Fprintf(a.stdout, "campaign %q paused; running senders stop within seconds; 'smsblast send %s' resumes it\n", pos[0], pos[0])
	default:
		fmt.Fprintf(a.stdout, "campaign %q canceled; running senders stop within seconds\n", pos[0])
	}
	return nil
}
