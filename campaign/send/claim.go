package send

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
)

// senderSnapshot is what the last heartbeat learned of the campaign's
// registered senders (absent: unregistered). Immutable once stored.
type senderSnapshot struct {
	uses   map[string]*campaign.SenderUse
	rules  []campaign.WindowRule // send_window_rules
	prices campaign.Prices       // the campaign's, for a budget in money
}

// capDays names today's cap day of each sender with a daily cap, as the
// claim locks its usage row: the local date, at UTC midnight.
func (s *senderSnapshot) capDays() map[string]time.Time {
	var days map[string]time.Time
	for id, u := range s.uses {
		if u.DailyCap > 0 && !u.Day.IsZero() {
			if days == nil {
				days = map[string]time.Time{}
			}
			days[id] = time.Date(u.Day.Year(), u.Day.Month(), u.Day.Day(), 0, 0, 0, 0, time.UTC)
		}
	}
	return days
}

// decide says what becomes of each candidate of a claim (ClaimRequest.Decide):
// an opted-out number is skipped; every other recipient gets its sender —
// the pool number it was last texted from, else one chosen for it — and is
// claimed, unless that sender's daily cap cannot take its segments today,
// in which case it waits for the cap day to end. Segments are reserved as
// they are claimed, so one claim never overshoots a cap either.
//
// A recipient outside its send window (in its own time zones, under the
// campaign's window and any stricter rule) waits until the window opens;
// places maps each claimed recipient to its place, for the check made again
// right before its request.
func (r *run) decide(snap *senderSnapshot, st *campaign.ClaimState, now time.Time, places map[int64]*campaign.Place) []campaign.Decision {
	out := make([]campaign.Decision, len(st.Candidates))
	used := st.Usage
	camp := r.camp()
	cache := map[string]*campaign.Place{}
	spent := st.Spent
	contacted := map[string]int{} // claimed in this batch, per phone
	for i := range st.Candidates {
		c := &st.Candidates[i]
		d := &out[i]
		if c.OptedOut {
			d.Skip = "opted out: never texted"
			continue
		}
		if f := camp.Frequency; f.Count > 0 {
			if n := st.Contacts[c.Phone] + contacted[c.Phone]; n >= f.Count {
				d.Skip = fmt.Sprintf("frequency_capped: texted %d times by smsblast campaigns within %v (cap %s)", n, f.Window, f)
				continue
			}
		}
		place := placeOf(camp, c, snap.rules, now, cache)
		if !place.OpenFor(now, r.e.cfg.WindowMargin) {
			*d = campaign.Decision{HoldUntil: reopening(place, now), Hold: campaign.HoldWindow}
			continue
		}
		places[c.RecipientID] = place
		d.Sender = r.pickSender(c)
		d.Sticky = len(r.camp().Pool) > 1 && d.Sender != c.Sticky
		u := snap.uses[d.Sender]
		if u != nil && u.DailyCap > 0 {
			if used[d.Sender]+int64(c.Segments) > u.DailyCap {
				*d = campaign.Decision{Sender: d.Sender, HoldUntil: u.ResetsAt, Hold: campaign.HoldDailyCap}
				continue
			}
		}
		if camp.BudgetSegments > 0 || camp.BudgetAmount > 0 {
			cost, why := r.budgetCost(camp, snap.prices, c, spent)
			if why != "" {
				*d = campaign.Decision{Leave: true}
				r.budgetReached.CompareAndSwap(nil, &why)
				continue
			}
			d.Cost = cost
			spent.Segments += int64(c.Segments)
			spent.Amount += cost
		}
		if u != nil && u.DailyCap > 0 {
			used[d.Sender] += int64(c.Segments)
			d.Reserve = true
		}
		contacted[c.Phone]++
	}
	return out
}

// budgetCost is what texting a candidate costs the campaign's budget in
// money (segments × the price of its country), or why the budget cannot
// take it: spent, or no price for its country.
func (r *run) budgetCost(camp *campaign.Campaign, prices campaign.Prices, c *campaign.Candidate, spent campaign.Spent) (float64, string) {
	if camp.BudgetSegments > 0 && spent.Segments+int64(c.Segments) > camp.BudgetSegments {
		return 0, fmt.Sprintf("budget reached: %d segments", camp.BudgetSegments)
	}
	if camp.BudgetAmount <= 0 {
		return 0, ""
	}
	country := phone.Region(c.Phone)
	p, ok := prices.Of(country)
	if !ok {
		return 0, fmt.Sprintf("budget in money, but no price for %s (a recipient %s): add one with smsblast set --prices",
			orUnknown(country), campaign.MaskPhone(c.Phone))
	}
	cost := float64(c.Segments) * p.PerSegment
	if spent.Amount+cost > camp.BudgetAmount+1e-9 {
		return 0, fmt.Sprintf("budget reached: %.2f %s", camp.BudgetAmount, p.Currency)
	}
	return cost, ""
}

func orUnknown(country string) string {
	if country == "" {
		return "an unknown country"
	}
	return country
}

// placeOf is a candidate's place, shared by candidates with the same zones
// and the same rules within one claim.
func placeOf(c *campaign.Campaign, cand *campaign.Candidate, rules []campaign.WindowRule, now time.Time, cache map[string]*campaign.Place) *campaign.Place {
	var key strings.Builder
	key.WriteString(cand.TimeZones)
	for i, rule := range rules {
		if strings.HasPrefix(cand.Phone, rule.Prefix) {
			fmt.Fprintf(&key, "|%d", i)
		}
	}
	if p := cache[key.String()]; p != nil {
		return p
	}
	p := c.PlaceOf(cand.Phone, cand.TimeZones, rules, now)
	cache[key.String()] = &p
	return &p
}

// reopening is when a closed (or closing) place opens again; a day from
// now if its windows never open in the days ahead (then it is looked at
// again).
func reopening(p *campaign.Place, now time.Time) time.Time {
	if p.Open(now) { // closing within the margin: the next opening after the close
		for t := now.Add(time.Minute); t.Before(now.Add(48 * time.Hour)); t = t.Add(time.Minute) {
			if !p.Open(t) {
				now = t
				break
			}
		}
	}
	if next := p.NextOpen(now); !next.IsZero() {
		return next
	}
	return now.Add(24 * time.Hour)
}

// allCapped reports whether every sender of the campaign has used its daily
// cap: then nothing is claimed at all (rather than every due recipient being
// read and held, one write each) until the cap day ends or a cap is raised.
func (s *senderSnapshot) allCapped(c *campaign.Campaign) bool {
	for _, id := range c.Senders() {
		if u := s.uses[id]; u == nil || !u.Capped() {
			return false
		}
	}
	return true
}

// pickSender is the number a recipient is sent from: its sticky sender when
// that is still in the pool; else, with geomatch, a pool number with its area
// code; else one spread by a hash of the phone, the same for the same pool.
func (r *run) pickSender(c *campaign.Candidate) string {
	pool := r.camp().Pool
	if len(pool) < 2 {
		return r.camp().Sender()
	}
	if c.Sticky != "" && slices.Contains(pool, c.Sticky) {
		return c.Sticky
	}
	if r.camp().Geomatch {
		if area := areaCode(c.Phone); area != "" {
			for _, p := range pool {
				if areaCode(p) == area {
					return p
				}
			}
		}
	}
	h := fnv.New32a()
	h.Write([]byte(c.Phone))
	return pool[h.Sum32()%uint32(len(pool))]
}

// areaCode is a North American number's area code, "" for other numbers.
func areaCode(e164 string) string {
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") {
		return e164[2:5]
	}
	return ""
}

// holdLog counts recipients held back by claims during a run.
type holdLog struct {
	mu   sync.Mutex
	held int64
}

func (h *holdLog) add(n int) {
	h.mu.Lock()
	h.held += int64(n)
	h.mu.Unlock()
}
