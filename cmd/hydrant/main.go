// Command hydrant is the Hydrant server and its command-line client.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/transform/process"
)

func main() {
	// A process function's sandbox re-executes this binary to set itself
	// up inside its namespaces before it runs the function.
	process.RunInitIfRequested()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hydrant:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hydrant",
		Short:         "Hydrant: self-hosted event-streaming ingest and stream SQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newStreamsCmd(), newPutCmd(), newRepairCmd(), newDecryptCmd(), newKeysCmd(), newTransformCmd(), newSQLCmd())
	return root
}
