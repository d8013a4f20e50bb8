package send

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

// senderSnapshot is what the last heartbeat learned of the campaign's
// registered senders (absent: unregistered). Immutable once stored.
type senderSnapshot struct {
	uses  map[string]*campaign.SenderUse
	rules []campaign.WindowRule // send_window_rules
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
	for i := range st.Candidates {
		c := &st.Candidates[i]
		d := &out[i]
		if c.OptedOut {
			d.Skip = "opted out: never texted"
			continue
		}
		place := placeOf(camp, c, snap.rules, now, cache)
		if !place.Open(now) {
			*d = campaign.Decision{HoldUntil: reopening(place, now), Hold: campaign.HoldWindow}
			continue
		}
		places[c.RecipientID] = place
		d.Sender = r.pickSender(c)
		d.Sticky = len(r.camp().Pool) > 1 && d.Sender != c.Sticky
		u := snap.uses[d.Sender]
		if u == nil || u.DailyCap <= 0 {
			continue
		}
		if used[d.Sender]+int64(c.Segments) > u.DailyCap {
			*d = campaign.Decision{Sender: d.Sender, HoldUntil: u.ResetsAt, Hold: campaign.HoldDailyCap}
			continue
		}
		used[d.Sender] += int64(c.Segments)
		d.Reserve = true
	}
	return out
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

// reopening is when a closed place opens again; a day from now if its
// windows never open in the days ahead (then it is looked at again).
func reopening(p *campaign.Place, now time.Time) time.Time {
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
