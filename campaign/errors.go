package campaign

import "errors"

// Sentinel errors of the campaign package. Compare with errors.Is.
var (
	// ErrNotFound: no campaign has that name.
	ErrNotFound = errors.New("campaign not found")
	// ErrExists: a campaign with that name already exists.
	ErrExists = errors.New("campaign already exists")
	// ErrInvalidName: the text cannot name a campaign (see ValidateName).
	ErrInvalidName = errors.New("invalid campaign name")
	// ErrEmptyBody: the body template is empty.
	ErrEmptyBody = errors.New("body template is empty")
	// ErrCanceled: the campaign was canceled; it cannot be sent.
	ErrCanceled = errors.New("campaign is canceled")
	// ErrCompleted: the campaign is completed; it takes no changes.
	ErrCompleted = errors.New("campaign is completed")
	// ErrPaused: the campaign was paused (by a user or a campaign-level Twilio error).
	ErrPaused = errors.New("campaign is paused")
	// ErrNotInReview: a recipient named for a decision is not waiting for one.
	ErrNotInReview = errors.New("recipient is not in review")
	// ErrNoRecipient: the campaign has no recipient (at that CSV line).
	ErrNoRecipient = errors.New("no recipient")
)

// Sentinel errors of campaign settings and imports.
var (
	// ErrSettingRequired: creating a campaign needs a setting the import lacks (sender, body).
	ErrSettingRequired = errors.New("setting required")
	// ErrInvalidSetting: a campaign setting is malformed (sender, region, rate …).
	ErrInvalidSetting = errors.New("invalid setting")
	// ErrSettingConflict: an import names a setting the existing campaign has with another value.
	ErrSettingConflict = errors.New("setting conflicts with the campaign")
	// ErrConcurrentImport: another writer added some of an import's
	// recipients while it ran (imports of one campaign take turns, so not
	// another import).
	ErrConcurrentImport = errors.New("concurrent import added the same recipients")
	// ErrBadTemplate: the body template parses but could not be rendered
	// safely (it calls itself, calls an undefined template, loops without
	// bound); refused once, before any row.
	ErrBadTemplate = errors.New("body template refused")
	// ErrBodyTooLong: a rendered body exceeds Twilio's MaxBodyLength.
	ErrBodyTooLong = errors.New("message body too long")
)
