package functions

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts a worker in its own process group, so that killing the
// group kills what it started too, and asks the kernel to kill it should
// Trellis die without closing the host.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// drainPipe waits (at most d) until the worker's output pipe is read dry,
// so that what a worker printed before answering is in its log when the
// invocation's log tail is taken.
func drainPipe(f *os.File, copying func() bool, d time.Duration) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	end := time.Now().Add(d)
	for {
		n := 0
		_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
		if (n == 0 && !copying()) || time.Now().After(end) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
