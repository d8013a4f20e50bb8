package phone_test

import (
	"strings"
	"testing"

	"github.com/smsblast/smsblast/campaign/phone"
)

func TestTimeZones(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ number, want string }{
		{"+12125550100", "America/New_York"},
		{"+14155550100", "America/Los_Angeles"},
		{"+18085550100", "Pacific/Honolulu"},
		{"+61412345678", "Australia/Sydney"},
	} {
		if got := phone.TimeZones(tt.number); got != tt.want {
			t.Errorf("TimeZones(%s) = %q, want %q", tt.number, got, tt.want)
		}
	}
	// A toll-free number spans every zone of the North American plan.
	tf := phone.TimeZones("+18005550100")
	if zs := strings.Split(tf, ","); len(zs) < 10 || !strings.Contains(tf, "Pacific/Guam") || !strings.Contains(tf, "America/St_Johns") {
		t.Errorf("toll-free zones %q", tf)
	}
	if got := phone.TimeZones("+12125559999"); got != "America/New_York" {
		t.Errorf("cached answer for the same exchange: %q", got)
	}
}
