package store_test

import (
	"context"
	"testing"

	"github.com/smsblast/smsblast/campaign"
)

// InReview names the other recipients a candidate message is recorded for
// (evidence that it is theirs), and Resolve never moves a recipient back: a
// callback ranked below the status Twilio's list showed is not applied.
func TestReviewEvidenceAndRank(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 2)
	ctx := context.Background()
	other := &campaign.Campaign{Name: "earlier", From: "+15005550006", BodyTemplate: "hi"}
	if err := st.CreateCampaign(ctx, other); err != nil {
		t.Fatal(err)
	}
	const sid, sid2 = "SM00000000000000000000000000000001", "SM00000000000000000000000000000002"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO recipients (campaign_id, phone, status, message_sid, twilio_status)
		  VALUES ($1, '+14155550000', 'accepted', $2, 'queued')`, []any{other.ID, sid}},
		{`UPDATE recipients SET status = 'review', message_sid = $2, twilio_status = 'delivered'
		  WHERE campaign_id = $1 AND phone = '+14155550000'`, []any{c.ID, sid}},
		{`UPDATE recipients SET status = 'review', message_sid = $2, twilio_status = 'delivered'
		  WHERE campaign_id = $1 AND phone = '+14155550001'`, []any{c.ID, sid2}},
		{`INSERT INTO message_events (message_sid, status, recipient_status, payload)
		  VALUES ($1, 'sent', 'sent', '{}')`, []any{sid2}},
	} {
		if _, err := st.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.InReview(ctx, c.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("InReview: %+v, %v", list, err)
	}
	if got := list[0].AlsoRecordedFor; len(got) != 1 || got[0] != "campaign earlier: +14155550000 (accepted)" {
		t.Errorf("also recorded for %q", got)
	}
	if len(list[1].AlsoRecordedFor) != 0 {
		t.Errorf("also recorded for %q, want none", list[1].AlsoRecordedFor)
	}
	res, err := st.Resolve(ctx, c.ID, true, []string{"+14155550001"})
	if err != nil || len(res.Recipients) != 1 || res.Recipients[0].Status != campaign.Delivered {
		t.Fatalf("Resolve: %+v, %v; want delivered, as listed, not the older sent", res, err)
	}
	var status string
	var unapplied int
	if err := st.Pool().QueryRow(ctx, `
		SELECT status, (SELECT count(*) FROM message_events WHERE applied_at IS NULL)
		FROM recipients WHERE campaign_id = $1 AND phone = '+14155550001'`, c.ID).Scan(&status, &unapplied); err != nil {
		t.Fatal(err)
	}
	if status != "delivered" || unapplied != 0 {
		t.Errorf("after resolve: %s with %d events unapplied; want delivered, none", status, unapplied)
	}
}
