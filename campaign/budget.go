package campaign

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Price is what one segment to a country costs.
type Price struct {
	// Country is the ISO 3166 alpha-2 code of the destination ("US").
	Country string `csv:"country"`
	// PerSegment is the price of one segment, in Currency.
	PerSegment float64 `csv:"price_per_segment"`
	// Currency is the ISO 4217 code ("USD").
	Currency string `csv:"currency"`
}

// Prices are a campaign's prices by country; the country "*" prices every
// country without one of its own (`--price`).
type Prices map[string]Price

// Of is the price of a segment to country, and whether there is one.
func (p Prices) Of(country string) (Price, bool) {
	if pr, ok := p[country]; ok {
		return pr, true
	}
	pr, ok := p["*"]
	return pr, ok
}

// Currency is the prices' currency ("" when there are none).
func (p Prices) Currency() string {
	for _, pr := range p {
		return pr.Currency
	}
	return ""
}

// FrequencyCap is at most Count messages to one person, from any campaign,
// within Window.
type FrequencyCap struct {
	Count  int
	Window time.Duration
}

// ParseFrequencyCap reads COUNT/DURATION ("1/24h", "3/7d").
func ParseFrequencyCap(s string) (FrequencyCap, error) {
	count, dur, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return FrequencyCap{}, fmt.Errorf("%q is not COUNT/DURATION like 1/24h", s)
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > 1000 {
		return FrequencyCap{}, fmt.Errorf("%q: the count must be a whole number from 1 to 1000", s)
	}
	var d time.Duration
	if days, found := strings.CutSuffix(dur, "d"); found {
		nd, err := strconv.Atoi(days)
		if err != nil || nd < 1 {
			return FrequencyCap{}, fmt.Errorf("%q: %q is not a number of days", s, dur)
		}
		d = time.Duration(nd) * 24 * time.Hour
	} else if d, err = time.ParseDuration(dur); err != nil {
		return FrequencyCap{}, fmt.Errorf("%q: %q is not a duration like 24h or 7d", s, dur)
	}
	if d < time.Minute || d > 366*24*time.Hour {
		return FrequencyCap{}, fmt.Errorf("%q: the duration must be from 1m to 366d", s)
	}
	return FrequencyCap{Count: n, Window: d}, nil
}

func (f FrequencyCap) String() string {
	if f.Count == 0 {
		return "none"
	}
	if f.Window%(24*time.Hour) == 0 && f.Window >= 48*time.Hour {
		return fmt.Sprintf("%d/%dd", f.Count, f.Window/(24*time.Hour))
	}
	w := strings.TrimSuffix(f.Window.String(), "0s") // 24h0m0s: 24h
	if strings.HasSuffix(w, "h0m") {
		w = strings.TrimSuffix(w, "0m")
	}
	return fmt.Sprintf("%d/%s", f.Count, w)
}

// Spent is what a campaign has spent of its budget: segments and money of
// the messages Twilio took and of the recipients claimed and not answered.
type Spent struct {
	Segments int64
	Amount   float64
}
