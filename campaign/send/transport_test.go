package send_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"log/slog"

	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/twilio"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// syncBuffer is a bytes.Buffer for a logger written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Twilio unreachable: the engine says so at the default log level, once per
// kind every few seconds rather than once per request, counts the failures
// and knows since when nothing answered; no recipient is lost.
func TestSendTwilioUnreachableIsVisible(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{})
	b.newCampaign(t, validFrom, 50)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	tw, err := twilio.New(twilio.Config{AccountSID: b.sim.AccountSID(), AuthToken: b.sim.AuthToken(),
		BaseURL: "http://" + dead, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.tw = tw
	var logs syncBuffer
	e := b.engine(t, send.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(3*time.Second, cancel)
	sum, err := e.Run(ctx, context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	n := strings.Count(out, "cannot reach Twilio")
	if n == 0 || !strings.Contains(out, "connection refused") {
		t.Fatalf("the log does not say Twilio is unreachable:\n%s", out)
	}
	if n > 2 {
		t.Errorf("%d warnings in 3 s: one per kind every 5 s, not one per request", n)
	}
	if sum.Stats.TransportErrors == 0 {
		t.Errorf("summary counts no transport errors: %+v", sum.Stats)
	}
	for _, r := range b.recipients(t) {
		if r.status != "pending" {
			t.Fatalf("recipient %s is %s after Twilio never answered; want pending", r.phone, r.status)
		}
	}
}
