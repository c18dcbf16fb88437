package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/config"
	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/transform"
)

func newTransformCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Work with transformation functions",
	}
	cmd.AddCommand(newTransformTestCmd())
	return cmd
}

type transformTestFlags struct {
	config, function, input string
	batchBytes              int64
	stream                  string
}

func newTransformTestCmd() *cobra.Command {
	var f transformTestFlags
	cmd := &cobra.Command{
		Use:   "test --function NAME [--config FILE] [--input records.jsonl]",
		Short: "Run a function of the config over sample records and print its results",
		Long: `Run a transformation function declared under functions: in the config file over
sample records, exactly as a delivery stream would, and print what it answered.

Each line of the input (a file, or standard input) is one record's data. The
records are sent in events of at most --batch-size bytes of data, as a stream's
processing buffer would send them. For each record, one JSON line goes to
standard output: its recordId, its result (Ok, Dropped or ProcessingFailed), its
data (as text when it is UTF-8, else as base64 in dataBase64) and the partition
keys the function returned. A summary goes to standard error. An invocation that
fails (an error, a timeout, an answer that breaks the contract) is reported with
Firehose's error code, and the command exits non-zero.`,
		Example: `  hydrant transform test --config hydrant.yaml --function enrich --input sample.jsonl
  head -100 events.jsonl | hydrant transform test --config hydrant.yaml --function enrich`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTransformTest(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "hydrant.yaml", "config file declaring the function")
	fl.StringVar(&f.function, "function", "", "name of the function (required)")
	fl.StringVarP(&f.input, "input", "i", "-", "file of records, one per line; - is standard input")
	fl.Int64Var(&f.batchBytes, "batch-size", delivery.DefaultFunctionBufferBytes, "most bytes of record data per invocation")
	fl.StringVar(&f.stream, "stream", "test", "delivery stream name the events say they come from")
	_ = cmd.MarkFlagRequired("function")
	return cmd
}

// transformOutput is one line of transform test's output.
type transformOutput struct {
	RecordID      string            `json:"recordId"`
	Result        string            `json:"result"`
	Data          *string           `json:"data,omitempty"`
	DataBase64    []byte            `json:"dataBase64,omitempty"`
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
}

func runTransformTest(cmd *cobra.Command, f *transformTestFlags) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	hideServerFiles(cfg, f.config)
	var decl *config.Function
	var names []string
	for i := range cfg.Functions {
		names = append(names, cfg.Functions[i].Name)
		if cfg.Functions[i].Name == f.function {
			decl = &cfg.Functions[i]
		}
	}
	if decl == nil {
		return fmt.Errorf("%s declares no function %q (it declares: %v); add it under functions:", f.config, f.function, names)
	}
	if f.batchBytes < 1 {
		return fmt.Errorf("--batch-size must be at least 1 byte")
	}
	in := cmd.InOrStdin()
	if f.input != "-" {
		file, err := os.Open(f.input)
		if err != nil {
			return fmt.Errorf("cannot open the input: %w", err)
		}
		defer file.Close()
		in = file
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	fn, err := startFunction(ctx, *decl, logger)
	if err != nil {
		return err
	}
	defer fn.Close()

	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	enc := json.NewEncoder(out)
	counts := map[string]int{}
	var invocations int
	var took time.Duration
	ev := transform.Event{
		DeliveryStreamArn: "arn:aws:firehose:" + cfg.Server.Region + ":" + cfg.Server.AccountID + ":deliverystream/" + f.stream,
		Region:            cfg.Server.Region,
	}
	size := int64(0)
	flush := func() error {
		if len(ev.Records) == 0 {
			return nil
		}
		ev.InvocationID = uuid.NewString()
		ictx, cancel := context.WithTimeout(ctx, decl.Timeout)
		start := time.Now()
		answer, err := fn.Invoke(ictx, transform.AppendEvent(nil, &ev))
		timedOut := errors.Is(ictx.Err(), context.DeadlineExceeded)
		cancel()
		took += time.Since(start)
		invocations++
		if timedOut {
			err = transform.Errorf(transform.CodeTimedOut, "the function did not answer within %v", decl.Timeout)
		}
		var results []transform.Result
		if err == nil {
			results, err = transform.Decode(answer, &ev)
		}
		if err != nil {
			return fmt.Errorf("invocation %d (%d records) failed: %w", invocations, len(ev.Records), err)
		}
		for _, r := range results {
			o := transformOutput{RecordID: r.RecordID, Result: r.Result}
			if r.Result == transform.ResultOk {
				if utf8.Valid(r.Data) {
					s := string(r.Data)
					o.Data = &s
				} else {
					o.DataBase64 = r.Data
				}
			}
			if r.Metadata != nil {
				o.PartitionKeys = r.Metadata.PartitionKeys
			}
			counts[r.Result]++
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		ev.Records, size = ev.Records[:0], 0
		return nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1000<<10) // Firehose's 1,000 KiB records
	n := 0
	for sc.Scan() {
		data := append([]byte(nil), sc.Bytes()...)
		ev.Records = append(ev.Records, transform.Record{RecordID: strconv.Itoa(n), ApproximateArrivalTimestamp: time.Now().UnixMilli(), Data: data})
		n++
		size += int64(len(data))
		if size >= f.batchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("record %d is longer than Firehose's 1,000 KiB", n+1)
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("cannot read the input: %w", err)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d records in %d invocations (%v): %d Ok, %d Dropped, %d ProcessingFailed\n",
		n, invocations, took.Round(time.Millisecond), counts[transform.ResultOk], counts[transform.ResultDropped], counts[transform.ResultProcessingFailed])
	return nil
}
