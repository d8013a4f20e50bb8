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
		want Outcome
	}{
		{"nil", nil, OutcomeAccepted},

		{"20429", api(429, 20429), OutcomeRetryable},
		{"429 without code", api(429, 0), OutcomeRetryable},
		{"21611 queue full", api(400, 21611), OutcomeRetryable},
		{"transport before write", &TransportError{Written: false, Err: io.ErrUnexpectedEOF}, OutcomeRetryable},
		{"cancel before write", &TransportError{Written: false, Err: context.Canceled}, OutcomeRetryable},

		{"500", api(500, 0), OutcomeInDoubt},
		{"503 with code", api(503, 20503), OutcomeInDoubt},
		{"transport after write", &TransportError{Written: true, Err: io.ErrUnexpectedEOF}, OutcomeInDoubt},
		{"timeout after write", &TransportError{Written: true, Err: context.DeadlineExceeded}, OutcomeInDoubt},
		{"malformed 2xx", fmt.Errorf("create message: %w: bad", ErrMalformedResponse), OutcomeInDoubt},
		{"unknown error", errors.New("something odd"), OutcomeInDoubt},
		{"bare context error", context.DeadlineExceeded, OutcomeInDoubt},

		{"21211", api(400, 21211), OutcomeRecipientFailed},
		{"21408", api(400, 21408), OutcomeRecipientFailed},
		{"21612", api(400, 21612), OutcomeRecipientFailed},
		{"21614", api(400, 21614), OutcomeRecipientFailed},
		{"21617", api(400, 21617), OutcomeRecipientFailed},
		{"21602", api(400, 21602), OutcomeRecipientFailed},
		{"21619", api(400, 21619), OutcomeRecipientFailed},
		{"21604", api(400, 21604), OutcomeRecipientFailed},
		{"unlisted 4xx code", api(400, 21999), OutcomeRecipientFailed},
		{"4xx without code", api(422, 0), OutcomeRecipientFailed},

		{"21610", api(400, 21610), OutcomeOptedOut},

		{"20003", api(401, 20003), OutcomeCampaignFatal},
		{"401 without code", api(401, 0), OutcomeCampaignFatal},
		{"403", api(403, 0), OutcomeCampaignFatal},
		{"20404", api(404, 20404), OutcomeCampaignFatal},
		{"404 without code", api(404, 0), OutcomeCampaignFatal},
		{"21212", api(400, 21212), OutcomeCampaignFatal},
		{"21606", api(400, 21606), OutcomeCampaignFatal},
		{"21659", api(400, 21659), OutcomeCampaignFatal},
		{"redirect", api(302, 0), OutcomeCampaignFatal},
		{"invalid params", fmt.Errorf("create message: %w: nil", ErrInvalidParams), OutcomeCampaignFatal},
		// A delivery code never comes from the API; if one did, the status decides.
		{"delivery code from the API", api(500, 30003), OutcomeInDoubt},
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
	// Every code in shared/twilio.md.
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
			if got := Classify(&Error{Status: info.HTTPStatus, Code: code}); got != info.Outcome {
				t.Errorf("%d: Classify = %v, table says %v", code, got, info.Outcome)
			}
			if info.Retryable != (info.Outcome == OutcomeRetryable) {
				t.Errorf("%d: Retryable %v but outcome %v", code, info.Retryable, info.Outcome)
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

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	want := []string{"accepted", "retryable", "in_doubt", "recipient_failed", "opted_out", "campaign_fatal"}
	for i, w := range want {
		if got := Outcome(i).String(); got != w {
			t.Errorf("Outcome(%d) = %q, want %q", i, got, w)
		}
	}
	if got := Outcome(99).String(); got != "Outcome(99)" {
		t.Errorf("Outcome(99) = %q", got)
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
