package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/store/pgtest"
)

func TestCreateCampaign(t *testing.T) {
	t.Parallel()
	st := pgtest.Store(t)
	ctx := context.Background()

	// Zero settings take the schema's defaults.
	c := &campaign.Campaign{Name: "defaults", From: "+15005550006", BodyTemplate: "Hi"}
	if err := st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if c.ID == 0 || c.Status != campaign.StatusDraft || c.Rate != 0 || c.Concurrency != 10 || c.MaxAttempts != 5 ||
		c.CreatedAt.IsZero() || c.MessagingServiceSID != "" || c.ValidityPeriod != 0 || c.MaxSegments != 10 || c.SmartEncode {
		t.Errorf("created %+v; want draft with the schema defaults", c)
	}

	// Every column round-trips.
	full := &campaign.Campaign{Name: "full", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		BodyTemplate: "Hi {{.name}}", StatusCallback: "https://example.com/cb", Status: campaign.StatusPaused,
		StatusReason: "because", Rate: 2.5, Concurrency: 3, MaxAttempts: 7, ValidityPeriod: 600,
		SmartEncode: true, MaxSegments: 4}
	want := *full
	if err := st.CreateCampaign(ctx, full); err != nil {
		t.Fatal(err)
	}
	got, err := st.CampaignByName(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	want.ID, want.CreatedAt, want.UpdatedAt = got.ID, got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(*got, want) || !reflect.DeepEqual(*full, want) {
		t.Errorf("read back %+v\ncreated %+v\nwant %+v", got, full, want)
	}

	tests := []struct {
		name    string
		c       campaign.Campaign
		wantErr error
	}{
		{"name taken", campaign.Campaign{Name: "full", From: "+15005550006", BodyTemplate: "Hi"}, campaign.ErrExists},
		{"two senders", campaign.Campaign{Name: "x", From: "+15005550006", MessagingServiceSID: full.MessagingServiceSID, BodyTemplate: "Hi"}, nil},
		{"no body", campaign.Campaign{Name: "y", From: "+15005550006"}, nil},
	}
	for _, tt := range tests {
		err := st.CreateCampaign(ctx, &tt.c)
		if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("%s: %v; want an error (%v)", tt.name, err, tt.wantErr)
		}
	}
	if _, err := st.CampaignByName(ctx, "nope"); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("CampaignByName(nope) = %v; want ErrNotFound", err)
	}
}
