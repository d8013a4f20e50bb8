package phone

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestPhoneNormalize(t *testing.T) {
	t.Parallel()
	p, err := NewNormalizer("us")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want, reason string
	}{
		{in: "(415) 555-0100", want: "+14155550100"},
		{in: "415.555.0100", want: "+14155550100"},
		{in: "+1 415 555 0100", want: "+14155550100"},
		{in: "+14155550100", want: "+14155550100"},
		{in: "1-415-555-0100", want: "+14155550100"},
		{in: "011 44 20 7946 0000", want: "+442079460000"},
		{in: "+44 20 7946 0000", want: "+442079460000"},
		{in: "+442079460000", want: "+442079460000"},
		{in: "555-01", reason: `phone "555-01" is not a valid US number`},
		{in: "+44 20", reason: `phone "+44 20" is not a valid GB number`},
		{in: "hello", reason: `phone "hello" has letters; write the number in digits`},
		{in: "+1 (415) 555–0100", want: "+14155550100"}, // an en dash
		{in: "＋１ ４１５ ５５５ ０１００", want: "+14155550100"},   // full-width
		{in: "'+14155550100", want: "+14155550100"},     // a spreadsheet's text cell, as smsblast report writes it
		{in: "+999 123 4567", reason: `phone "+999 123 4567" has no known country code`},
		{in: "+1 123 456 7890", reason: `phone "+1 123 456 7890" is not a valid US number`},
	}
	for _, tt := range tests {
		got, key, err := p.Normalize(tt.in)
		if tt.reason != "" {
			if err == nil || err.Error() != tt.reason {
				t.Errorf("Normalize(%q) = %q, %v; want error %q", tt.in, got, err, tt.reason)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if want := strings.TrimPrefix(tt.want, "+"); key == 0 || strings.TrimLeft(want, "0") == "" {
			t.Errorf("Normalize(%q) key = %d", tt.in, key)
		}
	}
	if _, err := NewNormalizer("XX"); err == nil {
		t.Error("NewNormalizer(XX) succeeded")
	}
}

// TestPhoneRefusesWhatItWouldRewrite: libphonenumber drops extensions and
// turns letters into keypad digits; smsblast refuses both, saying why, as
// it refuses anything else that is not part of a number.
func TestPhoneRefusesWhatItWouldRewrite(t *testing.T) {
	t.Parallel()
	p, err := NewNormalizer("US")
	if err != nil {
		t.Fatal(err)
	}
	const ext = "has an extension, which a text message cannot reach; give the number alone"
	tests := []struct{ in, reason string }{
		{"+1 415 555 0117 ext. 12", ext},
		{"+1 415 555 0117 ext 12", ext},
		{"4155550118x99", ext},
		{"415-555-0118 x 99", ext},
		{"+14155550120#123", ext},
		{"+14155550120;ext=123", ext},
		{"+1 415 555 0120 extension 7", ext},
		{"1-800-FLOWERS", "has letters; write the number in digits"},
		{"tel:+14155550100", "has letters; write the number in digits"},
		{"+1 415 555 0100 (mobile)", "has letters; write the number in digits"},
		{"=HYPERLINK(\"http://x\")", "is a spreadsheet formula, not a number"},
		{"=+14155550100", "is a spreadsheet formula, not a number"},
		{"@SUM(1)", "is a spreadsheet formula, not a number"},
		{"415*555*0100", "has '*', which is not part of a phone number"},
		{"+14155550100,", "has ',', which is not part of a phone number"},
		{"+14155550100\x00", "has '\\x00', which is not part of a phone number"},
		{"''+14155550100", "has '\\'', which is not part of a phone number"},
	}
	for _, tt := range tests {
		got, _, err := p.Normalize(tt.in)
		if err == nil || !strings.HasSuffix(err.Error(), tt.reason) || !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
			t.Errorf("Normalize(%q) = %q, %v; want an error quoting it and ending %q", tt.in, got, err, tt.reason)
		}
	}
}

// TestPhoneFastPathAgrees checks that whatever the fast path accepts,
// libphonenumber accepts too, as the same E.164 number: variants of every
// region's example numbers, written in several styles, against a few
// default regions.
func TestPhoneFastPathAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.UAN}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			ex := phonenumbers.GetExampleNumberForType(region, typ)
			if ex == nil {
				continue
			}
			nsn := phonenumbers.GetNationalSignificantNumber(ex)
			cc := phonenumbers.GetCountryCodeForRegion(region)
			for range 2 {
				v := mutateDigits(rng, nsn)
				n, err := phonenumbers.Parse("+"+itoa(cc)+v, "ZZ")
				if err != nil {
					continue
				}
				inputs = append(inputs,
					"+"+itoa(cc)+v,
					phonenumbers.Format(n, phonenumbers.NATIONAL),
					phonenumbers.Format(n, phonenumbers.INTERNATIONAL),
					v, "0"+v, "1"+v, itoa(cc)+v)
			}
		}
	}
	fastHits := 0
	defaults := []string{"US", "GB", "IT", "AR"}
	for _, def := range defaults {
		p, err := NewNormalizer(def)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			got, key, ok := p.fast(in)
			if !ok {
				continue
			}
			fastHits++
			want, wantKey, err := p.slow(in)
			if err != nil || got != want || key != wantKey {
				t.Errorf("region %s: fast(%q) = %q %d; libphonenumber: %q %d %v", def, in, got, key, want, wantKey, err)
			}
		}
	}
	if total := len(inputs) * len(defaults); fastHits < total/10 { // the comparison means little unless the fast path takes many
		t.Errorf("fast path took only %d of %d inputs", fastHits, total)
	}
	t.Logf("%d inputs, %d fast", len(inputs)*len(defaults), fastHits)
}

func itoa(n int) string { return strconv.Itoa(n) }

// mutateDigits changes some of s's last digits, and sometimes its length.
func mutateDigits(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i := max(0, len(b)-5); i < len(b); i++ {
		if rng.IntN(2) == 0 {
			b[i] = byte('0' + rng.IntN(10))
		}
	}
	switch rng.IntN(8) {
	case 0:
		b = append(b, byte('0'+rng.IntN(10)))
	case 1:
		if len(b) > 3 {
			b = b[:len(b)-1]
		}
	}
	return string(b)
}

func BenchmarkPhoneNormalize(b *testing.B) {
	p, _ := NewNormalizer("US")
	rng := rand.New(rand.NewPCG(3, 4))
	areas := []string{"415", "212", "646", "303", "617", "206", "512", "702", "305", "404"}
	e164 := make([]string, 4096)
	national := make([]string, 4096)
	for i := range e164 {
		a := areas[rng.IntN(len(areas))]
		x := 200 + rng.IntN(800)
		l := rng.IntN(10000)
		e164[i] = "+1" + a + itoa(x) + pad4(l)
		national[i] = "(" + a + ") " + itoa(x) + "-" + pad4(l)
	}
	for _, bc := range []struct {
		name string
		in   []string
		f    func(string) (string, uint64, error)
	}{
		{"e164/libphonenumber", e164, p.slow},
		{"e164/fast", e164, p.Normalize},
		{"national/libphonenumber", national, p.slow},
		{"national/fast", national, p.Normalize},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, _, err := bc.f(bc.in[i%len(bc.in)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func pad4(n int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", 4-len(s)) + s
}
