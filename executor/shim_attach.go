package executor

import (
	"errors"
	"io"
)

// AttachSocket is the name of a supervisor's socket in the container's
// directory.
const AttachSocket = "attach.sock"

// AttachStreams are the client's side of an attach.
type AttachStreams struct {
	// Stdin is sent to the container's stdin (nil: none). DetachKeys in it
	// end the attach and leave the container running (default ctrl-p
	// ctrl-q; docker's --detach-keys syntax is parsed by the caller).
	Stdin      io.Reader
	DetachKeys []byte
	Stdout     io.Writer
	Stderr     io.Writer
	// Size is the terminal's size to set first (zero: leave it); Resize
	// brings later changes.
	Rows, Cols uint16
	Resize     <-chan [2]uint16
}

// ErrDetached is returned by Attach when the detach keys were read.
var ErrDetached = errors.New("read escape sequence")
