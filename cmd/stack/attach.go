package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
)

type attachOptions struct {
	noStdin    bool
	detachKeys string
}

func init() { registerCommand(newAttachCommand) }

func newAttachCommand() *cobra.Command {
	var opts attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := stateRoot()
			if err != nil {
				return err
			}
			c, _, err := executor.LoadContainer(root, args[0])
			if err != nil {
				return err
			}
			return attachTo(cmd, root, c, c.OpenStdin && !opts.noStdin, opts.detachKeys, false)
		},
	}
	cmd.Flags().BoolVar(&opts.noStdin, "no-stdin", false, "do not attach STDIN")
	cmd.Flags().StringVar(&opts.detachKeys, "detach-keys", "", "override the key sequence for detaching a container (default ctrl-p,ctrl-q)")
	return cmd
}

// attachTo connects the terminal to a detached container through its
// supervisor: raw mode and window size when it has a terminal, the detach
// keys to leave it running. It returns the container's exit code as the
// command's, or nil after a detach.
//
// replay is for a container just started by this command (run -it, start
// -i): if it has already ended, its log is printed instead.
func attachTo(cmd *cobra.Command, root string, c *executor.Container, stdin bool, detachKeys string, replay bool) error {
	s := executor.AttachStreams{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	if detachKeys != "" {
		keys, err := parseDetachKeys(detachKeys)
		if err != nil {
			return err
		}
		s.DetachKeys = keys
	}
	if stdin {
		s.Stdin = cmd.InOrStdin()
	}
	if f, ok := cmd.InOrStdin().(*os.File); ok && c.Tty && term.IsTerminal(int(f.Fd())) {
		if st, err := term.MakeRaw(int(f.Fd())); err == nil {
			defer term.Restore(int(f.Fd()), st)
		}
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			s.Rows, s.Cols = ws.Row, ws.Col
		}
		resize := make(chan [2]uint16, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
					select {
					case resize <- [2]uint16{ws.Row, ws.Col}:
					default:
					}
				}
			}
		}()
		s.Resize = resize
	}
	code, err := executor.Attach(cmd.Context(), root, c.ID, s)
	if errors.Is(err, executor.ErrDetached) {
		return nil
	}
	if errors.Is(err, container.ErrNotRunning) && replay {
		// It ended before we could attach (`run -it busybox true`): its
		// output is in its log, its code in its state.
		out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
		executor.ReadLogs(cmd.Context(), root, c.ID, executor.LogOptions{Tail: -1}, func(e executor.LogEntry) error {
			if e.Stream == "stderr" {
				return executor.WriteLogEntry(errw, e, false)
			}
			return executor.WriteLogEntry(out, e, false)
		})
		code, err = executor.WaitContainer(cmd.Context(), root, c.ID)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// parseDetachKeys parses docker's --detach-keys: a comma-separated list
// of single characters and ctrl-<x> combinations.
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys %q: unknown key %q", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys %q: unknown key %q", s, k)
		}
	}
	return out, nil
}
