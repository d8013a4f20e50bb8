package phone

import "fmt"

// CheckSenders reports the first of numbers, sender numbers already in
// E.164 form, that Twilio could never send from: one that is no number for
// its country code (+999999999999999), or one not written as E.164 writes
// it. The error says why in words, quoting the number.
func CheckSenders(numbers []string) error {
	if len(numbers) == 0 {
		return nil
	}
	// The region matters only for numbers without a country code, which a
	// sender in E.164 never is.
	norm, err := NewNormalizer("US")
	if err != nil {
		return err
	}
	for _, n := range numbers {
		e164, _, err := norm.Normalize(n)
		if err != nil {
			return err
		}
		if e164 != n {
			return fmt.Errorf("phone %q is written %s in E.164", n, e164)
		}
	}
	return nil
}
