package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { registerCommand(newLogoutCommand) }

func newLogoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Remove the stored credentials of a registry (default docker.io)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			if err := store.Logout(server); err != nil {
				return err
			}
			if server == "" {
				server = "docker.io"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			return nil
		},
	}
}
