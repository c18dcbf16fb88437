package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/sql"
	"github.com/hydrantio/hydrant/sql/exec"
	"github.com/hydrantio/hydrant/sql/nexmark"
)

func newSQLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Check, explain and run SQL applications",
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
	}, newSQLRunCmd(), newSQLNexmarkCmd())
	return cmd
}

func newSQLRunCmd() *cobra.Command {
	var inputs []string
	var outDir string
	cmd := &cobra.Command{
		Use:   "run APP.sql --input TABLE=FILE ... --output DIR",
		Short: "Run a SQL application over files in event time",
		Long: `Run APP.sql over files, in event time, and write each sink table's rows as JSON lines
to DIR/<table>.jsonl and the error stream (undecodable and late records, with the reason) to
DIR/_errors.jsonl.

Each --input TABLE=FILE gives the records of one source table: JSON lines, or CSV for a table
declared with format=csv. Inputs are read one record at a time in turn, in the order of the
--input flags; each table's watermark (its largest event time minus the allowed lateness)
advances after every record, so a run is deterministic. A window is emitted once, when the
watermark passes its end; at the end of the input every open window closes and is emitted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outDir == "" {
				return errors.New("--output DIR is required")
			}
			app, err := loadSQLApp(cmd.ErrOrStderr(), args[0])
			if err != nil {
				return err
			}
			if err := exec.Check(app); err != nil {
				return err
			}
			return runSQLApp(cmd.Context(), cmd.OutOrStdout(), app, inputs, outDir)
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "TABLE=FILE: the records of source table TABLE (repeatable)")
	cmd.Flags().StringVar(&outDir, "output", "", "the directory to write DIR/<table>.jsonl and DIR/_errors.jsonl to")
	return cmd
}

func newSQLNexmarkCmd() *cobra.Command {
	var events int64
	var outDir string
	var cfg nexmark.Config
	cmd := &cobra.Command{
		Use:   "nexmark --events N --output DIR",
		Short: "Generate Nexmark events (persons, auctions, bids) as JSON lines",
		Long: `Generate the first N events of the Nexmark benchmark and write them as JSON lines to
DIR/person.jsonl, DIR/auction.jsonl and DIR/bid.jsonl: of every 50 events, 1 person, 3 auctions
and 46 bids, event time advancing by 1/RATE seconds per event. The same --seed gives the same
events. The Nexmark queries in sql/testdata/nexmark read bid.jsonl:

  hydrant sql nexmark --events 1000000 --output in
  hydrant sql run sql/testdata/nexmark/q5.sql --input bid=in/bid.jsonl --output out`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if outDir == "" {
				return errors.New("--output DIR is required")
			}
			if events < 0 {
				return fmt.Errorf("--events %d: want 0 or more", events)
			}
			if cfg.Rate <= 0 {
				return fmt.Errorf("--rate %d: want at least 1 event per second", cfg.Rate)
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("cannot create the output directory: %w", err)
			}
			var files [3]*os.File
			for i, name := range []string{"person", "auction", "bid"} {
				f, err := os.Create(filepath.Join(outDir, name+".jsonl"))
				if err != nil {
					return fmt.Errorf("cannot create output: %w", err)
				}
				defer func() {
					if cerr := f.Close(); cerr != nil && err == nil {
						err = cerr
					}
				}()
				files[i] = f
			}
			c, err := nexmark.NewGenerator(cfg).Write(events, files[0], files[1], files[2])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d events: %d persons, %d auctions, %d bids to %s\n", events, c.Persons, c.Auctions, c.Bids, outDir)
			return nil
		},
	}
	cmd.Flags().Int64Var(&events, "events", 1000000, "how many events to generate")
	cmd.Flags().StringVar(&outDir, "output", "", "the directory to write person.jsonl, auction.jsonl and bid.jsonl to")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 0, "the random seed")
	cmd.Flags().IntVar(&cfg.Rate, "rate", 10000, "events per second of event time")
	return cmd
}

// runSQLApp opens the inputs and outputs of a run, runs app and prints a
// summary of what it read and wrote.
func runSQLApp(ctx context.Context, w io.Writer, app *sql.App, inputs []string, outDir string) (err error) {
	var ins []exec.Input
	for _, in := range inputs {
		table, file, ok := strings.Cut(in, "=")
		if !ok || table == "" || file == "" {
			return fmt.Errorf("--input %q: want TABLE=FILE", in)
		}
		t, err := exec.Source(app, table)
		if err != nil {
			return fmt.Errorf("--input %s: %w", in, err)
		}
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("--input %s: %w", in, err)
		}
		defer f.Close()
		ins = append(ins, exec.Input{Table: t.Name, Name: file, R: f})
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("cannot create the output directory: %w", err)
	}
	out := exec.Output{Sinks: map[string]io.Writer{}}
	var files []*os.File
	defer func() {
		for _, f := range files {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	create := func(name string) (*os.File, error) {
		f, err := os.Create(filepath.Join(outDir, name))
		if err != nil {
			return nil, fmt.Errorf("cannot create output: %w", err)
		}
		files = append(files, f)
		return f, nil
	}
	sinks := exec.SinkTables(app)
	for _, t := range sinks {
		f, err := create(t.Name + ".jsonl")
		if err != nil {
			return err
		}
		out.Sinks[t.Name] = f
	}
	if out.Errors, err = create("_errors.jsonl"); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	stats, err := exec.Run(ctx, app, ins, out)
	if err != nil {
		return err
	}
	for _, in := range ins {
		fmt.Fprintf(w, "input %s: %d records from %s, %d late\n", in.Table, stats.Records[in.Table], in.Name, stats.Late[in.Table])
	}
	for _, t := range sinks {
		fmt.Fprintf(w, "sink %s: %d rows to %s\n", t.Name, stats.Rows[t.Name], filepath.Join(outDir, t.Name+".jsonl"))
	}
	fmt.Fprintf(w, "errors: %d records to %s\n", stats.Errors, filepath.Join(outDir, "_errors.jsonl"))
	return nil
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
