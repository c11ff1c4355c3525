//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package sqlrunner

import "syscall"

// socketQuiet peeks without blocking. It runs under Control, not Read: pgx
// may have a background reader parked on the socket, and Read would wait for
// it.
func socketQuiet(sc syscall.Conn) bool {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		quiet = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	})
	return err == nil && quiet
}
