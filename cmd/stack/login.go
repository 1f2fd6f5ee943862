package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stack-dev/stack/layers"
)

type loginOptions struct {
	username      string
	password      string
	passwordStdin bool
}

func init() { registerCommand(newLoginCommand) }

func newLoginCommand() *cobra.Command {
	var opts loginOptions
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]",
		Short: "Log in to a registry (credentials go to the docker config.json)",
		Long: `Check a user name and password against a registry (default docker.io) and
store them in $DOCKER_CONFIG/config.json or ~/.docker/config.json (mode 0600),
or in the credential helper that file names (credsStore, credHelpers).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			return runLogin(cmd, opts, server)
		},
	}
	cmd.Flags().StringVarP(&opts.username, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&opts.password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&opts.passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func runLogin(cmd *cobra.Command, opts loginOptions, server string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	in := bufio.NewReader(cmd.InOrStdin())
	if opts.passwordStdin {
		if opts.password != "" {
			return fmt.Errorf("--password and --password-stdin are exclusive")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("reading the password: %w", err)
		}
		opts.password = strings.TrimRight(string(b), "\r\n")
	}
	if opts.username == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "Username: ")
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the user name: %w", err)
		}
		opts.username = strings.TrimSpace(line)
	}
	if opts.password == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
			opts.password = string(b)
		} else {
			line, _ := in.ReadString('\n')
			opts.password = strings.TrimRight(line, "\r\n")
		}
	}
	if opts.username == "" || opts.password == "" {
		return fmt.Errorf("logging in: user name and password are required")
	}
	if err := store.Login(cmd.Context(), server, opts.username, opts.password, layers.RegistryOptions{}); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
	return nil
}
