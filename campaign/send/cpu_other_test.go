//go:build !unix

package send_test

import "time"

// cpuTime is unknown here: BenchmarkSendEndToEnd reports 0 CPU per message.
func cpuTime() time.Duration { return 0 }
