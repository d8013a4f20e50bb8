package phone

import (
	"slices"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// TimeZones returns the IANA time zones libphonenumber gives for a number in
// E.164, sorted and comma-separated as recipients.time_zones keeps them
// ("America/New_York"; "America/Chicago,America/New_York" for a number
// whose prefix spans zones); "" when it knows none. It is safe for
// concurrent use.
//
// libphonenumber decides a number's zones by its longest known prefix, so
// the answer for a number is the answer for the first digits of it:
// answers are cached by the number less its last four digits (in North
// America, the area code and exchange).
func TimeZones(e164 string) string {
	key := e164
	if len(key) > 8 {
		key = key[:len(key)-4]
	}
	if v, ok := zoneCache.Load(key); ok {
		return v.(string)
	}
	z := lookupZones(e164)
	zoneCache.Store(key, z)
	return z
}

var zoneCache sync.Map // number less its last four digits → zones

func lookupZones(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return ""
	}
	zones = slices.DeleteFunc(slices.Clone(zones), func(z string) bool { return z == "" || z == "Etc/Unknown" })
	slices.Sort(zones)
	return strings.Join(slices.Compact(zones), ",")
}

// Region returns the ISO 3166 country of a number in E.164 ("US"), or ""
// when libphonenumber cannot tell. Cached like TimeZones.
func Region(e164 string) string {
	key := e164
	if len(key) > 8 {
		key = key[:len(key)-4]
	}
	if v, ok := regionCache.Load(key); ok {
		return v.(string)
	}
	r := ""
	if num, err := phonenumbers.Parse(e164, ""); err == nil {
		r = phonenumbers.GetRegionCodeForNumber(num)
		if r == "ZZ" {
			r = ""
		}
	}
	regionCache.Store(key, r)
	return r
}

var regionCache sync.Map // number less its last four digits → region
