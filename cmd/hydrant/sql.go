package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/sql"
)

func newSQLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Check and explain SQL applications",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate APP.sql",
		Short: "Check a SQL application and summarise its tables and queries",
		Long: `Parse and check APP.sql. On success, print "ok" and a summary of its tables and queries;
otherwise print every error as APP.sql:LINE:COLUMN: message and exit non-zero.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, err := loadSQLApp(cmd.ErrOrStderr(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok\n%s", sql.Summary(app))
			return nil
		},
	}, &cobra.Command{
		Use:   "explain APP.sql",
		Short: "Print the logical plan of each query of a SQL application",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, err := loadSQLApp(cmd.ErrOrStderr(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), sql.Explain(app))
			return nil
		},
	})
	return cmd
}

// loadSQLApp parses the application at path, printing each error with its
// position and source line to w.
func loadSQLApp(w io.Writer, path string) (*sql.App, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	app, err := sql.Parse(path, src)
	var list sql.ErrorList
	if errors.As(err, &list) {
		lines := strings.Split(string(src), "\n")
		for _, e := range list {
			fmt.Fprintf(w, "%s:%d:%d: %s\n", path, e.Line, e.Column, e.Message)
			if e.Line <= len(lines) {
				line := strings.TrimRight(lines[e.Line-1], "\r")
				pad := strings.Map(func(r rune) rune {
					if r == '\t' {
						return '\t'
					}
					return ' '
				}, string([]rune(line)[:min(e.Column-1, len([]rune(line)))]))
				fmt.Fprintf(w, "    %s\n    %s^\n", line, pad)
			}
		}
		return nil, fmt.Errorf("%s: %d error(s)", path, len(list))
	}
	return app, err
}
