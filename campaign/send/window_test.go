package send_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/phone"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// usAreaCodes are one area code per US time zone, with the zone.
var usAreaCodes = []string{"212", "312", "303", "602", "415", "907", "808"}

// fastClock is a clock that runs speed times faster than real time from
// start: a day passes in 24 real seconds at 3600.
func fastClock(start time.Time, speed float64) func() time.Time {
	real0 := time.Now()
	return func() time.Time {
		return start.Add(time.Duration(float64(time.Since(real0)) * speed))
	}
}

// A simulated day: 10,000 recipients in every US time zone, a campaign with
// the default 08:00-21:00 window, the engine and the simulator on a clock
// that runs 40 minutes a second from midnight UTC on the day the US springs
// forward (a request's few real milliseconds are minutes of it: the engine
// stops sending to a zone 5 simulated minutes before its window closes). Everyone is texted, and no message is created outside its
// recipient's window, by the simulator's date_created in the recipient's
// own zone.
func TestSendWindowsOverASimulatedDay(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	clock := fastClock(start, 2400)
	b := setup(t, twiliosim.Options{Now: clock})
	ctx := context.Background()
	c := &campaign.Campaign{Name: "day", From: validFrom, BodyTemplate: "Hi {{.name}}", Concurrency: 16,
		MaxAttempts: 5, Rate: 1e6, Window: campaign.DefaultWindow, TZ: "America/New_York"}
	if err := b.st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	zoneOf := map[string]string{}
	rows := make([][]any, n)
	for i := range rows {
		p := fmt.Sprintf("+1%s555%04d", usAreaCodes[i%len(usAreaCodes)], i/len(usAreaCodes))
		zoneOf[p] = phone.TimeZones(p)
		rows[i] = []any{c.ID, p, map[string]string{"name": fmt.Sprint(i)}, zoneOf[p], start}
	}
	if _, err := b.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"},
		[]string{"campaign_id", "phone", "attrs", "time_zones", "next_attempt_at"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	b.c = c
	e := b.engine(t, send.Config{Now: clock, WindowMargin: 5 * time.Minute})
	sum, err := e.Run(ctx, ctx, "day")
	if err != nil || !sum.Done {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	msgs := b.sim.Messages()
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	perZone := map[string]int{}
	for _, m := range msgs {
		for _, name := range strings.Split(zoneOf[m.To], ",") { // Alaska's 907 spans two zones
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Fatalf("%s: zone %q: %v", m.To, name, err)
			}
			local := m.DateCreated.In(loc)
			if mins := local.Hour()*60 + local.Minute(); mins < 8*60 || mins >= 21*60 {
				t.Errorf("%s texted at %s local time, outside 08:00-21:00", m.To, local.Format("15:04 MST"))
			}
		}
		perZone[zoneOf[m.To]]++
	}
	if len(perZone) != len(usAreaCodes) {
		t.Errorf("messages by zone: %v", perZone)
	}
	t.Logf("the simulated day ended at %s UTC; messages by zone: %v", clock().UTC().Format("Jan 2 15:04"), perZone)
}
