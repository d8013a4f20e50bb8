package phone

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestTimeZonesCacheBounded: numbers from every North American area code
// and exchange, and from other countries, agree with libphonenumber's own
// answer (parse, then look up), and the cache stays the size of its
// table, not of the numbers seen.
func TestTimeZonesCacheBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	prefixes := []string{"1", "44", "61", "49", "33", "91", "55", "52", "81", "234"}
	for i := range 200_000 {
		var e164 string
		if i%2 == 0 {
			// +1 NPA NXX XXXX, NPA and NXX from 200 to 999.
			e164 = "+1" + strconv.Itoa(200+rng.IntN(800)) + strconv.Itoa(200+rng.IntN(800)) + strconv.Itoa(1000+rng.IntN(9000))
		} else {
			e164 = "+" + prefixes[rng.IntN(len(prefixes))] + strconv.Itoa(100_000_000+rng.IntN(900_000_000))
		}
		got := TimeZones(e164)
		if i%97 != 0 {
			continue
		}
		want := ""
		if num, err := phonenumbers.Parse(e164, ""); err == nil {
			if zones, err := phonenumbers.GetTimezonesForNumber(num); err == nil {
				want = formatZones(zones)
			}
		}
		if got != want {
			t.Fatalf("TimeZones(%s) = %q; libphonenumber says %q", e164, got, want)
		}
	}
	if n := zoneCacheLen(); n > 5000 {
		t.Errorf("the cache holds %d entries after 200,000 numbers; it should be bounded by libphonenumber's table", n)
	} else {
		t.Logf("%d entries cached", n)
	}
}

// TestRegionCacheBounded: past maxRegionCache prefixes Region still
// answers, and the cache holds no more.
// Not parallel: it lowers the bound while no other test runs.
func TestRegionCacheBounded(t *testing.T) {
	defer func(m int64) { maxRegionCache = m }(maxRegionCache)
	maxRegionCache = regionCached.Load() + 2000
	n := 0
	for npa := 200; npa < 1000 && n < 3000; npa++ {
		for nxx := 200; nxx < 1000 && n < 3000; nxx += 3 {
			e164 := "+1" + strconv.Itoa(npa) + strconv.Itoa(nxx) + "0100"
			if got := Region(e164); n%100 == 0 {
				want := ""
				if num, err := phonenumbers.Parse(e164, ""); err == nil {
					if want = phonenumbers.GetRegionCodeForNumber(num); want == "ZZ" {
						want = ""
					}
				}
				if got != want {
					t.Fatalf("Region(%s) = %q; libphonenumber says %q", e164, got, want)
				}
			}
			n++
		}
	}
	if c := regionCached.Load(); c > maxRegionCache {
		t.Errorf("the cache holds %d prefixes; at most %d", c, maxRegionCache)
	}
}
