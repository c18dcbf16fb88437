package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/delivery/wal"
)

func newRepairCmd() *cobra.Command {
	var dataDir string
	var truncate bool
	cmd := &cobra.Command{
		Use:   "repair STREAM",
		Short: "Check a stream's log and, with --truncate, cut it at the damage",
		Long: `Check the write-ahead log of STREAM under --data-dir (hydrant serve must not be running).
A torn write at the tail is fixed by every start on its own; damage in the middle stops the start,
because records after it would be lost. With --truncate, repair cuts the log at the damage:
the damaged entry and everything after it are dropped, and the drop is logged.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := filepath.Join(dataDir, "streams", args[0], "wal")
			if _, err := os.Stat(dir); err != nil {
				return fmt.Errorf("no log for stream %q under %s: %w", args[0], dataDir, err)
			}
			l, err := wal.Open(dir, wal.Options{})
			if err == nil {
				st := l.Stats()
				fmt.Fprintf(cmd.OutOrStdout(), "log of %s is sound: offsets %d to %d, %d undelivered, %d segments\n",
					args[0], st.FirstOffset, st.NextOffset, st.NextOffset-st.Committed, st.Segments)
				return l.Close()
			}
			var cerr *wal.CorruptionError
			if !errors.As(err, &cerr) {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "damage: %v\n", cerr)
			if !truncate {
				return fmt.Errorf("log of stream %q is damaged; run again with --truncate to cut it at byte %d of %s (the records from offset %d on are lost)",
					args[0], cerr.ByteOffset, cerr.Segment, cerr.Offset)
			}
			if err := wal.Repair(dir, cerr); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "log of %s truncated at %s byte %d\n", args[0], cerr.Segment, cerr.ByteOffset)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./data", "the data dir hydrant serve uses")
	cmd.Flags().BoolVar(&truncate, "truncate", false, "cut the log at the damage (drops the records after it)")
	return cmd
}

// corruptionHint adds what to do to a start that failed on a damaged log.
func corruptionHint(err error, dataDir string) error {
	var cerr *wal.CorruptionError
	if !errors.As(err, &cerr) {
		return err
	}
	stream := filepath.Base(filepath.Dir(cerr.Dir))
	return fmt.Errorf("%w\nthe log of stream %q is damaged in the middle, so it was not truncated on its own; "+
		"inspect it with `hydrant repair --data-dir %s %s` and cut it there with --truncate", err, stream, dataDir, stream)
}
