package pgserver

import (
	"io/fs"
	"os"
	"syscall"
)

// The embedded server needs what Windows lacks or does differently: flock,
// running the server as another user, Unix-socket peer credentials. So
// every entry point that would run it (Start, Stop, Destroy) returns
// ErrUnsupportedOS first, and the functions below exist only to compile.

func supported() error { return ErrUnsupportedOS }

func tryLock(*os.File) (bool, error) { return false, ErrUnsupportedOS }

func unlock(*os.File) {}

func processAlive(int) bool { return false }

func sysProcAttr(*serverUser) *syscall.SysProcAttr { return nil }

func fileOwner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

func serverUserFor(string) (*serverUser, error) { return nil, ErrUnsupportedOS }
