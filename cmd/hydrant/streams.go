package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/spf13/cobra"

	"github.com/hydrantio/hydrant/delivery"
)

// placeholderRoleARN fills the RoleARN that the Firehose API requires of an
// S3 destination; Hydrant writes with its own credentials and ignores it.
const placeholderRoleARN = "arn:aws:iam::000000000000:role/hydrant"

func newStreamsCmd() *cobra.Command {
	var co clientOptions
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "List, create, describe and delete delivery streams",
		Args:  cobra.NoArgs, // so that a mistyped subcommand is an error
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	addClientFlags(cmd.PersistentFlags(), &co)
	cmd.AddCommand(
		newStreamsListCmd(&co),
		newStreamsCreateCmd(&co),
		newStreamsDescribeCmd(&co),
		newStreamsDeleteCmd(&co),
	)
	return cmd
}

// outputFlag is the -o flag of commands that can print JSON instead of text.
type outputFlag struct{ format string }

func (o *outputFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text or json")
}

func (o *outputFlag) json() (bool, error) {
	switch o.format {
	case "text", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("invalid --output %q: want text or json", o.format)
}

func newStreamsListCmd(co *clientOptions) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List delivery streams, one name per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := newFirehoseClient(ctx, *co)
			if err != nil {
				return err
			}
			names, err := listStreams(ctx, c)
			if err != nil {
				return describeError(err, co.endpoint)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, struct{ DeliveryStreamNames []string }{names})
			}
			for _, n := range names {
				fmt.Fprintln(w, n)
			}
			return nil
		},
	}
	out.register(cmd)
	return cmd
}

// listStreams pages through ListDeliveryStreams until the server says there
// are no more. The result is never nil.
func listStreams(ctx context.Context, c *firehose.Client) ([]string, error) {
	names := []string{}
	var start *string
	for {
		out, err := c.ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{
			ExclusiveStartDeliveryStreamName: start,
			Limit:                            aws.Int32(10000), // the API maximum
		})
		if err != nil {
			return nil, err
		}
		names = append(names, out.DeliveryStreamNames...)
		if !aws.ToBool(out.HasMoreDeliveryStreams) {
			return names, nil
		}
		if len(out.DeliveryStreamNames) == 0 {
			return nil, fmt.Errorf("server reported more delivery streams after %q but returned none", aws.ToString(start))
		}
		start = aws.String(names[len(names)-1])
	}
}

type createFlags struct {
	bucket         string
	prefix         string
	errorPrefix    string
	bufferSize     int32
	bufferInterval int32
	compression    string
}

func newStreamsCreateCmd(co *clientOptions) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create NAME --bucket BUCKET",
		Short: "Create a Direct PUT delivery stream that delivers to a bucket",
		Long: `Create a Direct PUT delivery stream with an S3 destination in BUCKET.
Settings whose flag is not given are left to the server's defaults.`,
		Example: `  hydrant streams create clicks --bucket events --prefix clicks/ --compression GZIP`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := createInput(args[0], &f, cmd.Flags().Changed)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := newFirehoseClient(ctx, *co)
			if err != nil {
				return err
			}
			out, err := c.CreateDeliveryStream(ctx, in)
			if err != nil {
				return describeError(err, co.endpoint)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created delivery stream %s (%s)\n", args[0], aws.ToString(out.DeliveryStreamARN))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bucket, "bucket", "", "destination bucket (required)")
	fl.StringVar(&f.prefix, "prefix", "", "object key prefix (default: the server's)")
	fl.StringVar(&f.errorPrefix, "error-prefix", "", "key prefix for records that failed processing (default: the server's)")
	fl.Int32Var(&f.bufferSize, "buffer-size", 0, "buffer size in MiB before an object is written (default: the server's)")
	fl.Int32Var(&f.bufferInterval, "buffer-interval", 0, "seconds to buffer before an object is written (default: the server's)")
	fl.StringVar(&f.compression, "compression", "", "object compression: "+strings.Join(compressionNames(), ", ")+" (default: the server's)")
	_ = cmd.MarkFlagRequired("bucket")
	return cmd
}

// createInput builds the request, setting only the fields whose flag was
// given, so that everything else takes the server's defaults.
func createInput(name string, f *createFlags, changed func(string) bool) (*firehose.CreateDeliveryStreamInput, error) {
	if f.bucket == "" {
		return nil, fmt.Errorf("--bucket must not be empty")
	}
	dst := &types.ExtendedS3DestinationConfiguration{
		BucketARN: aws.String("arn:aws:s3:::" + f.bucket),
		RoleARN:   aws.String(placeholderRoleARN),
	}
	if changed("prefix") {
		dst.Prefix = aws.String(f.prefix)
	}
	if changed("error-prefix") {
		dst.ErrorOutputPrefix = aws.String(f.errorPrefix)
	}
	if changed("buffer-size") || changed("buffer-interval") {
		dst.BufferingHints = &types.BufferingHints{}
		if changed("buffer-size") {
			dst.BufferingHints.SizeInMBs = aws.Int32(f.bufferSize)
		}
		if changed("buffer-interval") {
			dst.BufferingHints.IntervalInSeconds = aws.Int32(f.bufferInterval)
		}
	}
	if changed("compression") {
		c, err := parseCompression(f.compression)
		if err != nil {
			return nil, err
		}
		dst.CompressionFormat = c
	}
	return &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName:                 aws.String(name),
		DeliveryStreamType:                 types.DeliveryStreamTypeDirectPut,
		ExtendedS3DestinationConfiguration: dst,
	}, nil
}

// compressionNames lists Firehose's formats plus Hydrant's ZSTD.
func compressionNames() []string { return delivery.CompressionFormats }

// parseCompression accepts a compression format in any letter case and
// returns the API's spelling of it.
func parseCompression(s string) (types.CompressionFormat, error) {
	for _, v := range delivery.CompressionFormats {
		if strings.EqualFold(s, v) {
			return types.CompressionFormat(v), nil
		}
	}
	return "", fmt.Errorf("invalid --compression %q: want one of %s", s, strings.Join(compressionNames(), ", "))
}

func newStreamsDescribeCmd(co *clientOptions) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a delivery stream's status and destination",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := out.json()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := newFirehoseClient(ctx, *co)
			if err != nil {
				return err
			}
			res, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{
				DeliveryStreamName: aws.String(args[0]),
			})
			if err != nil {
				return describeError(err, co.endpoint)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					DeliveryStreamDescription *types.DeliveryStreamDescription
				}{res.DeliveryStreamDescription})
			}
			return writeDescription(cmd.OutOrStdout(), res.DeliveryStreamDescription)
		},
	}
	out.register(cmd)
	return cmd
}

// writeDescription prints the parts of a description people look at.
func writeDescription(w io.Writer, d *types.DeliveryStreamDescription) error {
	if d == nil {
		return fmt.Errorf("server returned no description")
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row := func(indent, key, value string) { fmt.Fprintf(tw, "%s%s:\t%s\n", indent, key, value) }
	row("", "Name", aws.ToString(d.DeliveryStreamName))
	row("", "ARN", aws.ToString(d.DeliveryStreamARN))
	row("", "Status", string(d.DeliveryStreamStatus))
	if f := d.FailureDescription; f != nil {
		row("", "Failure", fmt.Sprintf("%s: %s", f.Type, aws.ToString(f.Details)))
	}
	row("", "Version", aws.ToString(d.VersionId))
	row("", "Type", string(d.DeliveryStreamType))
	row("", "Created", formatTime(d.CreateTimestamp))
	if d.LastUpdateTimestamp != nil {
		row("", "Updated", formatTime(d.LastUpdateTimestamp))
	}
	if e := d.DeliveryStreamEncryptionConfiguration; e != nil && e.Status != "" {
		row("", "Encryption", string(e.Status))
	}
	for _, dst := range d.Destinations {
		switch {
		case dst.ExtendedS3DestinationDescription != nil:
			s := dst.ExtendedS3DestinationDescription
			row("", "Destination", "S3 bucket "+bucketName(s.BucketARN))
			row("  ", "Prefix", orNone(s.Prefix))
			row("  ", "Error prefix", orNone(s.ErrorOutputPrefix))
			row("  ", "Buffering", formatBuffering(s.BufferingHints))
			row("  ", "Compression", orNoneString(string(s.CompressionFormat)))
		case dst.S3DestinationDescription != nil:
			s := dst.S3DestinationDescription
			row("", "Destination", "S3 bucket "+bucketName(s.BucketARN))
			row("  ", "Prefix", orNone(s.Prefix))
			row("  ", "Error prefix", orNone(s.ErrorOutputPrefix))
			row("  ", "Buffering", formatBuffering(s.BufferingHints))
			row("  ", "Compression", orNoneString(string(s.CompressionFormat)))
		case dst.HttpEndpointDestinationDescription != nil:
			h := dst.HttpEndpointDestinationDescription
			url := ""
			if h.EndpointConfiguration != nil {
				url = aws.ToString(h.EndpointConfiguration.Url)
			}
			row("", "Destination", "HTTP endpoint "+url)
			if b := h.BufferingHints; b != nil {
				row("  ", "Buffering", formatBuffering(&types.BufferingHints{SizeInMBs: b.SizeInMBs, IntervalInSeconds: b.IntervalInSeconds}))
			}
		default:
			row("", "Destination", aws.ToString(dst.DestinationId)+" (see -o json)")
		}
	}
	return tw.Flush()
}

func bucketName(arn *string) string {
	return strings.TrimPrefix(aws.ToString(arn), "arn:aws:s3:::")
}

func orNone(s *string) string { return orNoneString(aws.ToString(s)) }

func orNoneString(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func formatBuffering(b *types.BufferingHints) string {
	if b == nil {
		return "(server default)"
	}
	var parts []string
	if b.SizeInMBs != nil {
		parts = append(parts, fmt.Sprintf("%d MiB", *b.SizeInMBs))
	}
	if b.IntervalInSeconds != nil {
		parts = append(parts, fmt.Sprintf("%d s", *b.IntervalInSeconds))
	}
	if len(parts) == 0 {
		return "(server default)"
	}
	return strings.Join(parts, " or ") + ", whichever comes first"
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "(unknown)"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func newStreamsDeleteCmd(co *clientOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a delivery stream",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := newFirehoseClient(ctx, *co)
			if err != nil {
				return err
			}
			in := &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String(args[0])}
			if force {
				in.AllowForceDelete = aws.Bool(true)
			}
			if _, err := c.DeleteDeliveryStream(ctx, in); err != nil {
				return describeError(err, co.endpoint)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted delivery stream %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even if the stream is in a failed state (AllowForceDelete)")
	return cmd
}

// writeJSON writes v as indented JSON without its absent members (null, ""
// and {}), the way the AWS CLI prints API responses.
func writeJSON(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode output: %w", err)
	}
	raw, err = pruneJSON(raw)
	if err != nil {
		return fmt.Errorf("cannot encode output: %w", err)
	}
	if raw == nil {
		raw = json.RawMessage("{}")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("cannot encode output: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// pruneJSON drops object members whose value is null, "" or an object left
// empty by pruning, keeping member order. It returns nil for such a value.
func pruneJSON(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	switch raw[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		out := []byte{'{'}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			if v, err = pruneJSON(v); err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			k, _ := json.Marshal(key)
			out = append(append(append(out, k...), ':'), v...)
		}
		if len(out) == 1 {
			return nil, nil
		}
		return append(out, '}'), nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		out := []byte{'['}
		for i, e := range elems {
			p, err := pruneJSON(e)
			if err != nil {
				return nil, err
			}
			if p == nil { // keep array elements, only emptied of their absent members
				p = e
				if e[0] == '{' {
					p = json.RawMessage("{}")
				}
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, p...)
		}
		return append(out, ']'), nil
	case 'n':
		return nil, nil
	case '"':
		if string(raw) == `""` {
			return nil, nil
		}
	}
	return raw, nil
}
