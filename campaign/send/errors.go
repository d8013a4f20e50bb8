package send

import "errors"

// ErrConfig: an engine setting is out of range; the message says which.
var ErrConfig = errors.New("invalid engine configuration")
