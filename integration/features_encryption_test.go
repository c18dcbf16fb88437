package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/minio/minio-go/v7"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// newKey runs `hydrant keys new --id id` and returns its line.
func newKey(t *testing.T, id string) string {
	t.Helper()
	r := runHydrant(t, "", "keys", "new", "--id", id)
	line := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(line, id+":") || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("hydrant keys new --id %s: %v; want one line %s:<base64 key>", id, r, id)
	}
	return line
}

// encryptedKeyID returns the master key id an encrypted object's header
// names (delivery/encrypt/FORMAT.md), or "" if it has no such header.
func encryptedKeyID(data []byte) string {
	if len(data) < 6 || string(data[:4]) != "HENC" || data[4] != 1 || len(data) < 6+int(data[5]) {
		return ""
	}
	return string(data[6 : 6+int(data[5])])
}

// TestClientSideEncryptionS3 delivers records with client-side encryption
// under a master key made by `hydrant keys new`, checks that the objects
// are encrypted (.enc, the key id in the header, not gzip), and that
// `hydrant decrypt --stdout` turns each back into the gzip of exactly the
// records sent; then rotates the key (a second line, a restart), and
// checks that new objects name the new key and that the rotated key file
// decrypts old and new objects alike, while a file without the right key
// fails, saying which key is missing or wrong.
func TestClientSideEncryptionS3(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("sealed")
	keyFile := filepath.Join(t.TempDir(), "keys.txt")
	first := newKey(t, "k-first")
	if err := os.WriteFile(keyFile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("    access_key_id: %s\n    secret_access_key: %s\n", minioUser, minioPassword)
	cfg := strings.Replace(m.s3Config(creds, `  - name: sealed
    destination:
      bucket: sealed
      prefix: "enc/"
      buffering: {size_mb: 1, interval_seconds: 0}
      compression: GZIP
      encryption: {client_side: true}
`), "streams:\n", fmt.Sprintf("encryption:\n  key_file: %q\nstreams:\n", keyFile), 1)
	srv := startServer(t, cfg)
	if !strings.Contains(srv.Log(), `msg="client-side encryption master keys loaded" keys=1 current=k-first`) {
		t.Errorf("the startup log does not say the key k-first is loaded:\n%s", srv.Log())
	}
	c := newClient(srv.Endpoint())
	before := genRecords("sealed-before", 3000, 120)
	putAll(t, c, "sealed", before, 500, 2, newLedger())
	srv.WaitBacklogZero("sealed", 30*time.Second)
	oldObjs := listObjects(t, m, "sealed", "")

	// Rotation: a second key, appended; hydrant reads the file at start.
	second := newKey(t, "k-second")
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(second + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Start()
	if !strings.Contains(srv.Log(), `keys=2 current=k-second`) {
		t.Errorf("after the rotation, the startup log does not say k-second is current:\n%s", srv.Log())
	}
	c = newClient(srv.Endpoint())
	after := genRecords("sealed-after", 2000, 120)
	putAll(t, c, "sealed", after, 500, 2, newLedger())
	srv.WaitBacklogZero("sealed", 30*time.Second)
	all := listObjects(t, m, "sealed", "")
	if len(oldObjs) == 0 || len(all) <= len(oldObjs) {
		t.Fatalf("%d objects before the rotation, %d in all; want some of each", len(oldObjs), len(all))
	}
	oldKeys := map[string]bool{}
	for _, o := range oldObjs {
		oldKeys[o.key] = true
	}

	// Every object decrypts with the rotated key file: all of them in one
	// run of `hydrant decrypt FILE…`, which writes X.gz beside X.gz.enc.
	keyRE := regexp.MustCompile(`^enc/\d{4}/\d\d/\d\d/\d\d/` + batchKey("sealed", ".gz.enc") + `$`)
	dir := t.TempDir()
	files := make([]string, len(all))
	for i, o := range all {
		if !keyRE.MatchString(o.key) {
			t.Errorf("object key %q; want enc/YYYY/MM/DD/HH/sealed-….gz.enc", o.key)
		}
		wantID := "k-second"
		if oldKeys[o.key] {
			wantID = "k-first"
		}
		if id := encryptedKeyID(o.data); id != wantID {
			t.Errorf("s3://sealed/%s: the header names master key %q; want %q", o.key, id, wantID)
		}
		if plain, err := decompress(compress.GZIP, o.data); err == nil {
			t.Errorf("s3://sealed/%s reads as gzip without decryption (%d bytes); want it unreadable", o.key, len(plain))
		}
		if bytes.Contains(o.data, []byte("sealed-")) {
			t.Errorf("s3://sealed/%s holds record text in the clear", o.key)
		}
		files[i] = filepath.Join(dir, filepath.Base(o.key))
		if err := os.WriteFile(files[i], o.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := runHydrant(t, "", append([]string{"decrypt", "--key-file", keyFile}, files...)...); r.code != 0 {
		t.Fatalf("hydrant decrypt --key-file (both keys) %d files: %v", len(files), r)
	}
	got := map[string]int{}
	plain := make([][]byte, len(all))
	for i, f := range files {
		gz, err := os.ReadFile(strings.TrimSuffix(f, ".enc"))
		if err != nil {
			t.Errorf("hydrant decrypt %s: %v", filepath.Base(f), err)
			continue
		}
		plain[i] = gz
		data, err := decompress(compress.GZIP, gz)
		if err != nil {
			t.Errorf("hydrant decrypt %s: the plaintext is not gzip: %v", filepath.Base(f), err)
			continue
		}
		for _, rec := range splitRecords(data) {
			got[rec]++
		}
	}
	checkCounts(t, "decrypted records", got, append(slices.Clone(before), after...))
	t.Logf("%d objects under k-first, %d under k-second, all decrypted", len(oldObjs), len(all)-len(oldObjs))

	// From standard input to standard output, an object of each key gives
	// the same gzip.
	for _, i := range []int{0, len(all) - 1} {
		r := runHydrant(t, string(all[i].data), "decrypt", "--key-file", keyFile, "--stdout")
		if r.code != 0 || r.stdout != string(plain[i]) {
			t.Errorf("hydrant decrypt --key-file (both keys) --stdout < %s: exit %d, %d bytes; want exit 0 and the %d bytes of the gzip\n%s",
				all[i].key, r.code, len(r.stdout), len(plain[i]), r.stderr)
		}
	}

	// Without the right key, decrypt fails and says why.
	forged := base64.StdEncoding.EncodeToString(randomKey(t)) // the right id, another key
	for _, tc := range []struct {
		name, keys, want string
	}{
		{"another key under the id", "k-first:" + forged, `master key "k-first" does not open this object`},
		{"only another id", "k-other:" + forged, `object is encrypted with master key "k-first", which`},
		{"only the new key", second, `object is encrypted with master key "k-first", which`},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".keys")
		if err := os.WriteFile(f, []byte(tc.keys+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runHydrant(t, string(oldObjs[0].data), "decrypt", "--key-file", f, "--stdout")
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("hydrant decrypt with %s: %v\nwant a non-zero exit, no output, and an error saying %s", tc.name, r, tc.want)
		}
	}
}

// TestSSEThroughHydrant runs hydrant with object_store.s3.sse.type SSE-S3
// against a MinIO with a KMS, and a destination with its own
// encryption.kms_key_arn, and checks with StatObject that MinIO encrypted
// each object as asked, that each reads back whole, and that the records
// are nowhere in the clear on MinIO's disk.
func TestSSEThroughHydrant(t *testing.T) {
	m := startMinioWith(t, minioOptions{
		env: []string{"MINIO_KMS_SECRET_KEY=" + kmsKeyName + ":" + base64.StdEncoding.EncodeToString(randomKey(t))},
	})
	m.MakeBucket("sse")
	srv := featServer(t, m, "    sse: {type: SSE-S3}\n", `  - name: sse-s3
    destination: {bucket: sse, prefix: "s3/", buffering: {size_mb: 1, interval_seconds: 0}}
  - name: sse-kms
    destination:
      bucket: sse
      prefix: "kms/"
      buffering: {size_mb: 1, interval_seconds: 0}
      encryption: {kms_key_arn: `+kmsKeyName+`}
`)
	c := newClient(srv.Endpoint())
	// The records' text is not in the object keys, which MinIO's disk
	// shows in the clear.
	recs := map[string][]string{"sse-s3": genRecords("secret-s3", 500, 200), "sse-kms": genRecords("secret-kms", 500, 200)}
	for stream, rs := range recs {
		putAll(t, c, stream, rs, 250, 1, newLedger())
	}
	for stream := range recs {
		srv.WaitBacklogZero(stream, 30*time.Second)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		stream, prefix string
		want           map[string]string
	}{
		{"sse-s3", "s3/", map[string]string{"X-Amz-Server-Side-Encryption": "AES256", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": ""}},
		{"sse-kms", "kms/", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:" + kmsKeyName}},
	} {
		got := map[string]int{}
		objs := listObjects(t, m, "sse", tc.prefix)
		if len(objs) == 0 {
			t.Errorf("%s: no objects under %s", tc.stream, tc.prefix)
		}
		for _, o := range objs {
			info, err := m.Client().StatObject(ctx, "sse", o.key, minio.StatObjectOptions{})
			if err != nil {
				t.Errorf("StatObject(%s) = %v", o.key, err)
				continue
			}
			for h, want := range tc.want {
				if v := info.Metadata.Get(h); v != want {
					t.Errorf("StatObject(%s): %s = %q; want %q", o.key, h, v, want)
				}
			}
			for _, r := range splitRecords(o.data) {
				got[r]++
			}
		}
		checkCounts(t, tc.stream, got, recs[tc.stream])
		t.Logf("%s: %d records in %d objects, encrypted as asked", tc.stream, len(recs[tc.stream]), len(objs))
	}

	// A plaintext object shows that the search of MinIO's disk finds what
	// is stored in the clear.
	const control = "secret-control: stored without encryption\n"
	if _, err := m.Client().PutObject(ctx, "sse", "control", strings.NewReader(control), int64(len(control)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(m.dir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		for _, marker := range []string{"secret-s3-", "secret-kms-", "secret-control"} {
			found[marker] = found[marker] || bytes.Contains(data, []byte(marker))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for marker, want := range map[string]bool{"secret-s3-": false, "secret-kms-": false, "secret-control": true} {
		if found[marker] != want {
			t.Errorf("%q on MinIO's disk: %t; want %t", marker, found[marker], want)
		}
	}
}

// TestFeaturesBadInput checks that the features' mistakes are caught where
// they are made, with a message naming what to fix: an invalid jq query in
// CreateDeliveryStream, a config file with an unknown column type or an
// invalid query (hydrant serve exits, naming file:line:column), and
// client-side encryption without master keys, in the file and through the
// API.
func TestFeaturesBadInput(t *testing.T) {
	needServer(t)
	t.Setenv("HYDRANT_MASTER_KEYS", "") // hydrant serve inherits the environment
	srv := startServer(t, "")
	c := newClient(srv.Endpoint())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// CreateDeliveryStream with partitioning mistakes: each refused with
	// InvalidArgumentException naming the parameter, and no stream made.
	const dest = "ExtendedS3DestinationConfiguration."
	const queryParam = dest + "ProcessingConfiguration.Processors[MetadataExtraction].Parameters[MetadataExtractionQuery]"
	for i, tc := range []struct {
		name, query, engine, prefix, errPrefix string
		param, want                            string
	}{
		{"query that does not parse", "{customer: .customer", "JQ-1.6", "c=!{partitionKeyFromQuery:customer}/", "e/",
			queryParam, "invalid jq query: unexpected EOF at column 21 of `{customer: .customer`"},
		{"query that yields no object", `"abc"`, "JQ-1.6", "c=!{partitionKeyFromQuery:customer}/", "e/",
			queryParam, "invalid jq query"},
		{"prefix naming a key the query does not yield", "{year: .year}", "JQ-1.6", "c=!{partitionKeyFromQuery:customer}/", "e/",
			dest + "Prefix", `!{partitionKeyFromQuery:customer}: the metadata extraction query yields no key "customer" (it yields year)`},
		{"another parsing engine", "{customer: .customer}", "JQ-1.5", "c=!{partitionKeyFromQuery:customer}/", "e/",
			dest + "ProcessingConfiguration.Processors[MetadataExtraction].Parameters[JsonParsingEngine]", "must be JQ-1.6"},
		{"no error output prefix", "{customer: .customer}", "JQ-1.6", "c=!{partitionKeyFromQuery:customer}/", "",
			dest + "ErrorOutputPrefix", "must be set when"},
	} {
		name := fmt.Sprintf("bad-partitioning-%d", i)
		in := &types.ExtendedS3DestinationConfiguration{
			BucketARN:                        aws.String("arn:aws:s3:::bad-partitioning"),
			RoleARN:                          aws.String("arn:aws:iam::123456789012:role/firehose-test"),
			Prefix:                           aws.String(tc.prefix),
			BufferingHints:                   &types.BufferingHints{SizeInMBs: aws.Int32(64), IntervalInSeconds: aws.Int32(60)},
			DynamicPartitioningConfiguration: &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)},
			ProcessingConfiguration: &types.ProcessingConfiguration{
				Enabled: aws.Bool(true),
				Processors: []types.Processor{{
					Type: types.ProcessorTypeMetadataExtraction,
					Parameters: []types.ProcessorParameter{
						{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String(tc.query)},
						{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String(tc.engine)},
					},
				}},
			},
		}
		if tc.errPrefix != "" {
			in.ErrorOutputPrefix = aws.String(tc.errPrefix)
		}
		_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName:                 aws.String(name),
			DeliveryStreamType:                 types.DeliveryStreamTypeDirectPut,
			ExtendedS3DestinationConfiguration: in,
		})
		wantCode(t, "CreateDeliveryStream with a "+tc.name, err, "InvalidArgumentException")
		if err != nil && (!strings.Contains(err.Error(), tc.param) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CreateDeliveryStream with a %s: %v\nwant a message naming %s and saying %s", tc.name, err, tc.param, tc.want)
		}
		if _, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)}); apiCode(err) != "ResourceNotFoundException" {
			t.Errorf("DescribeDeliveryStream after a refused create with a %s = %v; want ResourceNotFoundException", tc.name, err)
		}
	}

	// Client-side encryption through the API (Hydrant's extension member,
	// which the SDK cannot send) on a server without master keys.
	body := `{"DeliveryStreamName":"no-keys","ExtendedS3DestinationConfiguration":{"BucketARN":"arn:aws:s3:::no-keys",` +
		`"RoleARN":"arn:aws:iam::123456789012:role/r","EncryptionConfiguration":{"HydrantClientSideEncryption":true}}}`
	r := rawCall(t, srv.Endpoint(), target+"CreateDeliveryStream", strings.NewReader(body))
	if r.errType != "InvalidArgumentException" || !strings.Contains(r.message, "EncryptionConfiguration.HydrantClientSideEncryption") || !strings.Contains(r.message, "master keys") {
		t.Errorf("CreateDeliveryStream with client-side encryption and no master keys: %d %s %q; want InvalidArgumentException naming EncryptionConfiguration.HydrantClientSideEncryption and the master keys", r.status, r.errType, r.message)
	}

	// Config files hydrant serve must refuse, naming the place: at the key
	// when the file alone is wrong, by stream and key when it is the file
	// with the server's environment (no master keys).
	const base = "server: {data_dir: \"{{DATA_DIR}}\"}\nstreams:\n  - name: s\n    destination:\n      bucket: bkt\n"
	for _, tc := range []struct {
		name, yaml string
		at         string // the text the error points at, "" for no place
		want       string
	}{
		{"unknown column type", base + "      format_conversion:\n        enabled: true\n        schema:\n          - {name: a, type: string}\n          - {name: b, type: bigint_}\n",
			"bigint_", `streams[0].destination.format_conversion.schema[1].type: unknown type "bigint_"; want one of string, boolean,`},
		{"invalid nested type", base + "      format_conversion:\n        enabled: true\n        schema:\n          - {name: geo, type: \"struct<lat:double,lon>\"}\n",
			`"struct<`, `streams[0].destination.format_conversion.schema[0].type: invalid type "struct<lat:double,lon>" at column 22: expected ':'`},
		{"invalid jq", base + "      prefix: \"c=!{partitionKeyFromQuery:c}/\"\n      error_output_prefix: \"e/\"\n      processing:\n        metadata_extraction_query: \"{c: .c\"\n      dynamic_partitioning: {enabled: true}\n",
			`"{c: .c"`, "streams[0].destination.processing.metadata_extraction_query: invalid jq query: unexpected EOF at column 7 of `{c: .c`"},
		{"client-side encryption without keys", base + "      encryption:\n        client_side: true\n",
			"", `stream "s": destination.encryption.client_side: needs master keys: give hydrant serve a key file (encryption.key_file in the config) or set HYDRANT_MASTER_KEYS`},
	} {
		s := newServer(t, tc.yaml)
		stderr, err := s.RunToExit(30 * time.Second)
		if err == nil {
			t.Errorf("%s: hydrant serve exited with status 0; want an error", tc.name)
			continue
		}
		want := tc.want
		if tc.at != "" {
			for i, l := range strings.Split(tc.yaml, "\n") {
				if j := strings.Index(l, tc.at); j >= 0 {
					want = fmt.Sprintf("%s:%d:%d: %s", s.config, i+1, j+1, tc.want)
				}
			}
		}
		if !strings.Contains(stderr, "hydrant: "+want) || strings.Contains(stderr, "panic:") {
			t.Errorf("%s: hydrant serve said:\n%s\nwant hydrant: %s", tc.name, lastLines(stderr, 5), want)
		}
	}
}
