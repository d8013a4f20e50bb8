package delivery

import "errors"

// ErrBadCallback: a webhook request lacks a required parameter or carries
// one smsblast cannot read. The message names the parameter.
var ErrBadCallback = errors.New("malformed webhook request")
