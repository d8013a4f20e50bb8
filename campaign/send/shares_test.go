package send

import (
	"math"
	"testing"

	"github.com/smsblast/smsblast/campaign"
)

func TestSenderShare(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	use := func(mps float64, shares ...campaign.SenderShare) *campaign.SenderUse {
		return &campaign.SenderUse{Sender: campaign.Sender{ID: "+14155550100", MPS: mps}, Factor: 1, Shares: shares}
	}
	share := func(worker string, campaignID int64, active bool, demand, rate float64) campaign.SenderShare {
		return campaign.SenderShare{Worker: worker, CampaignID: campaignID, Active: active, Demand: demand, Rate: rate}
	}
	tests := []struct {
		name   string
		u      *campaign.SenderUse
		demand float64
		want   float64
	}{
		{"alone", use(40), inf, 40},
		{"alone, own rate lower", use(40), 10, 10},
		{"two campaigns settled", use(40, share("me", 1, true, inf, 20), share("w2", 2, true, inf, 20)), inf, 20},
		{"newcomer waits for room", use(40, share("w2", 2, true, inf, 40)), inf, 0.04},
		{"room partly made", use(40, share("w2", 2, true, inf, 30)), inf, 10},
		{"other campaign wants little", use(40, share("w2", 2, true, 5, 5)), inf, 35},
		{"two workers of my campaign", use(40, share("w2", 1, true, inf, 20)), inf, 20},
		{"my campaign's two workers and another campaign",
			use(40, share("w2", 1, true, inf, 10), share("w3", 2, true, inf, 20)), inf, 10},
		{"an idle campaign leaves its part", use(40, share("w2", 2, false, inf, 0)), inf, 40},
		{"queue-delay guard halves the MPS", &campaign.SenderUse{Sender: campaign.Sender{MPS: 40}, Factor: 0.5}, inf, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := senderShare(tt.u, "me", 1, tt.demand); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("share %v, want %v", got, tt.want)
			}
		})
	}
}

// Whatever the others published, the shares computed from one snapshot
// never add up to more than the sender's MPS.
func TestSenderSharesNeverExceedMPS(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	rates := map[string]float64{"a": 40, "b": 0, "c": 0}
	campaigns := map[string]int64{"a": 1, "b": 2, "c": 2}
	for round := range 6 {
		shares := make([]campaign.SenderShare, 0, len(rates))
		for w, r := range rates {
			shares = append(shares, campaign.SenderShare{Worker: w, CampaignID: campaigns[w], Active: true, Demand: inf, Rate: r})
		}
		u := &campaign.SenderUse{Sender: campaign.Sender{MPS: 40}, Factor: 1, Shares: shares}
		next := map[string]float64{}
		sum := 0.0
		for w := range rates {
			next[w] = senderShare(u, w, campaigns[w], inf)
			sum += next[w]
		}
		if sum > 40*1.001+0.1 {
			t.Fatalf("round %d: shares %v add up to %v > 40", round, next, sum)
		}
		rates = next
	}
	// Settled: campaign 1 (one worker) 20, campaign 2's two workers 10 each.
	if math.Abs(rates["a"]-20) > 0.1 || math.Abs(rates["b"]-10) > 0.1 || math.Abs(rates["c"]-10) > 0.1 {
		t.Errorf("settled at %v, want a 20, b 10, c 10", rates)
	}
}
