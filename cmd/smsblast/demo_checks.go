package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/csvimport"
	"github.com/smsblast/smsblast/store"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// The demo's checks: what its file and the simulated Twilio promise, and
// whether the story held them. The demo is a smoke test as well as a tour:
// it exits 1 when a check fails. Each check is recorded where the story
// can see it (the import's counts right after the import, and so on), and
// the exactly-once checks compare the database with what the simulator
// holds at the end.

// What the demo's file holds (see demoCSV in demo_csv_test.go) and so what
// its import must report.
const (
	demoRead       = 2556
	demoImported   = 2507
	demoDuplicates = 40
	demoRejected   = 9
	demoOptedOut   = "+15005550004"
)

// demoRefused are Twilio's magic test numbers that fail on create, with
// their codes (Twilio documents them for test credentials). +15005550004 (21610) is the opted-out one.
var demoRefused = map[string]int{
	"+15005550001": 21211,
	"+15005550002": 21612,
	"+15005550003": 21408,
	"+15005550009": 21614,
}

// demoCarrierFailures are recipients of the demo file whose messages the
// simulated carriers refuse after Twilio accepted them, reported by status
// callback; on top of these, a few percent end undelivered at random.
var demoCarrierFailures = map[string]int{
	"+15102000007": 30006, // a landline
	"+16462000333": 30005, // unknown handset
	"+12122001234": 30004, // blocked
}

// check records whether one claim of the story held.
func (d *demo) check(ok bool, what string, gotf string, args ...any) {
	c := demoCheck{What: what, OK: ok}
	if !ok {
		c.Got = fmt.Sprintf(gotf, args...)
	}
	d.report.Checks = append(d.report.Checks, c)
}

// checkImport: the import's counts are the file's.
func (d *demo) checkImport(res *csvimport.Result) {
	d.check(res.Read == demoRead && res.Imported == demoImported && res.Duplicates == demoDuplicates && res.Rejected == demoRejected,
		fmt.Sprintf("import: %d rows read, %d imported, %d duplicates (national formats of numbers already in the file), %d rejected",
			demoRead, demoImported, demoDuplicates, demoRejected),
		"%d read, %d imported, %d duplicates, %d rejected", res.Read, res.Imported, res.Duplicates, res.Rejected)
}

// checkInterrupted: the interrupted send had done some of the work and
// left the rest for the resume.
func (d *demo) checkInterrupted(at int64, rem campaign.Remaining) {
	d.check(at > 0 && rem.Pending > 0,
		"interrupted halfway: the sender stopped claiming, finished its requests in flight and exited",
		"%d done before the interrupt, then %d pending", at, rem.Pending)
}

// checkDelivered: no message Twilio accepted is still waiting for its
// receipt once awaitDelivery gave up waiting.
func (d *demo) checkDelivered(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server, waiting int64, waited time.Duration) {
	var stuck string
	if waiting > 0 {
		stuck = d.stuck(ctx, st, c, sim)
	}
	d.check(waiting == 0, "every message Twilio accepted reached a final status through its callbacks",
		"%d accepted or sent still waiting after %v: %s", waiting, waited.Round(time.Second), stuck)
}

// stuck describes a few recipients still waiting for a final status, with
// what Twilio says of their message, so a failed check points at the cause.
func (d *demo) stuck(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) string {
	var out []string
	err := st.Results(ctx, c.ID, []campaign.RecipientStatus{campaign.Accepted, campaign.Sent}, func(r *campaign.Result) error {
		if len(out) == 5 {
			return errEnough
		}
		twilioSays := "unknown to Twilio"
		if m, ok := sim.Message(r.MessageSID); ok {
			twilioSays = "Twilio says " + m.Status
		}
		out = append(out, fmt.Sprintf("%s is %s, sid %s, %s", r.Phone, r.Status, r.MessageSID, twilioSays))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err.Error()
	}
	return strings.Join(out, "; ")
}

// errEnough stops a walk over results early.
var errEnough = errors.New("enough")

// verify checks the end of the story: the database against what the
// simulated Twilio holds.
func (d *demo) verify(ctx context.Context, st *store.Store, c *campaign.Campaign, sim *twiliosim.Server) error {
	byPhone := map[string]*campaign.Result{}
	err := st.Results(ctx, c.ID, nil, func(r *campaign.Result) error {
		kept := *r // Results reuses r
		byPhone[r.Phone] = &kept
		return nil
	})
	if err != nil {
		return err
	}
	msgs := sim.Messages()
	byTo := map[string][]twiliosim.Message{}
	for _, m := range msgs {
		byTo[m.To] = append(byTo[m.To], m)
	}

	d.check(len(byPhone) == demoImported, fmt.Sprintf("duplicates not imported: %d recipients in the database", demoImported),
		"%d recipients", len(byPhone))

	// Exactly once: every recipient Twilio took has exactly one message,
	// the one whose sid the database holds; nobody else has any.
	var twice, missing, strays, unsent []string
	wantSent := 0
	for phone, r := range byPhone {
		got := byTo[phone]
		switch r.Status {
		case campaign.Accepted, campaign.Sent, campaign.Delivered, campaign.Undelivered:
			wantSent++
			if len(got) != 1 {
				twice = append(twice, fmt.Sprintf("%s has %d messages", phone, len(got)))
			} else if got[0].SID != r.MessageSID {
				missing = append(missing, fmt.Sprintf("%s: database sid %s, Twilio %s", phone, r.MessageSID, got[0].SID))
			}
		case campaign.Pending, campaign.Sending:
			unsent = append(unsent, phone+" "+string(r.Status))
		default: // failed or skipped: Twilio refused, nothing was created
			if len(got) != 0 && r.ErrorCode < 30000 {
				strays = append(strays, fmt.Sprintf("%s is %s but has %d messages", phone, r.Status, len(got)))
			}
		}
	}
	for to := range byTo {
		if _, ok := byPhone[to]; !ok {
			strays = append(strays, to+" is not a recipient")
		}
	}
	wantMessages := demoImported - len(demoRefused) - 1
	d.check(len(twice) == 0 && len(missing) == 0 && len(msgs) == wantMessages,
		fmt.Sprintf("exactly once: each of the %d valid recipients has exactly one message in Twilio, with the sid the database recorded", wantMessages),
		"%d messages for %d sendable recipients; %s", len(msgs), wantSent, firstFew(append(twice, missing...)))
	d.check(len(unsent) == 0 && len(strays) == 0, "nobody skipped: no recipient left pending or sending, no message to anyone else",
		"%s", firstFew(append(unsent, strays...)))

	var wrong []string
	for phone, code := range demoRefused {
		if r := byPhone[phone]; r == nil || r.Status != campaign.Failed || r.ErrorCode != code {
			wrong = append(wrong, fmt.Sprintf("%s: %s, want failed %d", phone, describeResult(r), code))
		}
	}
	sort.Strings(wrong)
	d.check(len(wrong) == 0, "Twilio's magic numbers failed with their codes: 21211, 21612, 21408, 21614", "%s", firstFew(wrong))

	r := byPhone[demoOptedOut]
	optedOut := r != nil && r.OptedOutAt != nil
	d.check(optedOut && r.Status == campaign.Skipped && len(byTo[demoOptedOut]) == 0,
		"the opted-out number (21610) was skipped, never texted, and is in opt_outs",
		"%s is %s with %d messages; in opt_outs: %v", demoOptedOut, describeResult(r), len(byTo[demoOptedOut]), optedOut)

	wrong = wrong[:0]
	for phone, code := range demoCarrierFailures {
		if r := byPhone[phone]; r == nil || r.Status != campaign.Undelivered || r.ErrorCode != code {
			wrong = append(wrong, fmt.Sprintf("%s: %s, want undelivered %d", phone, describeResult(r), code))
		}
	}
	sort.Strings(wrong)
	d.check(len(wrong) == 0, "carrier failures arrived by callback with their codes: 30006, 30005, 30004", "%s", firstFew(wrong))

	return nil
}

func firstFew(s []string) string {
	sort.Strings(s)
	if len(s) > 5 {
		return strings.Join(s[:5], "; ") + fmt.Sprintf("; … %d more", len(s)-5)
	}
	return strings.Join(s, "; ")
}

// describeResult is a recipient's state and code for a failed check.
func describeResult(r *campaign.Result) string {
	if r == nil {
		return "not imported"
	}
	return fmt.Sprintf("%s %d", r.Status, r.ErrorCode)
}
