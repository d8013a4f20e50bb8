package campaign

import (
	"fmt"
	"slices"
	"time"
)

// HoldReason names why recipients wait although the campaign runs.
type HoldReason string

// Hold reasons, as status and send's summary name them.
const (
	HoldStart    HoldReason = "before start"
	HoldWindow   HoldReason = "outside send window"
	HoldDailyCap HoldReason = "daily cap"
	HoldRetry    HoldReason = "retry back-off"
)

// Hold is recipients held back for one reason, and when sending resumes.
type Hold struct {
	Reason HoldReason `json:"reason"`
	// Detail says what holds them in words ("daily cap of +14155550100 reached").
	Detail string `json:"detail"`
	// Recipients is how many are held; 0 when not known apart.
	Recipients int64 `json:"recipients,omitempty"`
	// Until is when sending resumes; Zone is the time zone to show it in.
	Until time.Time `json:"until"`
	Zone  string    `json:"zone,omitempty"`
}

// String is the hold as `status` prints it:
// "daily cap of +14155550100 reached, resumes at 00:00 America/Los_Angeles".
func (h Hold) String() string {
	at := h.Until
	zone := h.Zone
	if loc, err := time.LoadLocation(zone); zone != "" && err == nil {
		at = at.In(loc)
	} else {
		at, zone = at.Local(), at.Local().Format("MST")
	}
	when := at.Format("15:04")
	if !sameDay(at, time.Now().In(at.Location())) {
		when = at.Format("Mon Jan 2 15:04")
	}
	return fmt.Sprintf("%s, resumes at %s %s", h.Detail, when, zone)
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// SenderHolds are the holds of a campaign's registered senders now: those
// whose daily cap is used up. uses holds the registry's view of them.
func SenderHolds(c *Campaign, uses map[string]*SenderUse) []Hold {
	var holds []Hold
	for _, id := range c.Senders() {
		if u := uses[id]; u != nil && u.Capped() {
			holds = append(holds, Hold{Reason: HoldDailyCap, Until: u.ResetsAt, Zone: u.CapZone,
				Detail: fmt.Sprintf("daily cap of %s reached (%d segments)", id, u.DailyCap)})
		}
	}
	return holds
}

// WindowHolds are the pending recipients waiting for their send window at
// t: pending counts them by time zones (as recipients.time_zones has them),
// one Hold per group that is closed, with when it opens. Recipients whose
// number spans several zones, or has none, are held apart (their Detail
// says so). Stricter rules by prefix are not counted here: they hold more
// recipients at claim time.
func (c *Campaign) WindowHolds(pending map[string]int64, t time.Time) []Hold {
	if c.Window.Any() {
		return nil
	}
	var holds []Hold
	for zones, n := range pending {
		if n == 0 {
			continue
		}
		p := c.PlaceOf("", zones, nil, t)
		if p.Open(t) {
			continue
		}
		h := Hold{Reason: HoldWindow, Recipients: n, Until: p.NextOpen(t)}
		switch {
		case p.Fallback && zones == "":
			h.Zone = p.Zones[0].String()
			h.Detail = fmt.Sprintf("outside send window %s (no time zone known: read in %s)", c.Window, h.Zone)
		case p.Fallback:
			h.Zone = p.Zones[0].String()
			h.Detail = fmt.Sprintf("outside send window %s (zones that never share an open hour: read in %s)", c.Window, h.Zone)
		case len(p.Zones) > 1:
			h.Zone = p.Zones[0].String()
			h.Detail = fmt.Sprintf("outside send window %s in some of their %d zones", c.Window, len(p.Zones))
		default:
			h.Zone = p.Zones[0].String()
			h.Detail = fmt.Sprintf("outside send window %s in %s", c.Window, h.Zone)
		}
		holds = append(holds, h)
	}
	slices.SortFunc(holds, func(a, b Hold) int { return a.Until.Compare(b.Until) })
	return holds
}

// StartHold is the hold of a campaign whose start is still ahead at t.
func (c *Campaign) StartHold(t time.Time, pending int64) []Hold {
	if !c.StartAt.After(t) {
		return nil
	}
	return []Hold{{Reason: HoldStart, Recipients: pending, Until: c.StartAt, Zone: c.TZ,
		Detail: "before start (the campaign starts later)"}}
}
