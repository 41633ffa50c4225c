//go:build unix

package h1

import "syscall"

// peek reports whether the socket fd has anything but "nothing yet"
// (EAGAIN) to read: an end of stream (the target closed), bytes nobody
// asked for, or an error (a reset).
func peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
