package campaign

import "errors"

// Sentinel errors of the campaign package. Compare with errors.Is.
var (
	// ErrNotFound: no campaign has that name.
	ErrNotFound = errors.New("campaign not found")
	// ErrExists: a campaign with that name already exists.
	ErrExists = errors.New("campaign already exists")
	// ErrEmptyBody: the body template is empty.
	ErrEmptyBody = errors.New("body template is empty")
	// ErrCanceled: the campaign was canceled; it cannot be sent.
	ErrCanceled = errors.New("campaign is canceled")
	// ErrPaused: the campaign was paused (by a user or a campaign-level Twilio error).
	ErrPaused = errors.New("campaign is paused")
)
