package phone

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// TimeZones returns the IANA time zones libphonenumber gives for a number in
// E.164, sorted and comma-separated as recipients.time_zones keeps them
// ("America/New_York"; "America/Chicago,America/New_York" for a number
// whose prefix spans zones); "" when it knows none. It is safe for
// concurrent use.
//
// libphonenumber looks the number's longest known prefix up in its table
// (about 120 ns) and answers with that entry's slice of zones, the same
// slice for every number under the prefix: each slice is formatted once
// and cached by its address, so the cache is as large as the table,
// whatever numbers come. (Caching by the number's first digits instead
// grew with every new area code and exchange: tens of MB for a national
// list, in an import whose memory must not grow with the file.)
func TimeZones(e164 string) string {
	zones, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err != nil || len(zones) == 0 || (len(zones) == 1 && zones[0] == phonenumbers.UNKNOWN_TIMEZONE) {
		return "" // the unknown answer is a new slice every time: not cached
	}
	key := &zones[0]
	if v, ok := zoneNames.Load(key); ok {
		return v.(string)
	}
	z := formatZones(zones)
	zoneNames.Store(key, z)
	return z
}

var zoneNames sync.Map // *first element of a table entry's zones → formatted

func formatZones(zones []string) string {
	zones = slices.DeleteFunc(slices.Clone(zones), func(z string) bool { return z == "" || z == phonenumbers.UNKNOWN_TIMEZONE })
	slices.Sort(zones)
	return strings.Join(slices.Compact(zones), ",")
}

// zoneCacheLen is how many entries the cache holds, for tests.
func zoneCacheLen() int {
	n := 0
	zoneNames.Range(func(any, any) bool { n++; return true })
	return n
}

// Region returns the ISO 3166 country of a number in E.164 ("US"), or ""
// when libphonenumber cannot tell. It is safe for concurrent use.
//
// The answer is cached by the number less its last four digits (the
// country is in its first digits), for up to maxRegionCache prefixes, a
// few MB: a national list has hundreds of thousands of such prefixes, and a
// sender's memory must not grow with its campaign. Past that, numbers under
// new prefixes are looked up each time (a few microseconds).
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
	if regionCached.Load() < maxRegionCache {
		if _, loaded := regionCache.LoadOrStore(key, r); !loaded {
			regionCached.Add(1)
		}
	}
	return r
}

var (
	maxRegionCache int64        = 50_000 // a variable for tests
	regionCache    sync.Map              // number less its last four digits → region
	regionCached   atomic.Int64          // entries in regionCache
)
