package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	files       []string // -f, repeatable, later files override
	projectName string   // -p
	projectDir  string   // --project-directory
	root        string   // --root / STACK_ROOT
	logLevel    string   // --log-level
	profiles    []string // --profile
	envFiles    []string // --env-file (project level)
	loose       bool     // --loose: unsupported compose fields warn instead of failing
}

var global globalOptions

// commands registered by the per-command files, in init().
var commandFactories []func() *cobra.Command

func registerCommand(f func() *cobra.Command) { commandFactories = append(commandFactories, f) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stack",
		Short:         "Daemonless, declarative environments: plan, up, down",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(cmd.ErrOrStderr())
		},
	}
	pf := root.PersistentFlags()
	// --file has its -f shorthand only on the project commands (see
	// projectFlags): container commands use -f for force and follow, as
	// docker does.
	pf.StringArrayVar(&global.files, "file", nil, "stack file (repeatable; later files override earlier ones)")
	// --project-name too has its -p shorthand only on project commands:
	// run uses -p for --publish and commit for --pause, as docker does.
	pf.StringVar(&global.projectName, "project-name", "", "project name (default: the file's name: key, else the directory name)")
	pf.StringVar(&global.projectDir, "project-directory", "", "project directory (default: the directory of the first file)")
	pf.StringVar(&global.root, "root", envOr("STACK_ROOT", "/var/lib/stack"), "state root (env STACK_ROOT)")
	pf.StringVar(&global.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	pf.StringArrayVar(&global.profiles, "profile", nil, "enable a profile (repeatable; env COMPOSE_PROFILES)")
	pf.StringArrayVar(&global.envFiles, "env-file", nil, "project environment file (default: .env in the project directory)")
	pf.BoolVar(&global.loose, "loose", false, "warn about unsupported compose fields instead of failing")

	cmds := make([]*cobra.Command, 0, len(commandFactories))
	for _, f := range commandFactories {
		cmds = append(cmds, f())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var logger = slog.New(slog.NewTextHandler(io.Discard, nil))

func setupLogging(w io.Writer) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(global.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", global.logLevel)
	}
	logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// stateRoot returns the absolute state root.
func stateRoot() (string, error) {
	r, err := filepath.Abs(global.root)
	if err != nil {
		return "", fmt.Errorf("state root %q: %w", global.root, err)
	}
	return r, nil
}

// projectFlags gives a project command (plan, up, down, config, ...) the
// -f and -p shorthands of the global --file and --project-name flags.
func projectFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&global.files, "file", "f", nil, "stack file (repeatable; later files override earlier ones)")
	cmd.Flags().StringVarP(&global.projectName, "project-name", "p", "", "project name (default: the file's name: key, else the directory name)")
}
