package campaign

import "time"

// OptOut is a number no campaign texts (table opt_outs). The csv tags are
// the columns of `smsblast optouts import` and `export`.
type OptOut struct {
	// Phone is in E.164.
	Phone  string `csv:"phone"`
	Reason string `csv:"reason"`
	// Source says where it came from: inbound (a STOP reply), twilio
	// (error 21610), manual, or import (a suppression list).
	Source    string    `csv:"source"`
	CreatedAt time.Time `csv:"created_at"`
}
