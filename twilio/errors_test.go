package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	api := func(status, code int) error {
		return fmt.Errorf("create message: %w", &Error{Status: status, Code: code})
	}
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassAccepted},

		{"20429", api(429, 20429), ClassRetryable},
		{"429 without code", api(429, 0), ClassRetryable},
		{"21611 queue full", api(400, 21611), ClassRetryable},
		{"transport before write", &TransportError{Written: false, Err: io.ErrUnexpectedEOF}, ClassRetryable},
		{"cancel before write", &TransportError{Written: false, Err: context.Canceled}, ClassRetryable},

		{"500", api(500, 0), ClassInDoubt},
		{"503 with code", api(503, 20503), ClassInDoubt},
		{"transport after write", &TransportError{Written: true, Err: io.ErrUnexpectedEOF}, ClassInDoubt},
		{"timeout after write", &TransportError{Written: true, Err: context.DeadlineExceeded}, ClassInDoubt},
		{"malformed 2xx", fmt.Errorf("create message: %w: bad", ErrMalformedResponse), ClassInDoubt},
		{"unknown error", errors.New("something odd"), ClassInDoubt},
		{"bare context error", context.DeadlineExceeded, ClassInDoubt},

		{"21211", api(400, 21211), ClassRecipient},
		{"21408", api(400, 21408), ClassRecipient},
		{"21612", api(400, 21612), ClassRecipient},
		{"21614", api(400, 21614), ClassRecipient},
		{"21617", api(400, 21617), ClassRecipient},
		{"21602", api(400, 21602), ClassRecipient},
		{"21619", api(400, 21619), ClassRecipient},
		{"21604", api(400, 21604), ClassRecipient},
		{"unlisted 4xx code", api(400, 21999), ClassRecipient},
		{"4xx without code", api(422, 0), ClassRecipient},

		{"21610", api(400, 21610), ClassOptOut},

		{"20003", api(401, 20003), ClassCampaign},
		{"401 without code", api(401, 0), ClassCampaign},
		{"403", api(403, 0), ClassCampaign},
		{"20404", api(404, 20404), ClassCampaign},
		{"404 without code", api(404, 0), ClassCampaign},
		{"21212", api(400, 21212), ClassCampaign},
		{"21606", api(400, 21606), ClassCampaign},
		{"21659", api(400, 21659), ClassCampaign},
		{"redirect", api(302, 0), ClassCampaign},
		{"invalid params", fmt.Errorf("create message: %w: nil", ErrInvalidParams), ClassCampaign},
		// A delivery code never comes from the API; if one did, the status decides.
		{"delivery code from the API", api(500, 30003), ClassInDoubt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestCodesCoverSharedTable(t *testing.T) {
	t.Parallel()
	// Every code Twilio documents for the Messages API that smsblast acts on.
	want := []int{20003, 20404, 20429, 21211, 21212, 21408, 21602, 21604, 21606, 21610, 21611, 21612, 21614,
		21617, 21619, 21659, 30001, 30002, 30003, 30004, 30005, 30006, 30007, 30008, 30032, 30034, 30036}
	all := Codes()
	if len(all) != len(want) {
		t.Errorf("Codes() has %d entries, want %d", len(all), len(want))
	}
	for i, code := range want {
		info, ok := Describe(code)
		if !ok || info.Code != code || info.Description == "" {
			t.Errorf("Describe(%d) = %+v, %v", code, info, ok)
			continue
		}
		if i < len(all) && all[i].Code != code {
			t.Errorf("Codes()[%d] = %d, want %d (sorted)", i, all[i].Code, code)
		}
		if info.Delivery != (code >= 30000) || info.Delivery != (info.HTTPStatus == 0) {
			t.Errorf("%d: Delivery %v, HTTPStatus %d", code, info.Delivery, info.HTTPStatus)
		}
		if !info.Delivery {
			if got := Classify(&Error{Status: info.HTTPStatus, Code: code}); got != info.Class {
				t.Errorf("%d: Classify = %v, table says %v", code, got, info.Class)
			}
			if info.Retryable != (info.Class == ClassRetryable) {
				t.Errorf("%d: Retryable %v but outcome %v", code, info.Retryable, info.Class)
			}
		}
	}
	if _, ok := Describe(12345); ok {
		t.Error("Describe(12345) found a code")
	}
	all[0].Description = "changed"
	if info, _ := Describe(all[0].Code); info.Description == "changed" {
		t.Error("Codes() shares the table")
	}
}

func TestClassString(t *testing.T) {
	t.Parallel()
	want := []string{"accepted", "retryable", "in_doubt", "recipient", "opt_out", "campaign"}
	for i, w := range want {
		if got := Class(i).String(); got != w {
			t.Errorf("Class(%d) = %q, want %q", i, got, w)
		}
	}
	if got := Class(99).String(); got != "Class(99)" {
		t.Errorf("Class(99) = %q", got)
	}
}

func TestTransportErrorMessage(t *testing.T) {
	t.Parallel()
	e := &TransportError{Method: "POST", Path: "/2010-04-01/Accounts/AC1/Messages.json", Written: true, Err: io.ErrUnexpectedEOF}
	want := "twilio: POST /2010-04-01/Accounts/AC1/Messages.json: request sent, response lost: unexpected EOF"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, io.ErrUnexpectedEOF) || e.Timeout() {
		t.Error("Unwrap/Timeout wrong")
	}
}

// Every code's class is one twilio_errors.class accepts.
func TestCodesTableClass(t *testing.T) {
	t.Parallel()
	ok := map[string]bool{"retryable": true, "recipient": true, "opt_out": true, "campaign": true, "delivery": true}
	for _, c := range Codes() {
		if !ok[c.TableClass()] {
			t.Errorf("code %d: class %q is not one twilio_errors accepts", c.Code, c.TableClass())
		}
		if c.Delivery != (c.Code >= 30000 && c.Code < 40000) || c.Delivery != (c.HTTPStatus == 0) {
			t.Errorf("code %d: delivery %v with HTTP status %d", c.Code, c.Delivery, c.HTTPStatus)
		}
	}
}
