package main

import (
	"context"
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// The queue-delay guard: a number registered at 200 MPS that Twilio (the
// simulator) drains at 50/s queues its messages for seconds; the 'sent'
// callbacks show it, and the sender's factor drops, so every process sends
// from it at 70% of the declared MPS, and status and senders say so.
func TestQueueDelayGuard(t *testing.T) {
	t.Parallel()
	b := newDeliveryBundle(t, false)
	b.withSim(t, twiliosim.Options{SenderMPS: 50})
	ctx := context.Background()
	if err := b.st.SetSender(ctx, campaign.Sender{ID: "+15005550006", Kind: campaign.LongCode, MPS: 200, MaxQueueDelay: time.Second}); err != nil {
		t.Fatal(err)
	}
	b.newCampaign(t, 200) // at 200/s into a 50/s queue: the last waits about 3 s
	b.send(t)
	// Callbacks of the last messages arrive as the queue drains.
	var n int
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := b.st.Pool().QueryRow(ctx, `SELECT count(*) FROM message_events WHERE status = 'sent'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n < 150 {
		t.Fatalf("%d 'sent' callbacks after 20 s", n)
	}
	if got, err := b.st.ObserveSenderQueues(ctx, time.Minute); err != nil || got != 1 {
		t.Fatalf("observed %d senders, %v", got, err)
	}
	uses, err := b.st.SenderUses(ctx, time.Now(), time.Minute)
	if err != nil || len(uses) != 1 {
		t.Fatalf("senders: %v, %v", uses, err)
	}
	u := uses[0]
	t.Logf("queue delay %v (90th percentile), factor %.2f", u.QueueDelay, u.Factor)
	if u.QueueDelay < 2*time.Second || u.Factor != 0.7 || u.EffectiveMPS() != 140 {
		t.Errorf("queue delay %v, factor %v, effective MPS %v; want ≥ 2s, 0.7, 140", u.QueueDelay, u.Factor, u.EffectiveMPS())
	}
	// A second look within 30 s does not cut again: the queue needs time to
	// show what the first cut did.
	if _, err := b.st.ObserveSenderQueues(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if uses, _ := b.st.SenderUses(ctx, time.Now(), time.Minute); uses[0].Factor != 0.7 {
		t.Errorf("factor %v after a second look at once, want still 0.7", uses[0].Factor)
	}
	if holds := senderHolds(u); len(holds) != 1 {
		t.Errorf("senders does not say the sender is slowed down: %v", holds)
	}
}
