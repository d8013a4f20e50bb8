package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store"
)

func setCommand() *command {
	return &command{
		name:    "set",
		args:    "CAMPAIGN",
		summary: "change a campaign's settings (rate, concurrency, validity, pool …); running senders follow within seconds",
		examples: `  smsblast set spring-sale --rate 50 --concurrency 20
  smsblast set spring-sale --from +14155550100,+14155550101,+14155550102 --geomatch
  smsblast set spring-sale --validity 2h`,
		run: runSet,
	}
}

func runSet(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	var sf settingFlags
	sf.register(fs, "")
	asJSON := fs.Bool("json", false, "print the settings before and after as JSON")
	var s campaign.Settings
	fs.validate = func(pos []string) error {
		if err := campaignArg(pos[0]); err != nil {
			return err
		}
		var err error
		if s, err = sf.settings(fs); err != nil {
			return err
		}
		if err := sf.validate(s); err != nil {
			return err
		}
		if s.Empty() {
			return usagef("set: give at least one setting to change (see 'smsblast set -h')")
		}
		return nil
	}
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if sf.readIn != "" {
		fmt.Fprintf(a.stderr, "smsblast: times read in %s, this machine's zone (give --tz to change)\n", sf.readIn)
	}
	if s.Concurrency != nil {
		a.warnConcurrency(*s.Concurrency)
	}
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := a.checkBudgetPrices(ctx, st, pos[0], s); err != nil {
		return err
	}
	before, after, err := st.ChangeCampaign(ctx, pos[0], func(c *campaign.Campaign, started bool) error {
		return s.Change(c, started, time.Now())
	})
	if err != nil {
		if u := settingUsage(err); u != nil {
			return u
		}
		return err
	}
	if s.Prices != nil {
		if err := st.SetPrices(ctx, after.ID, s.Prices); err != nil {
			return err
		}
	}
	// Recipients waiting for the old window may fit the new one: let the
	// next claim look at them again.
	if before.Window != after.Window || before.WindowTZ != after.WindowTZ || before.TZ != after.TZ {
		if _, err := st.ReleaseCampaignHolds(ctx, after.ID, campaign.HoldWindow); err != nil {
			return err
		}
	}
	rows := settingRows(before, after)
	if *asJSON {
		out := map[string]any{"campaign": after.Name, "before": map[string]string{}, "after": map[string]string{}}
		for _, r := range rows {
			out["before"].(map[string]string)[r.name] = r.before
			out["after"].(map[string]string)[r.name] = r.after
		}
		writeJSON(a.stdout, out)
		return nil
	}
	fmt.Fprintf(a.stdout, "campaign %q\n", after.Name)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tBEFORE\tAFTER\t")
	for _, r := range rows {
		mark := ""
		if r.before != r.after {
			mark = "changed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, r.before, r.after, mark)
	}
	tw.Flush()
	if after.Status == campaign.StatusRunning {
		fmt.Fprintln(a.stdout, "running senders pick the change up at their next heartbeat")
	}
	return nil
}

type settingRow struct{ name, before, after string }

// checkBudgetPrices refuses a budget in money for a campaign that has no
// prices and gets none now: it could never be spent.
func (a *app) checkBudgetPrices(ctx context.Context, st *store.Store, name string, s campaign.Settings) error {
	if s.Budget == nil || *s.Budget == 0 || s.Prices != nil {
		return nil
	}
	c, err := st.CampaignByName(ctx, name)
	if errors.Is(err, campaign.ErrNotFound) {
		return usagef("--budget: give the price of a segment with --price (a budget in money needs prices)")
	}
	if err != nil {
		return err
	}
	prices, err := st.Prices(ctx, c.ID)
	if err != nil {
		return err
	}
	if len(prices) == 0 {
		return usagef("--budget: campaign %q has no prices; give the price of a segment with --price", name)
	}
	return nil
}

// settingRows lists a campaign's settings before and after a change, in
// the order `smsblast set -h` lists the flags.
func settingRows(b, a *campaign.Campaign) []settingRow {
	show := func(c *campaign.Campaign) []string {
		sender := strings.Join(c.Senders(), ",")
		rate := "senders' MPS"
		if c.Rate > 0 {
			rate = fmt.Sprintf("%g segments/s", c.Rate)
		}
		validity := "Twilio's default (10h)"
		if c.ValidityPeriod > 0 {
			validity = (time.Duration(c.ValidityPeriod) * time.Second).String()
		}
		showTime := func(t time.Time) string {
			if t.IsZero() {
				return "(none)"
			}
			if loc, err := campaign.LoadZone(c.TZ); err == nil {
				t = t.In(loc)
			}
			return t.Format("2006-01-02 15:04 MST")
		}
		budget := "none"
		switch {
		case c.BudgetSegments > 0 && c.BudgetAmount > 0:
			budget = fmt.Sprintf("%d segments, %g", c.BudgetSegments, c.BudgetAmount)
		case c.BudgetSegments > 0:
			budget = fmt.Sprintf("%d segments", c.BudgetSegments)
		case c.BudgetAmount > 0:
			budget = fmt.Sprint(c.BudgetAmount)
		}
		return []string{sender, c.BodyTemplate, orNone(c.StatusCallback), rate, fmt.Sprint(c.Concurrency),
			fmt.Sprint(c.MaxAttempts), validity, fmt.Sprint(c.Geomatch), showTime(c.StartAt), showTime(c.StopAt),
			c.Window.String() + " (recipient's local time)", orNone(c.TZ), orNone(c.WindowTZ), budget, c.Frequency.String(),
			fmt.Sprint(c.SmartEncode), fmt.Sprint(c.MaxSegments)}
	}
	names := []string{"sender", "body", "status callback", "rate", "concurrency", "max attempts", "validity", "geomatch",
		"start at", "stop at", "send window", "tz", "window tz", "budget", "frequency cap", "smart encode", "max segments"}
	bs, as := show(b), show(a)
	rows := make([]settingRow, len(names))
	for i, n := range names {
		rows[i] = settingRow{n, bs[i], as[i]}
	}
	return rows
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
