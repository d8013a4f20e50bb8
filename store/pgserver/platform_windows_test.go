package pgserver

import (
	"context"
	"errors"
	"testing"
)

func TestEmbeddedRefusesOnWindows(t *testing.T) {
	t.Parallel()
	e := &Embedded{Home: t.TempDir()}
	if _, err := e.Start(context.Background()); !errors.Is(err, ErrUnsupportedOS) {
		t.Fatalf("Start = %v, want ErrUnsupportedOS", err)
	}
	if err := e.Stop(context.Background()); !errors.Is(err, ErrUnsupportedOS) {
		t.Fatalf("Stop = %v, want ErrUnsupportedOS", err)
	}
}
