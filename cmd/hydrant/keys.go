package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make master keys for client-side encryption",
		Args:  cobra.NoArgs, // so that a mistyped subcommand is an error
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newKeysNewCmd())
	return cmd
}

func newKeysNewCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "new [--id ID]",
		Short: "Print a new master key, as a line to add to a key file",
		Long: `Print a new master key as a line of a key file: <id>:<base64 of 32 random bytes>.
The id defaults to k<Unix time>, so that ids tell the order keys were made in; an
id is 1 to 64 of A-Z a-z 0-9 _ . -.

With client-side encryption, Hydrant encrypts each object under a data key of its
own, and wraps that data key with the current master key: the last one listed in
the key file (encryption.key_file in the config; one key per line), or else in
$` + encrypt.EnvMasterKeys + ` (keys separated by commas). An object's header names the
master key it needs.

To rotate the master key, append a new key, then restart hydrant serve: new objects
use the new key, and older objects stay readable for as long as their key stays
listed. Remove an old key only when no object encrypted with it will be read
again (by hydrant decrypt, or by your own readers).

The key is a secret: keep the key file readable by Hydrant only (chmod 600), and
back it up: without its master key, an object cannot be decrypted.`,
		Example: `  hydrant keys new >> /etc/hydrant/keys.txt
  export ` + encrypt.EnvMasterKeys + `="$` + encrypt.EnvMasterKeys + `,$(hydrant keys new)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("id") {
				id = "k" + strconv.FormatInt(time.Now().Unix(), 10)
			}
			line, err := encrypt.GenerateKey(id)
			if err != nil {
				return fmt.Errorf("invalid --id %q: %w", id, err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), line)
			return err
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the key's id (default k<Unix time>)")
	return cmd
}
