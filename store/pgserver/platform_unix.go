//go:build unix

package pgserver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// supported reports whether the embedded server can run here: on Unix it can.
func supported() error { return nil }

// tryLock takes f's exclusive flock without blocking; false means someone
// else holds it. flock locks belong to an open file description, so two
// opens in one process exclude each other too.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		return false, nil
	default:
		return false, err
	}
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// processAlive reports whether pid is a live process. A killed process
// whose parent has not reaped it yet is a zombie: kill(pid, 0) succeeds on
// it, but it will never run again.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) || !procMounted()
	}
	// The state follows the parenthesised command name, which may itself
	// contain spaces or parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// sysProcAttr runs a server binary as u (nil: as us), in a session of its
// own so that a Ctrl-C in the terminal never reaches the server it leaves
// running.
func sysProcAttr(u *serverUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setsid: true}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	return attr
}

// fileOwner returns the numeric owner of the file fi describes.
func fileOwner(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

// serverUserFor returns who the server runs as, or nil for "as us". Only
// root needs another user. An existing cluster keeps the user that owns its
// data directory (a real one: a symlink there is refused later, so its
// owner counts for nothing); a new one gets "postgres", else "nobody".
func serverUserFor(dataDir string) (*serverUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if fi, err := os.Lstat(dataDir); err == nil && fi.IsDir() {
		if uid, gid, ok := fileOwner(fi); ok && uid != 0 {
			u, err := user.LookupId(strconv.Itoa(int(uid)))
			if err != nil {
				return &serverUser{uid: uid, gid: gid}, nil
			}
			return serverUserOf(u)
		}
	}
	for _, name := range []string{"postgres", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			return serverUserOf(u)
		}
	}
	return nil, errors.New("run embedded PostgreSQL as root: PostgreSQL refuses to run as root and neither user \"postgres\" nor \"nobody\" exists: create a \"postgres\" user, run smsblast as a normal user, or set DATABASE_URL")
}

func serverUserOf(u *user.User) (*serverUser, error) {
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("read ids of user %s: %w", u.Username, err)
	}
	s := &serverUser{uid: uint32(uid), gid: uint32(gid)}
	// Keep the supplementary groups: canTraverse counts them, so the
	// process must have them too.
	ids, _ := u.GroupIds()
	for _, g := range ids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			s.groups = append(s.groups, uint32(n))
		}
	}
	return s, nil
}
