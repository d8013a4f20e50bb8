package limiter

import "errors"

// Sentinel errors of the limiter package. Compare with errors.Is.
var (
	// ErrInvalidConfig: a [Config] field is out of range; the wrapped
	// message names the field, its value and the range it must be in.
	ErrInvalidConfig = errors.New("invalid limiter config")
)
