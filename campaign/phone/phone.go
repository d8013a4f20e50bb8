// Package phone turns phone numbers as people type them into E.164, with
// libphonenumber's rules (github.com/nyaruka/phonenumbers), relative to a
// default region for numbers written without a country code.
package phone

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/smsblast/smsblast/campaign"

	"github.com/nyaruka/phonenumbers"
)

// Normalizer turns the numbers people type into E.164 with
// libphonenumber's rules, relative to a default region for numbers written
// without a country code. It rejects numbers that do not parse or are not
// valid for their region; it never guesses. It is safe for concurrent use.
type Normalizer struct {
	region string
	cc     int
	ccStr  string
	// national guards the fast path for numbers written without a country
	// code: nil when the default region has no fast path.
	national *regionRules
}

// NewNormalizer returns a normaliser for region, an ISO 3166 code
// such as "US" (any case).
func NewNormalizer(region string) (*Normalizer, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil, &campaign.SettingError{Setting: "default_region", Err: campaign.ErrInvalidSetting,
			Problem: fmt.Sprintf("%q is not a region code (use two letters, like US, GB or DE)", region)}
	}
	cc := phonenumbers.GetCountryCodeForRegion(region)
	p := &Normalizer{region: region, cc: cc, ccStr: strconv.Itoa(cc)}
	p.national = fastRules().byRegion[region]
	return p, nil
}

// Region returns the default region, upper case.
func (p *Normalizer) Region() string { return p.region }

// Normalize returns s in E.164 and the same number as an integer (its digits
// after the +: a compact key for deduplication). A number that is rejected
// gets an error whose text says why in words, quoting s.
//
// Most numbers take a fast path that matches the number against
// libphonenumber's own validation patterns, compiled once, instead of
// running its parser (~6 µs) and IsValidNumber (~5 µs, which rebuilds each
// pattern's string on every call). The fast path only ever accepts; anything
// it is unsure of (a national prefix, an international dialling prefix, a
// region that shares a country code with a leading-digits rule it cannot
// decide) and every rejection goes through libphonenumber itself, so the
// outcome is libphonenumber's. TestPhoneFastPathAgrees checks that.
func (p *Normalizer) Normalize(s string) (string, uint64, error) {
	if err := refuseNonNumber(s); err != nil {
		return "", 0, err
	}
	if e164, key, ok := p.fast(s); ok {
		return e164, key, nil
	}
	return p.slow(s)
}

// refuseNonNumber refuses what libphonenumber would otherwise quietly
// rewrite into some number: an extension ("ext. 12", "x99", "#123",
// ";ext=1"), which it drops, though an SMS cannot reach an extension;
// letters ("1-800-FLOWERS", "tel:"), which it turns into keypad digits; and
// any character that is not a digit, white space or the punctuation people
// write numbers with (+ - . / ( ) [ ] ~ and their full-width forms), such
// as "*", ",", "=" or a NUL. One leading apostrophe is allowed: it is how
// a spreadsheet (and smsblast report) keeps "+1…" as text.
func refuseNonNumber(s string) error {
	rest := strings.TrimPrefix(s, "'")
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9', r == ' ', r == '+', r == '-', r == '(', r == ')', r == '.':
			continue // the common case, decided without a table
		case unicode.IsDigit(r), unicode.IsSpace(r), unicode.Is(unicode.Pd, r), strings.ContainsRune(numberPunct, r):
			continue
		}
		q := campaign.QuoteShort(s, 40)
		switch {
		case strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "@"):
			return fmt.Errorf("phone %s is a spreadsheet formula, not a number", q)
		case strings.ContainsRune(rest, '#') || extension.MatchString(rest):
			return fmt.Errorf("phone %s has an extension, which a text message cannot reach; give the number alone", q)
		case unicode.IsLetter(r):
			return fmt.Errorf("phone %s has letters; write the number in digits", q)
		default:
			return fmt.Errorf("phone %s has %q, which is not part of a phone number", q, r)
		}
	}
	return nil
}

// numberPunct is punctuation libphonenumber accepts in a number besides
// ASCII digits, space, + - . ( ) and Unicode dashes: full-width forms,
// invisible spaces and the tildes some locales write.
const numberPunct = "/[]~\u00ad\u200b\u2060\u3000\u2053\u223c\uff0b\uff08\uff09\uff0e\uff0f\uff3b\uff3d\uff5e"

// extension matches the ways an extension is written after a number.
var extension = regexp.MustCompile(`(?i)(\d|\s|\))\s*(e?xt?n?\.?|extension|ext=|;ext=|доб\.?|anexo)\s*\d+\s*$`)

// slow is libphonenumber's Parse, IsValidNumber and Format.
func (p *Normalizer) slow(s string) (string, uint64, error) {
	var n phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, p.region, &n); err != nil {
		switch err {
		case phonenumbers.ErrInvalidCountryCode:
			return "", 0, fmt.Errorf("phone %q has no known country code", s)
		case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
			return "", 0, fmt.Errorf("phone %q is too short to be a phone number", s)
		case phonenumbers.ErrNumTooLong:
			return "", 0, fmt.Errorf("phone %q is too long to be a phone number", s)
		default:
			return "", 0, fmt.Errorf("phone %q is not a phone number", s)
		}
	}
	if !phonenumbers.IsValidNumber(&n) {
		region := p.region
		if int(n.GetCountryCode()) != p.cc {
			region = phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
		}
		if region == "001" || region == "ZZ" {
			return "", 0, fmt.Errorf("phone %q is not a valid number for country code +%d", s, n.GetCountryCode())
		}
		return "", 0, fmt.Errorf("phone %q is not a valid %s number", s, region)
	}
	e164 := phonenumbers.Format(&n, phonenumbers.E164)
	key, err := strconv.ParseUint(e164[1:], 10, 64)
	if err != nil || len(e164) > 16 {
		return "", 0, fmt.Errorf("phone %q is too long to be a phone number", s)
	}
	return e164, key, nil
}

// fast accepts s without libphonenumber's parser when it is "+" and digits
// (canonical E.164), or digits with the usual separators for the default
// region, and valid by libphonenumber's patterns. ok=false means "not sure":
// take the slow path.
// Measured gain: BenchmarkImport1M's x-baseline is 1.30 with it, 2.92 without (median of 8 runs each).
func (p *Normalizer) fast(s string) (e164 string, key uint64, ok bool) {
	if len(s) > 0 && s[0] == '+' {
		digits := s[1:]
		if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' || !allDigits(digits) {
			return "", 0, false
		}
		cc, national := splitCountryCode(digits)
		if cc == 0 || !fastRules().valid(cc, national) {
			return "", 0, false
		}
		key, _ = strconv.ParseUint(digits, 10, 64)
		return s, key, true
	}
	// A national number: digits and the separators people write.
	if p.national == nil {
		return "", 0, false
	}
	var buf [20]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(buf) {
				return "", 0, false
			}
			buf[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", 0, false
		}
	}
	national := string(buf[:n])
	if n < 4 || strings.HasPrefix(national, p.ccStr) || p.national.prefixAmbiguous(national) {
		return "", 0, false
	}
	if !fastRules().valid(p.cc, national) {
		return "", 0, false
	}
	e164 = "+" + p.ccStr + national
	if len(e164) > 16 {
		return "", 0, false
	}
	key, _ = strconv.ParseUint(e164[1:], 10, 64)
	return e164, key, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitCountryCode splits E.164 digits into the country calling code
// (the first one, two or three digits that libphonenumber knows, as its
// extractCountryCode does) and the national significant number.
func splitCountryCode(digits string) (int, string) {
	codes := fastRules().codes
	cc := 0
	for i := 0; i < 3 && i < len(digits); i++ {
		cc = cc*10 + int(digits[i]-'0')
		if codes[cc] {
			return cc, digits[i+1:]
		}
	}
	return 0, ""
}

// numberDesc is one of libphonenumber's number descriptions (general,
// mobile, toll free …) with its pattern compiled once.
type numberDesc struct {
	lengths []int32
	re      *regexp.Regexp
}

// matches is libphonenumber's isNumberMatchingDesc.
func (d *numberDesc) matches(nsn string) bool {
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			if int(l) == len(nsn) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return d.re.MatchString(nsn)
}

// regionRules is one region's validation metadata, precompiled.
type regionRules struct {
	region  string
	leading *regexp.Regexp // nil: the region has no leading-digits rule
	general *numberDesc
	types   []*numberDesc
	// nationalPrefix and idd are the prefixes whose presence makes
	// libphonenumber's parser rewrite a national number.
	nationalPrefix *regexp.Regexp
	idd            *regexp.Regexp
}

// typed is libphonenumber's getNumberTypeHelper(...) != UNKNOWN: the number
// matches the general description and at least one type. (The helper tests
// mobile only when its pattern differs from fixed line's, which cannot
// change whether some type matches.)
func (r *regionRules) typed(nsn string) bool {
	if !r.general.matches(nsn) {
		return false
	}
	for _, d := range r.types {
		if d.matches(nsn) {
			return true
		}
	}
	return false
}

// prefixAmbiguous reports whether the parser could read a national prefix
// or an international dialling prefix at the start of national.
func (r *regionRules) prefixAmbiguous(national string) bool {
	return (r.nationalPrefix != nil && r.nationalPrefix.MatchString(national)) ||
		(r.idd != nil && r.idd.MatchString(national))
}

type phoneRules struct {
	codes    map[int]bool
	byCode   map[int][]*regionRules // in libphonenumber's order: main region first
	byRegion map[string]*regionRules
}

// valid is libphonenumber's IsValidNumber for a number with country code cc
// and national significant number nsn, for country codes whose regions the
// fast path covers: GetRegionCodeForNumber picks the region (by leading
// digits, else by full validation), then the number must be valid there.
// It reports false when unsure (non-geographic codes, a national prefix the
// parser would strip): the caller then asks libphonenumber.
func (pr *phoneRules) valid(cc int, nsn string) bool {
	regions := pr.byCode[cc]
	if len(regions) == 0 {
		return false
	}
	// Parsing "+cc nsn" strips a national prefix from nsn when what is left
	// is still possible; only numbers where that cannot happen are ours.
	if regions[0].nationalPrefix != nil && regions[0].nationalPrefix.MatchString(nsn) {
		return false
	}
	if len(regions) == 1 {
		return regions[0].typed(nsn)
	}
	for _, r := range regions {
		if r.leading != nil {
			if r.leading.MatchString(nsn) {
				return r.typed(nsn)
			}
		} else if r.typed(nsn) {
			return true
		}
	}
	return false
}

// fastRules compiles libphonenumber's metadata once per process.
var fastRules = sync.OnceValue(func() *phoneRules {
	pr := &phoneRules{codes: map[int]bool{}, byCode: map[int][]*regionRules{}, byRegion: map[string]*regionRules{}}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		pr.codes[cc] = true
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return pr // no fast path: every number goes through libphonenumber
	}
	meta := map[string]*phonenumbers.PhoneMetadata{}
	for _, m := range coll.GetMetadata() {
		meta[m.GetId()] = m
	}
	compile := func(d *phonenumbers.PhoneNumberDesc) *numberDesc {
		if d == nil {
			return nil
		}
		return &numberDesc{lengths: d.PossibleLength, re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
	}
	for cc := range pr.codes {
		var rules []*regionRules
		for _, region := range phonenumbers.GetRegionCodesForCountryCode(cc) {
			m := meta[region]
			if m == nil || region == "001" {
				rules = nil // non-geographic entities: libphonenumber decides
				break
			}
			r := &regionRules{region: region, general: compile(m.GetGeneralDesc())}
			if ld := m.GetLeadingDigits(); ld != "" {
				r.leading = regexp.MustCompile("^(?:" + ld + ")")
			}
			if np := m.GetNationalPrefixForParsing(); np != "" {
				r.nationalPrefix = regexp.MustCompile("^(?:" + np + ")")
			}
			if ip := m.GetInternationalPrefix(); ip != "" {
				r.idd = regexp.MustCompile("^(?:" + ip + ")")
			}
			for _, d := range []*phonenumbers.PhoneNumberDesc{
				m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(),
				m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(),
				m.GetFixedLine(), m.GetMobile(),
			} {
				if c := compile(d); c != nil {
					r.types = append(r.types, c)
				}
			}
			rules = append(rules, r)
			pr.byRegion[region] = r
		}
		if len(rules) > 0 {
			pr.byCode[cc] = rules
		}
	}
	return pr
})
