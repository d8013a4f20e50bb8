package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smsblast/smsblast/campaign"
)

// retry requeues failures worth another try, but never on a canceled
// campaign: that campaign is never sent again, so its verdicts stay.
func TestRequeueRefusesCanceledCampaign(t *testing.T) {
	t.Parallel()
	st, c := sendFixture(t, 4)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `UPDATE recipients SET status = 'failed', error_code = 30003 WHERE campaign_id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetStatus(ctx, c.Name, campaign.StatusCanceled, "test"); err != nil {
		t.Fatal(err)
	}
	n, err := st.Requeue(ctx, c.ID, []int{30003})
	if !errors.Is(err, campaign.ErrCanceled) || n != 0 {
		t.Fatalf("requeue on a canceled campaign: %d rows, %v; want ErrCanceled", n, err)
	}
	var failed int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM recipients WHERE campaign_id = $1 AND status = 'failed' AND error_code = 30003`, c.ID).Scan(&failed); err != nil || failed != 4 {
		t.Errorf("%d rows still failed with 30003 (%v), want 4", failed, err)
	}
}
