package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/smsblast/smsblast/campaign"
)

// priceColumns are the columns of a prices file (campaign.Price's csv tags).
var priceColumns = []string{"country", "price_per_segment", "currency"}

// maxShownProblems is how many bad rows of a CSV an error lists.
const maxShownProblems = 10

// readPricesFile reads --prices: a CSV with columns
// country,price_per_segment,currency, one row per ISO 3166 country code
// ("*" prices every other country), all in one currency. Every bad row is
// reported with its line, so that one reading of the file finds them all.
func readPricesFile(path string) (campaign.Prices, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	p, err := readPrices(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func readPrices(in io.Reader) (campaign.Prices, error) {
	prices := campaign.Prices{}
	lineOf := map[string]int{}
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
	err := readCSVRows(in, priceColumns, func(line int, p *campaign.Price, rowErr error) error {
		if rowErr != nil {
			bad(line, "%v", rowErr)
			return nil
		}
		p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
		p.Currency = strings.ToUpper(strings.TrimSpace(p.Currency))
		switch {
		case p.Country != "*" && !isLetters(p.Country, 2):
			bad(line, "country %q is not a two-letter ISO 3166 code like US (or * for every other country)", p.Country)
		case !isLetters(p.Currency, 3):
			bad(line, "currency %q is not a three-letter ISO 4217 code like USD", p.Currency)
		case p.PerSegment < 0 || p.PerSegment > 100 || math.IsNaN(p.PerSegment):
			bad(line, "price_per_segment %v is not a price from 0 to 100", p.PerSegment)
		case lineOf[p.Country] > 0:
			bad(line, "country %s is priced already on line %d", p.Country, lineOf[p.Country])
		case len(prices) > 0 && prices.Currency() != p.Currency:
			bad(line, "currency %s differs from the file's %s: prices must share one currency", p.Currency, prices.Currency())
		default:
			lineOf[p.Country] = line
			prices[p.Country] = *p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		more := ""
		if n := len(problems); n > maxShownProblems {
			problems = problems[:maxShownProblems]
			more = fmt.Sprintf("; and %d more", n-maxShownProblems)
		}
		return nil, fmt.Errorf("%s%s", strings.Join(problems, "; "), more)
	}
	if len(prices) == 0 {
		return nil, errors.New("no prices: the file has a header and no rows")
	}
	return prices, nil
}

func isLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
