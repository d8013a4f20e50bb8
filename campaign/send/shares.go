package send

import (
	"cmp"
	"slices"

	"github.com/smsblast/smsblast/campaign"
)

// senderShare is how many segments per second this worker may send from a
// registered sender, given every live process's use of it (u.Shares, as
// published at the last heartbeats, this worker's own row included).
//
// The sender's effective MPS is split max-min fairly between the campaigns
// with work on it: each gets an equal part unless it wants less (its own
// rate), and what it leaves goes to the others. A campaign's part is split
// equally between its active processes. Then comes the rule that keeps the
// sum under the MPS while processes change their minds one heartbeat apart:
// a worker never takes more than what the others' published rates leave.
// A newcomer so starts low and grows as the others, seeing it, shrink; a
// finished campaign's part goes to the others at their next heartbeat.
func senderShare(u *campaign.SenderUse, me string, campaignID int64, demand float64) float64 {
	capacity := u.EffectiveMPS()
	type part struct {
		demand  float64
		workers int
	}
	parts := map[int64]*part{campaignID: {demand: demand, workers: 1}}
	others := 0.0
	for _, sh := range u.Shares {
		if sh.Worker == me {
			continue
		}
		others += sh.Rate
		if !sh.Active {
			continue
		}
		p := parts[sh.CampaignID]
		if p == nil {
			p = &part{}
			parts[sh.CampaignID] = p
		}
		p.demand += sh.Demand
		p.workers++
	}
	ids := make([]int64, 0, len(parts))
	for id := range parts {
		ids = append(ids, id)
	}
	// Water-filling: the smallest demands are served first, in full if
	// they fit an equal part of what is left.
	slices.SortFunc(ids, func(a, b int64) int {
		return cmp.Or(cmp.Compare(parts[a].demand, parts[b].demand), cmp.Compare(a, b))
	})
	left := capacity
	mine := 0.0
	for i, id := range ids {
		got := min(parts[id].demand, left/float64(len(ids)-i))
		left -= got
		if id == campaignID {
			mine = got / float64(parts[id].workers)
		}
	}
	room := max(capacity-others, 0)
	// A worker with no room waits at a trickle rather than at 0, which the
	// limiter reads as "unlimited".
	return max(min(mine, room), capacity/1000)
}
