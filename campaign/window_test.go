package campaign_test

import (
	"testing"
	"time"

	"github.com/smsblast/smsblast/campaign"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want string
		err  bool
	}{
		{"08:00-21:00", "08:00-21:00", false},
		{" 22:00-06:30 ", "22:00-06:30", false},
		{"any", "any", false},
		{"ANY", "any", false},
		{"8-21", "", true},
		{"08:00", "", true},
		{"25:00-06:00", "", true},
		{"08:00-08:00", "", true},
		{"08:60-09:00", "", true},
	} {
		w, err := campaign.ParseWindow(tt.in)
		if (err != nil) != tt.err || (err == nil && w.String() != tt.want) {
			t.Errorf("ParseWindow(%q) = %v, %v; want %q (error %v)", tt.in, w, err, tt.want, tt.err)
		}
	}
}

func TestWindowOpenAndNext(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	la := mustZone(t, "America/Los_Angeles")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	day := campaign.DefaultWindow
	night, _ := campaign.ParseWindow("22:00-06:00")
	tests := []struct {
		name  string
		place campaign.Place
		now   time.Time
		open  bool
		next  time.Time // when closed
	}{
		{"inside", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 12, 0), true, time.Time{}},
		{"closes at 21:00 sharp", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 21, 0), false, at(ny, 2026, 6, 2, 8, 0)},
		{"opens at 08:00 sharp", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 8, 0), true, time.Time{}},
		{"before dawn", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 5, 0), false, at(ny, 2026, 6, 1, 8, 0)},
		{"wraps midnight: open at 23:00", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{night}}, at(ny, 2026, 6, 1, 23, 0), true, time.Time{}},
		{"wraps midnight: open at 03:00", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{night}}, at(ny, 2026, 6, 1, 3, 0), true, time.Time{}},
		{"wraps midnight: closed at noon", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{night}}, at(ny, 2026, 6, 1, 12, 0), false, at(ny, 2026, 6, 1, 22, 0)},
		// Spring forward (2026-03-08 02:00 → 03:00 in New York): the
		// morning's 08:00 is 12:00 UTC, not 13:00 as the day before.
		{"spring forward", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 3, 7, 22, 0), false, time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)},
		// Fall back (2026-11-01 02:00 → 01:00): 08:00 is 13:00 UTC.
		{"fall back", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day}}, at(ny, 2026, 10, 31, 22, 0), false, time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC)},
		// A window opening in the skipped hour opens when the clock jumps
		// from 02:00 EST to 03:00 EDT.
		{"opening in the skipped hour", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{{Start: 2*60 + 30, End: 5 * 60}}}, at(ny, 2026, 3, 8, 1, 0), false, time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)},
		// Spanning New York and Los Angeles: open only when both are.
		{"two zones, LA still asleep", campaign.Place{Zones: []*time.Location{ny, la}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 9, 0), false, at(la, 2026, 6, 1, 8, 0)},
		{"two zones, both awake", campaign.Place{Zones: []*time.Location{ny, la}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 12, 0), true, time.Time{}},
		{"two zones, NY closed", campaign.Place{Zones: []*time.Location{ny, la}, Windows: []campaign.Window{day}}, at(ny, 2026, 6, 1, 21, 30), false, at(la, 2026, 6, 2, 8, 0)},
		// A stricter rule: 08:00-20:00 within 08:00-21:00.
		{"stricter rule", campaign.Place{Zones: []*time.Location{ny}, Windows: []campaign.Window{day, {Start: 8 * 60, End: 20 * 60}}}, at(ny, 2026, 6, 1, 20, 30), false, at(ny, 2026, 6, 2, 8, 0)},
		{"no window", campaign.Place{}, at(ny, 2026, 6, 1, 3, 0), true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.place.Open(tt.now); got != tt.open {
				t.Fatalf("Open(%v) = %v", tt.now, got)
			}
			next := tt.place.NextOpen(tt.now)
			if tt.open {
				if !next.Equal(tt.now) {
					t.Errorf("NextOpen of an open place = %v, want now", next)
				}
				return
			}
			if !next.Equal(tt.next) {
				t.Errorf("NextOpen(%v) = %v, want %v", tt.now, next.UTC(), tt.next.UTC())
			}
		})
	}
}

// A number spanning many zones is texted only when its window is open in
// all of them; one whose zones' windows never overlap, or that has no zone,
// is read in the campaign's window zone; rules apply by prefix, the
// strictest winning.
func TestPlaceOf(t *testing.T) {
	t.Parallel()
	c := &campaign.Campaign{Window: campaign.DefaultWindow, TZ: "America/Chicago"}
	now := time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC) // 12:00 in Chicago
	// libphonenumber's zones for a US toll-free number: Pago Pago (UTC-11)
	// to Guam (UTC+10), 3 hours apart the short way round the clock, so
	// 08:00-21:00 is open everywhere from 22:00 to about 00:30 UTC.
	tollFree := "Pacific/Pago_Pago,Pacific/Honolulu,America/Anchorage,America/Los_Angeles,America/Chicago,America/New_York,America/St_Johns,Pacific/Guam"
	p := c.PlaceOf("+18005550100", tollFree, nil, now)
	if p.Fallback || p.Open(now) || !p.Open(time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("toll-free: fallback %v, open at noon Chicago %v; want its own zones, open only when all are", p.Fallback, p.Open(now))
	}
	// Zones whose windows never meet: a 2-hour window in Tokyo and New York.
	narrow := &campaign.Campaign{Window: campaign.Window{Start: 9 * 60, End: 11 * 60}, TZ: "America/Chicago"}
	if p := narrow.PlaceOf("+15555550100", "Asia/Tokyo,America/New_York", nil, now); !p.Fallback || p.Zones[0].String() != "America/Chicago" {
		t.Errorf("zones that never overlap: fallback %v, zones %v; want the campaign's zone", p.Fallback, p.Zones)
	}
	if p := c.PlaceOf("+14155550100", "", nil, now); !p.Fallback {
		t.Error("a number with no zone is not read in the campaign's zone")
	}
	rules := []campaign.WindowRule{{Prefix: "+1212", Window: campaign.Window{Start: 9 * 60, End: 20 * 60}}, {Prefix: "+44", Window: campaign.Window{Start: 0, End: 60}}}
	p = c.PlaceOf("+12125550100", "America/New_York", rules, now)
	if len(p.Windows) != 2 || p.Fallback {
		t.Errorf("+1212 with a rule: windows %v, fallback %v", p.Windows, p.Fallback)
	}
	at8 := time.Date(2026, 6, 1, 12, 30, 0, 0, time.UTC) // 08:30 New York: the campaign's window is open, the rule's not
	if p.Open(at8) {
		t.Error("a stricter rule does not hold the recipient back")
	}
	if p := (&campaign.Campaign{}).PlaceOf("+14155550100", "America/Los_Angeles", rules, now); len(p.Windows) != 0 || !p.Open(now) {
		t.Error("a campaign without a window holds a recipient back")
	}
}
