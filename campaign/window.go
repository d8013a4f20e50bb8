package campaign

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Window is the time of day messages may be sent, in the recipient's local
// time: from Start to End, minutes after midnight; End before Start wraps
// midnight (22:00-06:00). The zero Window means any time.
type Window struct {
	Start, End int // minutes after local midnight; Start == End: any time
}

// DefaultWindow is new campaigns' send window: in the US, telemarketing texts
// may be sent only between 8 am and 9 pm at the called party's location
// (47 CFR 64.1200(c)(1)).
var DefaultWindow = Window{Start: 8 * 60, End: 21 * 60}

// AnyTime is no send window at all.
var AnyTime = Window{}

// ParseWindow reads "HH:MM-HH:MM" (24-hour clock, local to the recipient)
// or "any".
func ParseWindow(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "any") {
		return AnyTime, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not HH:MM-HH:MM (or any)", s)
	}
	start, err := parseClock(from)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	end, err := parseClock(to)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	if start == end {
		return Window{}, fmt.Errorf("%q opens and closes at the same time: use any for no window", s)
	}
	return Window{Start: start, End: end}, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, fmt.Errorf("%q is not a time of day like 08:00", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Any reports whether the window allows any time.
func (w Window) Any() bool { return w.Start%(24*60) == w.End%(24*60) }

func (w Window) String() string {
	if w.Any() {
		return "any"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// openAt reports whether minute m of the local day (0-1439) is inside.
func (w Window) openAt(m int) bool {
	if w.Any() {
		return true
	}
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End // wraps midnight
}

// Open reports whether t, read in loc, is inside the window.
func (w Window) Open(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	return w.openAt(l.Hour()*60 + l.Minute())
}

// opensAfter lists the window's openings in loc after t, over the next
// three days: the instants at which it may become open. Each is built with
// time.Date in loc, so a DST change moves it as the local clock does (an
// opening in a skipped hour lands after the gap).
func (w Window) opensAfter(t time.Time, loc *time.Location) []time.Time {
	l := t.In(loc)
	var out []time.Time
	for d := range 3 {
		day := time.Date(l.Year(), l.Month(), l.Day()+d, 0, 0, 0, 0, loc)
		at := time.Date(day.Year(), day.Month(), day.Day(), w.Start/60, w.Start%60, 0, 0, loc)
		if a := at.In(loc); a.Hour()*60+a.Minute() != w.Start {
			// The opening falls in a skipped hour (spring forward): the
			// window opens when the clock jumps past it.
			for i := 0; i < 180; i++ {
				at = at.Add(time.Minute)
				if a := at.In(loc); a.Day() == day.Day() && a.Hour()*60+a.Minute() >= w.Start {
					break
				}
			}
		}
		if at.After(t) {
			out = append(out, at)
		}
	}
	return out
}

// Place is where (in time) a recipient is: the zones its number spans, and
// the windows that apply to it (the campaign's and any stricter local
// rules). It is open when every window is open in every zone.
type Place struct {
	Zones   []*time.Location
	Windows []Window
	// Fallback: the number's own zones were unknown or never all open at
	// once, so Zones is the campaign's window zone.
	Fallback bool
}

// Open reports whether the recipient may be texted at t.
func (p *Place) Open(t time.Time) bool {
	for _, w := range p.Windows {
		for _, z := range p.Zones {
			if !w.Open(t, z) {
				return false
			}
		}
	}
	return true
}

// OpenFor reports whether the recipient may be texted from t and still at
// t+d: a request started at t may reach Twilio up to d later, and Twilio
// dates the message when it arrives.
func (p *Place) OpenFor(t time.Time, d time.Duration) bool {
	return p.Open(t) && p.Open(t.Add(d))
}

// NextOpen is the first instant at or after t when the recipient may be
// texted; zero when that never happens in the next three days (windows of
// zones too far apart never overlap: a US toll-free number spans every zone
// from Guam to Newfoundland).
func (p *Place) NextOpen(t time.Time) time.Time {
	if p.Open(t) {
		return t
	}
	var best time.Time
	for _, w := range p.Windows {
		for _, z := range p.Zones {
			for _, at := range w.opensAfter(t, z) {
				if (best.IsZero() || at.Before(best)) && p.Open(at) {
					best = at
				}
			}
		}
	}
	return best
}

// Overlaps reports whether the windows are ever open in all the zones at
// once.
func (p *Place) Overlaps(t time.Time) bool { return !p.NextOpen(t).IsZero() }

// zoneCache keeps loaded time zones: time.LoadLocation reads the zone
// database on every call.
var zoneCache sync.Map // string → *time.Location or error

// LoadZone is time.LoadLocation, cached.
func LoadZone(name string) (*time.Location, error) {
	if v, ok := zoneCache.Load(name); ok {
		if loc, ok := v.(*time.Location); ok {
			return loc, nil
		}
		return nil, v.(error)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		zoneCache.Store(name, err)
		return nil, err
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

// ParseZones reads recipients.time_zones ("America/Chicago,America/New_York").
// Unknown names are left out.
func ParseZones(s string) []*time.Location {
	if s == "" {
		return nil
	}
	var out []*time.Location
	for _, name := range strings.Split(s, ",") {
		if loc, err := LoadZone(name); err == nil {
			out = append(out, loc)
		}
	}
	return out
}

// WindowRule is a stricter local send window (send_window_rules): numbers
// starting with Prefix ("+1" a country, "+1212" an area code) may only be
// texted inside Window as well.
type WindowRule struct {
	Prefix string
	Window Window
	Note   string
}

// WindowZone is the zone the campaign's window is read in for a number
// without a usable zone of its own: WindowTZ, else TZ, else the machine's.
func (c *Campaign) WindowZone() *time.Location {
	for _, name := range []string{c.WindowTZ, c.TZ} {
		if name == "" {
			continue
		}
		if loc, err := LoadZone(name); err == nil {
			return loc
		}
	}
	return time.Local
}

// PlaceOf is where, in time, a recipient of the campaign is: the zones of
// its number (timeZones, as recipients.time_zones has them) and the windows
// that apply — the campaign's and every rule whose prefix the number has (the
// strictest wins, since all must be open). A number with no zone, or whose
// zones' windows never overlap within a few days of t, is read in the
// campaign's window zone instead (Fallback).
func (c *Campaign) PlaceOf(phone, timeZones string, rules []WindowRule, t time.Time) Place {
	var p Place
	if !c.Window.Any() {
		p.Windows = append(p.Windows, c.Window)
	}
	for _, r := range rules {
		if strings.HasPrefix(phone, r.Prefix) && !r.Window.Any() {
			p.Windows = append(p.Windows, r.Window)
		}
	}
	if len(p.Windows) == 0 {
		return p // any time
	}
	p.Zones = ParseZones(timeZones)
	if len(p.Zones) == 0 || !p.Overlaps(t) {
		p.Zones, p.Fallback = []*time.Location{c.WindowZone()}, true
	}
	return p
}
