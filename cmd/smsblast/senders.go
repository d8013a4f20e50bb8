package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/store"
)

func sendersCommand() *command {
	return &command{
		name:    "senders",
		args:    "[set SENDER | rm SENDER]",
		summary: "the sender registry: each number's MPS and daily cap, today's usage, the campaigns sharing it",
		examples: `  smsblast senders                                         # MPS, usage against the cap, who shares each sender
  smsblast senders set +14155550100 --mps 12 --daily-cap 2000  # a 10DLC number, low trust score
  smsblast senders set +18885550100 --mps 3 --kind toll-free
  smsblast senders set MG0123456789abcdef0123456789abcdef --mps 225
  smsblast senders rm +14155550100`,
		run: runSenders,
	}
}

var sendersSubcommands = []string{"set", "rm"}

func runSenders(ctx context.Context, a *app, fs *flagSet, args []string) error {
	fs.dbFlag()
	mps := fs.Float64("mps", 0, "set: throughput in segments per second, shared by every campaign and process (required when registering)")
	dailyCap := fs.Int64("daily-cap", 0, "set: most segments per day (0: none)")
	capZone := fs.String("cap-reset-tz", campaign.DefaultCapZone, "set: time zone whose midnight starts a new cap day")
	kind := fs.String("kind", "", "set: "+kindList()+" (default: messaging-service for MG…, toll-free for +1 8XX numbers, else long-code)")
	maxDelay := fs.Duration("max-queue-delay", campaign.DefaultMaxQueueDelay, "set: slow this sender down while Twilio queues its messages longer than this")
	asJSON := fs.Bool("json", false, "print JSON")
	given := map[string]bool{}
	var sd campaign.Sender
	fs.validate = func(pos []string) error {
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		setFlags := []string{"mps", "daily-cap", "cap-reset-tz", "kind", "max-queue-delay"}
		sub := subcommand(pos)
		switch sub {
		case "":
			for _, f := range setFlags {
				if given[f] {
					return usagef("senders: --%s is for 'smsblast senders set SENDER'", f)
				}
			}
		case "set", "rm":
			if len(pos) != 2 {
				return usagef("usage: smsblast senders %s SENDER (a number in E.164 or a Messaging Service SID)", sub)
			}
			if !campaign.IsE164(pos[1]) && !campaign.IsMessagingServiceSID(pos[1]) {
				return usagef("senders %s: %s is neither an E.164 number like +14155550100 nor a Messaging Service SID (MG…)", sub, campaign.QuoteShort(pos[1], 40))
			}
			if sub == "rm" {
				for _, f := range setFlags {
					if given[f] {
						return usagef("senders rm: --%s is for 'smsblast senders set'", f)
					}
				}
			}
		default:
			msg := fmt.Sprintf("senders: unknown subcommand %s: use set or rm, or nothing to list", campaign.QuoteShort(sub, 20))
			if s := nearest(sub, sendersSubcommands); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return usagef("%s", msg)
		}
		if sub == "set" {
			var err error
			if sd, err = senderFromFlags(pos[1], given, *mps, *dailyCap, *capZone, *kind, *maxDelay); err != nil {
				return err
			}
			if campaign.IsE164(pos[1]) {
				if err := phone.CheckSenders(pos[1:]); err != nil {
					return usagef("senders set: %v", err)
				}
			}
		}
		return nil
	}
	pos, err := a.parse(fs, args, 0, 2)
	if err != nil {
		return err
	}
	sub := subcommand(pos)
	st, err := a.openStore(ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "rm":
		if err := st.RemoveSender(ctx, pos[1]); err != nil {
			return err
		}
		if _, err := st.ReleaseHolds(ctx, pos[1], campaign.HoldDailyCap); err != nil {
			return err
		}
		if *asJSON {
			writeJSON(a.stdout, map[string]any{"removed": pos[1]})
		} else {
			fmt.Fprintf(a.stdout, "sender %s removed; campaigns sending from it go back to their own --rate (10 segments/s without one)\n", pos[1])
		}
		return nil
	case "set":
		return a.setSender(ctx, st, sd, given, *asJSON)
	}
	return a.listSenders(ctx, st, *asJSON)
}

func kindList() string {
	var ks []string
	for _, k := range campaign.SenderKinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// maxDailyCap bounds --daily-cap: a billion segments a day is beyond any
// carrier's cap, so more can only be a slip.
const maxDailyCap = 1_000_000_000

// senderFromFlags builds a registration from the flags given; flags not
// given keep the registration's current values (filled in by setSender).
func senderFromFlags(id string, given map[string]bool, mps float64, dailyCap int64, zone, kind string, maxDelay time.Duration) (campaign.Sender, error) {
	sd := campaign.Sender{ID: id, MPS: mps, DailyCap: dailyCap, CapZone: zone, MaxQueueDelay: maxDelay, Kind: campaign.SenderKind(kind)}
	if given["mps"] {
		if err := floatIn("mps", mps, campaign.MinRate, 100000); err != nil {
			return sd, err
		}
	}
	if given["daily-cap"] && (dailyCap < 0 || dailyCap > maxDailyCap) {
		return sd, usagef("--daily-cap %d: give 0 (none) or up to %d segments", dailyCap, maxDailyCap)
	}
	if given["cap-reset-tz"] {
		if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
			return sd, usagef("--cap-reset-tz: %s is not an IANA time zone like America/Los_Angeles", campaign.QuoteShort(zone, 40))
		}
	}
	if given["kind"] && !slices.Contains(campaign.SenderKinds(), sd.Kind) {
		return sd, usagef("--kind: %s is not one of %s", campaign.QuoteShort(kind, 20), kindList())
	}
	if given["kind"] && (sd.Kind == campaign.MessagingService) != campaign.IsMessagingServiceSID(id) {
		return sd, usagef("--kind: %s is a %s, not a %s", id, guessKind(id), kind)
	}
	if given["max-queue-delay"] {
		if err := durationIn("max-queue-delay", maxDelay, time.Second, 24*time.Hour); err != nil {
			return sd, err
		}
	}
	return sd, nil
}

// guessKind is a sender's kind when --kind is not given.
func guessKind(id string) campaign.SenderKind {
	switch {
	case campaign.IsMessagingServiceSID(id):
		return campaign.MessagingService
	case len(id) == 12 && strings.HasPrefix(id, "+1") && tollFreeAreaCodes[id[2:5]]:
		return campaign.TollFree
	}
	return campaign.LongCode
}

// tollFreeAreaCodes are the North American toll-free prefixes.
var tollFreeAreaCodes = map[string]bool{"800": true, "833": true, "844": true, "855": true, "866": true, "877": true, "888": true}

func (a *app) setSender(ctx context.Context, st *store.Store, sd campaign.Sender, given map[string]bool, asJSON bool) error {
	old, err := st.SenderUses(ctx, time.Now(), sendStale, sd.ID)
	if err != nil {
		return err
	}
	var before *campaign.Sender
	if len(old) == 1 {
		// Flags not given keep the registration's current values.
		b := old[0].Sender
		before = &b
		next := b
		if given["mps"] {
			next.MPS = sd.MPS
		}
		if given["daily-cap"] {
			next.DailyCap = sd.DailyCap
		}
		if given["cap-reset-tz"] {
			next.CapZone = sd.CapZone
		}
		if given["kind"] {
			next.Kind = sd.Kind
		}
		if given["max-queue-delay"] {
			next.MaxQueueDelay = sd.MaxQueueDelay
		}
		sd = next
	} else if !given["mps"] {
		return usagef("senders set: %s is not registered yet; give its throughput with --mps", sd.ID)
	}
	if sd.Kind == "" {
		sd.Kind = guessKind(sd.ID)
	}
	if err := st.SetSender(ctx, sd); err != nil {
		return err
	}
	// Recipients held back by the old cap may go now, if the new one lets them.
	var released int64
	if before != nil && before.DailyCap > 0 && (sd.DailyCap == 0 || sd.DailyCap > before.DailyCap || sd.CapZone != before.CapZone) {
		if released, err = st.ReleaseHolds(ctx, sd.ID, campaign.HoldDailyCap); err != nil {
			return err
		}
	}
	if asJSON {
		out := map[string]any{"before": nil, "after": registrationJSON(sd), "released": released}
		if before != nil {
			out["before"] = registrationJSON(*before)
		}
		writeJSON(a.stdout, out)
		return nil
	}
	verb := "registered"
	if before != nil {
		verb = "updated"
	}
	fmt.Fprintf(a.stdout, "sender %s %s: %s, %g segments/s shared by every campaign sending from it", sd.ID, verb, sd.Kind, sd.MPS)
	if sd.DailyCap > 0 {
		fmt.Fprintf(a.stdout, ", at most %d segments a day (the day ends at midnight %s)", sd.DailyCap, sd.CapZone)
	}
	fmt.Fprintln(a.stdout)
	if released > 0 {
		fmt.Fprintf(a.stdout, "%d recipients held by the old cap may be sent now\n", released)
	}
	return nil
}

// registrationJSON is a registration in --json output.
func registrationJSON(sd campaign.Sender) map[string]any {
	return map[string]any{"sender": sd.ID, "kind": sd.Kind, "mps": sd.MPS, "daily_cap": sd.DailyCap,
		"cap_reset_tz": sd.CapZone, "max_queue_delay_seconds": sd.MaxQueueDelay.Seconds()}
}

// sendStale is how long without a heartbeat presumes a send process gone,
// for the commands that show senders (send's own heartbeat uses 5 beats).
const sendStale = 10 * time.Second

// senderOutput is a sender in `senders --json`.
type senderOutput struct {
	Sender        string        `json:"sender"`
	Kind          string        `json:"kind"`
	MPS           float64       `json:"mps"`
	EffectiveMPS  float64       `json:"effective_mps"`
	DailyCap      int64         `json:"daily_cap,omitempty"`
	CapZone       string        `json:"cap_reset_tz"`
	UsedToday     int64         `json:"used_today"`
	ResetsAt      time.Time     `json:"resets_at"`
	QueueDelay    float64       `json:"queue_delay_seconds,omitempty"`
	MaxQueueDelay float64       `json:"max_queue_delay_seconds"`
	Campaigns     []string      `json:"campaigns"`
	Shares        []shareOutput `json:"shares"`
	Holds         []string      `json:"holds,omitempty"`
}

type shareOutput struct {
	Campaign string  `json:"campaign"`
	Worker   string  `json:"worker"`
	Active   bool    `json:"active"`
	Rate     float64 `json:"segments_per_second"`
}

func (a *app) listSenders(ctx context.Context, st *store.Store, asJSON bool) error {
	now := time.Now()
	uses, err := st.SenderUses(ctx, now, sendStale)
	if err != nil {
		return err
	}
	byCampaign, err := st.SenderCampaigns(ctx)
	if err != nil {
		return err
	}
	out := make([]senderOutput, 0, len(uses))
	for _, u := range uses {
		o := senderOutput{
			Sender: u.ID, Kind: string(u.Kind), MPS: u.MPS, EffectiveMPS: u.EffectiveMPS(),
			DailyCap: u.DailyCap, CapZone: u.CapZone, UsedToday: u.Used, ResetsAt: u.ResetsAt,
			QueueDelay: u.QueueDelay.Seconds(), MaxQueueDelay: u.MaxQueueDelay.Seconds(),
			Campaigns: append([]string{}, byCampaign[u.ID]...), Shares: []shareOutput{},
		}
		for _, sh := range u.Shares {
			o.Shares = append(o.Shares, shareOutput{Campaign: sh.Campaign, Worker: sh.Worker, Active: sh.Active, Rate: sh.Rate})
		}
		o.Holds = senderHolds(u)
		out = append(out, o)
	}
	if asJSON {
		writeJSON(a.stdout, out)
		return nil
	}
	if len(out) == 0 {
		fmt.Fprintln(a.stdout, "no senders registered: campaigns send at their own --rate (10 segments/s without one)")
		fmt.Fprintln(a.stdout, "register one with: smsblast senders set +1… --mps N [--daily-cap SEGMENTS]")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SENDER\tKIND\tMPS\tTODAY\tQUEUE DELAY\tCAMPAIGNS (SHARE)\t")
	for i, o := range out {
		u := uses[i]
		mps := fmt.Sprintf("%g", o.MPS)
		if o.EffectiveMPS < o.MPS {
			mps = fmt.Sprintf("%g of %g", round2(o.EffectiveMPS), o.MPS)
		}
		today := fmt.Sprintf("%d segments", o.UsedToday)
		if o.DailyCap > 0 {
			today = fmt.Sprintf("%d / %d (resets %s)", o.UsedToday, o.DailyCap, o.ResetsAt.Format("Jan 2 15:04 MST"))
		}
		delay := "-"
		if u.QueueDelay > 0 {
			delay = u.QueueDelay.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", o.Sender, o.Kind, mps, today, delay, campaignShares(o))
	}
	tw.Flush()
	for _, o := range out {
		for _, h := range o.Holds {
			fmt.Fprintf(a.stdout, "%s: %s\n", o.Sender, h)
		}
	}
	return nil
}

// campaignShares is "spring (6.7/s), fall (idle)" for a sender's campaigns.
func campaignShares(o senderOutput) string {
	rates := map[string]float64{}
	active := map[string]bool{}
	for _, sh := range o.Shares {
		rates[sh.Campaign] += sh.Rate
		active[sh.Campaign] = active[sh.Campaign] || sh.Active
	}
	var parts []string
	for _, c := range o.Campaigns {
		switch {
		case active[c]:
			parts = append(parts, fmt.Sprintf("%s (%g/s)", campaign.Printable(c), round2(rates[c])))
		default:
			parts = append(parts, campaign.Printable(c)+" (not sending)")
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// senderHolds says what holds a sender back now, in words.
func senderHolds(u *campaign.SenderUse) []string {
	var holds []string
	if u.Capped() {
		holds = append(holds, fmt.Sprintf("daily cap of %d segments reached, resumes at %s %s",
			u.DailyCap, u.ResetsAt.Format("15:04"), u.CapZone))
	}
	if u.Factor > 0 && u.Factor < 1 {
		holds = append(holds, fmt.Sprintf("Twilio queues its messages for %v (over %v): sending at %.0f%% of its %g MPS",
			u.QueueDelay.Round(time.Second), u.MaxQueueDelay, 100*u.Factor, u.MPS))
	}
	return holds
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
