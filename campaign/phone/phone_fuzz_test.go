package phone

import (
	"strconv"
	"testing"

	"github.com/smsblast/smsblast/campaign"
)

// FuzzNormalize: any text from a phone column is either refused with a
// reason or made an E.164 number that normalises to itself, whose key is
// its digits; never a panic.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"+14155550100", "(415) 555-0100", "415.555.0100 x12", "1-800-FLOWERS", "'+14155550100", "=HYPERLINK(1)",
		"+44 20 7946 0000", "011 44 20 7946 0000", "\uff0b\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10", "+999999999999999", "",
	} {
		f.Add(s)
	}
	p, err := NewNormalizer("US")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e164, key, err := p.Normalize(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Normalize(%q): an empty reason", s)
			}
			return
		}
		if !campaign.IsE164(e164) {
			t.Fatalf("Normalize(%q) = %q, not E.164", s, e164)
		}
		if want, _ := strconv.ParseUint(e164[1:], 10, 64); key != want {
			t.Fatalf("Normalize(%q) key %d, want %d", s, key, want)
		}
		again, key2, err := p.Normalize(e164)
		if err != nil || again != e164 || key2 != key {
			t.Fatalf("Normalize(%q) = %q, but that normalises to %q, %v", s, e164, again, err)
		}
	})
}
