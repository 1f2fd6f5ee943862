package executor

// Attaching to a detached container: its supervisor listens on a unix
// socket in the container's directory (attach.sock; no TCP, and only root
// can reach the directory) and serves any number of clients. The stream
// is framed: one type byte, a 4-byte big-endian length, the payload.
//
//	shim → client:  frameStdout, frameStderr (output), frameExit (exit code)
//	client → shim:  frameStdin (input), frameStdinEOF, frameResize (rows, cols)
//
// A slow client never blocks the container: each client has a bounded
// queue, and a client that lets it fill up is disconnected. Output made
// before the first client attached (up to 64 KiB, e.g. a shell's first
// prompt under `stack run -it`) is replayed to that first client.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/container"
)

const (
	frameStdin    = 0
	frameStdout   = 1
	frameStderr   = 2
	frameResize   = 3
	frameStdinEOF = 4
	frameExit     = 5

	earlyOutputMax = 64 << 10
	clientQueue    = 256
)

// shortPath returns a path to name in dir that fits in a sockaddr_un
// (108 bytes) whatever dir's length: through an O_PATH descriptor of dir.
func shortPath(dir, name string) (string, func(), error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name, func() { unix.Close(fd) }, nil
}

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if _, err := w.Write(append(h[:], payload...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, errors.New("attach: frame too large")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return h[0], b, nil
}

// attachHub is the supervisor's side: its listener and clients.
type attachHub struct {
	mu       sync.Mutex
	ln       net.Listener
	path     string // the socket, and what it was when made
	sock     os.FileInfo
	clients  map[*attachClient]struct{}
	early    [][]byte // frames made before the first client came
	earlyLen int
	attached bool
	// input and resize act on the current run's stdin and terminal (nil
	// between runs, or without -i / -t).
	input  io.WriteCloser
	resize func(rows, cols uint16)
}

type attachClient struct {
	conn net.Conn
	out  chan []byte
	once sync.Once
}

func (c *attachClient) close() { c.once.Do(func() { close(c.out) }) }

func newAttachHub() *attachHub { return &attachHub{clients: map[*attachClient]struct{}{}} }

// listen starts serving attach clients on dir/attach.sock. Output made
// before is kept for the first client.
func (h *attachHub) listen(dir string) error {
	p, done, err := shortPath(dir, AttachSocket)
	if err != nil {
		return err
	}
	defer done()
	os.Remove(filepath.Join(dir, AttachSocket))
	ln, err := net.Listen("unix", p)
	if err != nil {
		return fmt.Errorf("listening for attach: %w", err)
	}
	// Go would unlink the listening path at close: a /proc/self/fd path
	// whose descriptor is closed by then. close removes the socket itself,
	// and only if it is still this one (a next supervisor may have made
	// its own).
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	h.path = filepath.Join(dir, AttachSocket)
	h.sock, _ = os.Stat(h.path)
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	go h.serve()
	return nil
}

func (h *attachHub) serve() {
	for {
		conn, err := h.ln.Accept()
		if err != nil {
			return
		}
		c := &attachClient{conn: conn, out: make(chan []byte, clientQueue)}
		h.mu.Lock()
		if !h.attached {
			for _, f := range h.early {
				select {
				case c.out <- f:
				default:
				}
			}
		}
		h.attached, h.early = true, nil
		h.clients[c] = struct{}{}
		h.mu.Unlock()
		go h.writeLoop(c)
		go h.readLoop(c)
	}
}

func frame(typ byte, b []byte) []byte {
	f := make([]byte, 5+len(b))
	f[0] = typ
	binary.BigEndian.PutUint32(f[1:], uint32(len(b)))
	copy(f[5:], b)
	return f
}

func (h *attachHub) writeLoop(c *attachClient) {
	for f := range c.out {
		if _, err := c.conn.Write(f); err != nil {
			break
		}
	}
	c.conn.Close()
	h.drop(c)
}

func (h *attachHub) readLoop(c *attachClient) {
	for {
		typ, b, err := readFrame(c.conn)
		if err != nil {
			h.drop(c)
			return
		}
		h.mu.Lock()
		in, rs := h.input, h.resize
		h.mu.Unlock()
		switch typ {
		case frameStdin:
			if in != nil {
				in.Write(b)
			}
		case frameStdinEOF:
			if in != nil {
				in.Close()
			}
		case frameResize:
			if rs != nil && len(b) == 4 {
				rs(binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]))
			}
		}
	}
}

func (h *attachHub) drop(c *attachClient) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		c.close()
	}
	h.mu.Unlock()
}

// broadcast sends output to every client; one whose queue is full is
// disconnected rather than waited for.
func (h *attachHub) broadcast(stream string, b []byte) {
	typ := byte(frameStdout)
	if stream == "stderr" {
		typ = frameStderr
	}
	f := frame(typ, b)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.attached {
		if h.earlyLen+len(b) <= earlyOutputMax && len(h.early) < clientQueue {
			h.early = append(h.early, f)
			h.earlyLen += len(b)
		}
		return
	}
	for c := range h.clients {
		select {
		case c.out <- f:
		default:
			delete(h.clients, c)
			c.close()
		}
	}
}

// exit tells every client the container's exit code and disconnects them.
func (h *attachHub) exit(code int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.out <- frame(frameExit, b[:]):
		default:
		}
		delete(h.clients, c)
		c.close()
	}
}

// setIO sets the current run's stdin and terminal resize (nil: none).
func (h *attachHub) setIO(in io.WriteCloser, resize func(rows, cols uint16)) {
	h.mu.Lock()
	h.input, h.resize = in, resize
	h.mu.Unlock()
}

func (h *attachHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln != nil {
		h.ln.Close()
		if fi, err := os.Stat(h.path); err == nil && h.sock != nil && os.SameFile(fi, h.sock) {
			os.Remove(h.path)
		}
	}
}

// Attach connects to a running detached container: its output to Stdout
// and Stderr, Stdin to it. It returns the container's exit code when the
// container ends, ErrDetached when the user detached, or ctx's end.
func Attach(ctx context.Context, root, ref string, s AttachStreams) (int, error) {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return 0, err
	}
	dir := containerDir(root, id)
	st, err := ContainerStatus(root, id)
	if err != nil {
		return 0, err
	}
	notRunning := fmt.Errorf("you cannot attach to a stopped container, start it first: %w", container.ErrNotRunning)
	if !st.Status.Active() {
		return 0, notRunning
	}
	p, done, err := shortPath(dir, AttachSocket)
	if err != nil {
		return 0, err
	}
	// A supervisor listens once its container runs: a client that comes
	// right after the start may find no socket for a moment.
	conn, err := net.Dial("unix", p)
	for i := 0; err != nil && i < 100; i++ {
		if st, serr := ContainerStatus(root, id); serr != nil || !st.Status.Active() {
			break
		}
		time.Sleep(10 * time.Millisecond)
		conn, err = net.Dial("unix", p)
	}
	done()
	if err != nil {
		if st, serr := ContainerStatus(root, id); serr == nil && !st.Status.Active() {
			return 0, notRunning // it ended meanwhile
		}
		return 0, fmt.Errorf("attaching to %s: %w", id, err)
	}
	defer conn.Close()
	var wmu sync.Mutex
	send := func(typ byte, b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, typ, b)
	}
	sendSize := func(rows, cols uint16) {
		var b [4]byte
		binary.BigEndian.PutUint16(b[:], rows)
		binary.BigEndian.PutUint16(b[2:], cols)
		send(frameResize, b[:])
	}
	if s.Rows > 0 && s.Cols > 0 {
		sendSize(s.Rows, s.Cols)
	}
	detached := make(chan struct{})
	if s.Stdin != nil {
		keys := s.DetachKeys
		if keys == nil {
			keys = []byte{0x10, 0x11} // ctrl-p ctrl-q
		}
		go copyStdin(s.Stdin, keys, send, detached)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case sz, ok := <-s.Resize:
				if !ok {
					return
				}
				sendSize(sz[0], sz[1])
			case <-stop:
				return
			}
		}
	}()
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		for {
			typ, b, err := readFrame(conn)
			if err != nil {
				res <- result{-1, io.EOF}
				return
			}
			switch typ {
			case frameStdout:
				s.Stdout.Write(b)
			case frameStderr:
				if s.Stderr != nil {
					s.Stderr.Write(b)
				} else {
					s.Stdout.Write(b)
				}
			case frameExit:
				if len(b) == 4 {
					res <- result{int(int32(binary.BigEndian.Uint32(b))), nil}
					return
				}
			}
		}
	}()
	select {
	case r := <-res:
		if r.err == io.EOF {
			// Disconnected without an exit code: ask the state.
			code, err := WaitContainer(ctx, root, id)
			return code, err
		}
		return r.code, nil
	case <-detached:
		return 0, ErrDetached
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// copyStdin sends stdin to the container until EOF or the detach keys.
func copyStdin(in io.Reader, keys []byte, send func(byte, []byte) error, detached chan<- struct{}) {
	buf := make([]byte, 4096)
	matched := 0 // how many detach keys were read last
	for {
		n, err := in.Read(buf)
		out := make([]byte, 0, n+len(keys))
		for _, b := range buf[:n] {
			if b == keys[matched] {
				matched++
				if matched == len(keys) {
					if len(out) > 0 {
						send(frameStdin, out)
					}
					close(detached)
					return
				}
				continue
			}
			out = append(out, keys[:matched]...)
			matched = 0
			if b == keys[0] {
				matched = 1
				continue
			}
			out = append(out, b)
		}
		if len(out) > 0 {
			if send(frameStdin, out) != nil {
				return
			}
		}
		if err != nil {
			send(frameStdinEOF, nil)
			return
		}
	}
}
