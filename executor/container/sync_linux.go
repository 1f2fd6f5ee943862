package container

// The parent/child protocol of Start (the same shape serves Exec):
//
//	parent (stack run, later a shim)              child: stack __stack_init
//	───────────────────────────────────           ─────────────────────────────
//	pipe "config", socketpair "sync" (SEQPACKET)
//	clone(NEWNS|NEWUTS|NEWIPC|NEWPID[|NEWNET]) ───▶ LockOSThread; sync fd CLOEXEC
//	write config JSON, close ──────────────────────▶ read config to EOF
//	Cgroup.Enter(pid)      (v1: every hierarchy)    hostname, mounts, devices,
//	OnCreate(pid)          (network wiring hook)    [-t] pty, pivot_root, masks,
//	                                                user and executable looked up
//	              ◀─────────────────────────────── [-t] msgConsole + SCM_RIGHTS(pty master)
//	msgGo ─────────────────────────────────────────▶ waits for msgGo before any
//	                                                code of the container runs:
//	                                                unshare(NEWCGROUP),
//	                                                rlimits, caps, user,
//	                                                no_new_privs, seccomp
//	              ◀─────────────────────────────── msgExec, then execve(entrypoint)
//	              ◀─────────────────────────────── or msgError{InitError}, exit 1
//	recv returns EOF: execve closed the sync fd
//	(close-on-exec) ⇒ the container runs
//
// The child prepares its root filesystem while the parent moves it into its
// cgroups: a cgroup v1 migration waits for an RCU grace period, and doing
// the two side by side takes milliseconds off every start. Nothing the
// container's image provides runs before msgGo (the mounts are made by
// stack itself), so limits and network are in place before the command.
//
// Exec (stack __stack_exec) has one more step in front: the cgo constructor in
// executor/nsenter joins the container's namespaces and clones (CLONE_PARENT)
// the process that becomes the exec'd command; it reports that process's PID
// on the "report" pipe before the parent writes the config and puts it in
// the cgroups. A child that exits while msgGo is unread makes the parent's
// next read fail with ECONNRESET once; recvMsg reads past it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	envConfigFD = "_STACK_INIT_CONFIG" // fd of the config pipe (child side)
	envSyncFD   = "_STACK_INIT_SYNC"   // fd of the sync socket (child side)
)

type msgType string

const (
	msgConsole msgType = "console"
	msgError   msgType = "error"
	msgExec    msgType = "exec" // sent right before execve
	msgGo      msgType = "go"   // parent → child: cgroups and network are ready
)

type syncMsg struct {
	Type  msgType    `json:"type"`
	Error *InitError `json:"error,omitempty"`
}

// sendMsg sends one message on the sync socket, with an optional fd.
func sendMsg(sock int, m syncMsg, fd int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(sock, b, oob, nil, 0)
}

// recvMsg reads one message; io.EOF-like (nil, nil) at end of stream.
func recvMsg(sock int) (*syncMsg, *os.File, error) {
	buf := make([]byte, 8<<10) // messages are small; a big zeroed buffer costs page faults
	oob := make([]byte, unix.CmsgSpace(4))
	resets := 0
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// A child that exits with our go message unread makes the kernel
		// report ECONNRESET once, ahead of what it sent before exiting
		// (its error): read on.
		if errors.Is(err, unix.ECONNRESET) && resets < 3 {
			resets++
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading from init: %w", err)
		}
		if n == 0 && oobn == 0 {
			return nil, nil, nil
		}
		var f *os.File
		if oobn > 0 {
			cms, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil {
				for _, cm := range cms {
					if fds, err := unix.ParseUnixRights(&cm); err == nil {
						for i, fd := range fds {
							if i == 0 && f == nil {
								f = os.NewFile(uintptr(fd), "console")
							} else {
								unix.Close(fd)
							}
						}
					}
				}
			}
		}
		var m syncMsg
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			if f != nil {
				f.Close()
			}
			return nil, nil, fmt.Errorf("reading from init: %w", err)
		}
		return &m, f, nil
	}
}

// waitGo blocks until the parent sends msgGo; EOF means the parent is gone.
func waitGo(sock int) error {
	for {
		m, f, err := recvMsg(sock)
		if f != nil {
			f.Close()
		}
		if err != nil {
			return err
		}
		if m == nil {
			return errors.New("waiting for the parent: it went away")
		}
		if m.Type == msgGo {
			return nil
		}
	}
}
