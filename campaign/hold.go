package campaign

import (
	"fmt"
	"time"
)

// HoldReason names why recipients wait although the campaign runs.
type HoldReason string

// Hold reasons, as status and send's summary name them.
const (
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
