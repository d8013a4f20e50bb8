//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package csvimport

import (
	"syscall"
	"unsafe"
)

// allocBlocks maps n zeroed blocks outside the Go heap, returning them and
// what unmaps them. Outside, because the garbage collector sets its next
// goal at twice the live heap (GOGC=100): a 32 MiB filter on the heap would
// bring 32 MiB more of room for garbage with it, a quarter of the import's
// peak memory. The blocks hold no pointers, so the collector need not see
// them. If the mapping fails, they are on the heap after all.
func allocBlocks(n int) ([]filterBlock, func()) {
	b, err := syscall.Mmap(-1, 0, n*int(unsafe.Sizeof(filterBlock{})),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]filterBlock, n), func() {}
	}
	return unsafe.Slice((*filterBlock)(unsafe.Pointer(&b[0])), n), func() { _ = syscall.Munmap(b) }
}
