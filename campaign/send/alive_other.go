//go:build !unix

package send

import "os"

// processAlive reports whether pid names a running process on this host.
// Without a kill(pid, 0) probe the answer errs towards alive: a worker
// wrongly thought alive only waits for its leases to run out, while one
// wrongly thought dead would have its leases ended early.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
