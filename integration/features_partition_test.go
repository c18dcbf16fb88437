package integration

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// dpStreams are the partitioned streams of TestDynamicPartitioningS3.
const dpStreams = `  - name: dp
    destination:
      bucket: dp-objects
      prefix: "data/customer=!{partitionKeyFromQuery:customer}/year=!{partitionKeyFromQuery:year}/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      compression: GZIP
      processing:
        metadata_extraction_query: "{customer: .customer, year: .year}"
        append_delimiter: true
      dynamic_partitioning: {enabled: true}
  - name: deagg
    destination:
      bucket: deagg-objects
      prefix: "sub/customer=!{partitionKeyFromQuery:customer}/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      compression: GZIP
      processing:
        de_aggregation: JSON
        metadata_extraction_query: "{customer: .customer}"
        append_delimiter: true
      dynamic_partitioning: {enabled: true}
  - name: capped
    destination:
      bucket: capped-objects
      prefix: "c=!{partitionKeyFromQuery:customer}/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      processing:
        metadata_extraction_query: "{customer: .customer}"
        append_delimiter: true
      dynamic_partitioning: {enabled: true, max_active_partitions: 2}
`

// Error codes and messages of the partitioning failures.
const (
	codeExtraction = "DynamicPartitioning.MetadataExtractionFailed"
	codeBadKey     = "DynamicPartitioning.InvalidPartitionKey"
	codeTooMany    = "DynamicPartitioning.ActivePartitionsLimitExceeded"
	codeMalformed  = "RecordDeAggregation.MalformedRecord"
	msgNonJSON     = "non JSON record provided"
	msgNoCustomer  = `partition key "customer" is null`
)

// dpCustomers are the customers of the partitioned records; one needs
// escaping in JSON and percent-encoding in URLs.
var dpCustomers = []string{"acme", "globex", "initech", "zürich & co", "hooli"}

// dpRecords returns n records of dpCustomers over two years, each with the
// partition (customer/year) it belongs to, and bad records among them.
// The year is a number, a string, or a number with a fraction of zero,
// all of which give the same key.
func dpRecords(n int) (good map[string]string, all []string, bad []badRecord) {
	good = make(map[string]string, n)
	for i := range n {
		customer, year := dpCustomers[i%len(dpCustomers)], 2024+i/len(dpCustomers)%2
		yearJSON := strconv.Itoa(year)
		switch i % 11 {
		case 3:
			yearJSON = `"` + yearJSON + `"`
		case 7:
			yearJSON += ".0"
		}
		customerJSON, _ := json.Marshal(customer)
		rec := fmt.Sprintf(`{"seq":%d,"customer":%s,"year":%s,"pad":"%s"}`, i, customerJSON, yearJSON, strings.Repeat("x", i%40))
		good[rec+"\n"] = fmt.Sprintf("%s/%d", customer, year)
		all = append(all, rec)
		if i%100 == 7 {
			for _, b := range []badRecord{
				{fmt.Sprintf("not json %d", i), codeExtraction, msgNonJSON},
				{fmt.Sprintf(`{"year":2024,"seq":%d}`, i), codeExtraction, msgNoCustomer},
				{fmt.Sprintf(`{"customer":null,"year":2024,"seq":%d}`, i), codeExtraction, msgNoCustomer},
				{fmt.Sprintf(`{"customer":"","year":2025,"seq":%d}`, i), codeBadKey, `partition key "customer" is empty`},
				{fmt.Sprintf(`{"customer":"../etc","year":2025,"seq":%d}`, i), codeBadKey, `holds ".."`},
			} {
				all = append(all, b.data)
				bad = append(bad, b)
			}
		}
	}
	return good, all, bad
}

// deaggRecords returns n records of 1 to 5 JSON objects each, one after
// another with or without white space, and the sub-records they hold, by
// partition. Some sub-records lack a customer (they alone fail); some
// records are malformed, hold more objects than de-aggregation takes, or
// only white space (the whole record fails, or yields nothing).
func deaggRecords(n int) (good map[string]string, all []string, bad []badRecord) {
	good = map[string]string{}
	seps := []string{"", "\n", " ", "\r\n\t"}
	for i := range n {
		var b strings.Builder
		for j := range i%5 + 1 {
			customer := dpCustomers[(i+j)%len(dpCustomers)]
			sub := fmt.Sprintf(`{"customer":%q,"agg":%d,"sub":%d}`, customer, i, j)
			if i%37 == 5 && j == 0 {
				sub = fmt.Sprintf(`{"agg":%d,"sub":%d}`, i, j)
				bad = append(bad, badRecord{sub, codeExtraction, msgNoCustomer})
			} else {
				good[sub+"\n"] = customer
			}
			if j > 0 {
				b.WriteString(seps[(i+j)%len(seps)])
			}
			b.WriteString(sub)
		}
		all = append(all, b.String())
	}
	for i := range 5 {
		malformed := fmt.Sprintf(`{"customer":"acme","agg":-%d}{"customer":"acme","agg":`, i)
		all = append(all, malformed)
		bad = append(bad, badRecord{malformed, codeMalformed, "sub-record 2 is not valid JSON"})
	}
	tooMany := strings.Repeat(`{"customer":"acme"}`, 501)
	all = append(all, tooMany, " \n\t ")
	bad = append(bad, badRecord{tooMany, codeMalformed, "it holds more than 500 JSON objects"})
	return good, all, bad
}

// partObject is one object of a partitioned stream.
type partObject struct {
	key   string
	part  string // the partition its key names: the submatches, joined by '/'
	batch string // <first>-<last> offsets of its batch
	lines []string
}

// readPartitioned reads the objects of a partitioned stream's bucket:
// those whose key matches dataRE (its submatches naming the partition,
// then the batch's offsets), and, by key, the lines of those matching
// errRE. Any other key fails t.
func readPartitioned(t *testing.T, m *minioServer, bucket, format string, dataRE, errRE *regexp.Regexp) ([]partObject, map[string][]string) {
	t.Helper()
	var objs []partObject
	errs := map[string][]string{}
	for _, o := range listObjects(t, m, bucket, "") {
		data, err := decompress(format, o.data)
		if err != nil {
			t.Errorf("s3://%s/%s: %v", bucket, o.key, err)
			continue
		}
		if errRE.MatchString(o.key) {
			errs[o.key] = splitRecords(data)
			continue
		}
		sm := dataRE.FindStringSubmatch(o.key)
		if sm == nil {
			t.Errorf("s3://%s/%s: the key matches neither %s nor %s", bucket, o.key, dataRE, errRE)
			continue
		}
		n := len(sm)
		objs = append(objs, partObject{key: o.key, part: strings.Join(sm[1:n-2], "/"), batch: sm[n-2] + "-" + sm[n-1], lines: splitRecords(data)})
	}
	return objs, errs
}

// checkPartitions checks that each object holds only records of the
// partition its key names, and that want (record → partition) is
// delivered exactly once. It returns the objects per partition.
func checkPartitions(t *testing.T, what string, objs []partObject, want map[string]string) map[string]int {
	t.Helper()
	got := map[string]int{}
	perPart := map[string]int{}
	for _, o := range objs {
		perPart[o.part]++
		for _, l := range o.lines {
			got[l]++
			if p, ok := want[l]; ok && p != o.part {
				t.Errorf("%s: object %s holds %q, of partition %s", what, o.key, shorten(l), p)
			}
		}
	}
	checkCounts(t, what, got, slices.Collect(maps.Keys(want)))
	return perPart
}

// batchKey is the part of a key after the prefix, with the batch's
// offsets as submatches.
func batchKey(stream, ext string) string {
	return regexp.QuoteMeta(stream) + `-\d+-\d{4}(?:-\d\d){5}-(\d{20})-(\d{20})-[0-9a-f]{8}` + regexp.QuoteMeta(ext)
}

// errorKey is batchKey for an error output object, whose key ends in its
// error output type before the extension.
func errorKey(stream, ext string) string {
	return regexp.QuoteMeta(stream) + `-\d+-\d{4}(?:-\d\d){5}-(\d{20})-(\d{20})-[0-9a-f]{8}-(?:processing|partitioning|format-conversion)-failed` + regexp.QuoteMeta(ext)
}

// TestDynamicPartitioningS3 sends a few thousand JSON records of five
// customers over two years, with records that cannot be partitioned among
// them, to a GZIP stream partitioned by {customer, year}, and checks key
// by key that every object lies under the prefix of exactly its records'
// keys, that each record is delivered once (with the newline that
// append_delimiter adds), and that the bad ones are in the error output
// under errors/partitioning-failed/ as Firehose error records holding the
// exact bytes. A second stream de-aggregates records holding several JSON
// objects and partitions the sub-records; a third caps the partitions of
// a buffer at two, and the records of further partitions go to the error
// output.
func TestDynamicPartitioningS3(t *testing.T) {
	m := startMinio(t)
	for _, b := range []string{"dp-objects", "deagg-objects", "capped-objects"} {
		m.MakeBucket(b)
	}
	srv := featServer(t, m, "", dpStreams)
	c := newClient(srv.Endpoint())
	dpWant, dpAll, dpBad := dpRecords(3000)
	subWant, aggs, subBad := deaggRecords(400)
	var capped []string
	for _, r := range dpAll {
		if _, ok := dpWant[r+"\n"]; ok {
			capped = append(capped, r)
		}
	}

	// In two rounds, each delivered before the next: every partition gets
	// objects of two batches at least.
	start := time.Now()
	for round := range 2 {
		half := func(rs []string) []string { return rs[len(rs)*round/2 : len(rs)*(round+1)/2] }
		putAll(t, c, "dp", half(dpAll), 500, 4, newLedger())
		putAll(t, c, "deagg", half(aggs), 100, 2, newLedger())
		putAll(t, c, "capped", half(capped), 500, 2, newLedger())
		for _, s := range []string{"dp", "deagg", "capped"} {
			srv.WaitBacklogZero(s, 30*time.Second)
		}
	}
	end := time.Now()
	t.Logf("%d, %d and %d records put and delivered in %v", len(dpAll), len(aggs), len(capped), time.Since(start).Round(time.Millisecond))

	errRE := regexp.MustCompile(`^errors/partitioning-failed/` + errorKey("dp", ".gz") + `$`)
	objs, errs := readPartitioned(t, m, "dp-objects", compress.GZIP,
		regexp.MustCompile(`^data/customer=([^/]+)/year=([^/]+)/`+batchKey("dp", ".gz")+`$`), errRE)
	perPart := checkPartitions(t, "dp", objs, dpWant)
	if len(perPart) != 2*len(dpCustomers) {
		t.Errorf("dp: objects under %d partitions (%v); want %d", len(perPart), perPart, 2*len(dpCustomers))
	}
	for p, n := range perPart {
		if n < 2 {
			t.Errorf("dp: partition %s has %d objects; want one of each round at least", p, n)
		}
	}
	checkErrorOutput(t, "dp", errs, dpBad, start, end)
	t.Logf("dp: %d records in %d objects of %d partitions, %d in %d error objects", len(dpWant), len(objs), len(perPart), len(dpBad), len(errs))

	errRE = regexp.MustCompile(`^errors/(?:partitioning|processing)-failed/` + errorKey("deagg", ".gz") + `$`)
	objs, errs = readPartitioned(t, m, "deagg-objects", compress.GZIP,
		regexp.MustCompile(`^sub/customer=([^/]+)/`+batchKey("deagg", ".gz")+`$`), errRE)
	checkPartitions(t, "deagg", objs, subWant)
	for key, lines := range errs {
		wantCode := codeExtraction
		if strings.HasPrefix(key, "errors/processing-failed/") {
			wantCode = codeMalformed
		}
		for _, l := range lines {
			if !strings.Contains(l, `"errorCode":"`+wantCode+`"`) {
				t.Errorf("deagg: %s holds %s; want only errorCode %s there", key, shorten(l), wantCode)
			}
		}
	}
	checkErrorOutput(t, "deagg", errs, subBad, start, end)
	t.Logf("deagg: %d records: %d sub-records delivered in %d objects, %d failed", len(aggs), len(subWant), len(objs), len(subBad))

	// capped: a batch's objects span two partitions at most; the records
	// of the others are in the error output, with their partition keys.
	cappedWant := map[string]string{}
	for _, r := range capped {
		cappedWant[r+"\n"] = strings.Split(dpWant[r+"\n"], "/")[0]
	}
	objs, errs = readPartitioned(t, m, "capped-objects", compress.Uncompressed,
		regexp.MustCompile(`^c=([^/]+)/`+batchKey("capped", "")+`$`), regexp.MustCompile(`^errors/partitioning-failed/`+errorKey("capped", "")+`$`))
	batches := map[string]map[string]bool{}
	for _, o := range objs {
		if batches[o.batch] == nil {
			batches[o.batch] = map[string]bool{}
		}
		batches[o.batch][o.part] = true
	}
	for b, parts := range batches {
		if len(parts) > 2 {
			t.Errorf("capped: batch %s has objects of %d partitions (%v); want max_active_partitions, 2, at most", b, len(parts), parts)
		}
	}
	failed := 0
	for key, lines := range errs {
		for _, l := range lines {
			var e errorLine
			err := json.Unmarshal([]byte(l), &e)
			raw, berr := base64.StdEncoding.DecodeString(e.RawData)
			if err != nil || berr != nil {
				t.Errorf("capped: %s holds %q: %v", key, shorten(l), cmp.Or(err, berr))
				continue
			}
			customer := cappedWant[string(raw)+"\n"]
			if e.ErrorCode != codeTooMany || !strings.Contains(e.ErrorMessage, "max_active_partitions") || e.PartitionKeys["customer"] != customer || customer == "" {
				t.Errorf("capped: error record %s; want errorCode %s, a message naming max_active_partitions, and partitionKeys {customer: %q}", shorten(l), codeTooMany, customer)
			}
			// Delivered or failed, each record once.
			objs = append(objs, partObject{key: key, part: customer, lines: []string{string(raw) + "\n"}})
			failed++
		}
	}
	checkPartitions(t, "capped (delivered or failed)", objs, cappedWant)
	if failed == 0 {
		t.Errorf("capped: no record went to the error output; want those of the partitions beyond the first two of each batch")
	}
	t.Logf("capped: %d records, %d in the error output, %d batches", len(capped), failed, len(batches))

	ms, err := srv.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	malformed := 0
	for _, b := range subBad {
		if b.code == codeMalformed {
			malformed++
		}
	}
	for _, w := range []struct {
		stream, typ string
		n           int
	}{{"dp", "partitioning-failed", len(dpBad)}, {"deagg", "partitioning-failed", len(subBad) - malformed}, {"deagg", "processing-failed", malformed}, {"capped", "partitioning-failed", failed}} {
		series := fmt.Sprintf(`hydrant_error_output_records_total{stream=%q,type=%q}`, w.stream, w.typ)
		if got := ms[series]; got != float64(w.n) {
			t.Errorf("%s = %v; want %d", series, got, w.n)
		}
	}
}

// TestDynamicPartitioningCrashS3 SIGKILLs hydrant right after each of
// four rounds of puts to the partitioned stream, while it delivers them,
// and checks that the restarts leave every record once in its partition
// and every bad one once in the error output: a batch interrupted is
// rebuilt into the same partitions and keys.
func TestDynamicPartitioningCrashS3(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("dp-objects")
	srv := featServer(t, m, "", dpStreams)
	want, all, bad := dpRecords(2000)
	start := time.Now()
	for round := range 4 {
		putAll(t, newClient(srv.Endpoint()), "dp", all[len(all)*round/4:len(all)*(round+1)/4], 250, 2, newLedger())
		time.Sleep(time.Duration(round) * 20 * time.Millisecond)
		srv.Kill()
		srv.Start()
	}
	end := time.Now()
	srv.WaitBacklogZero("dp", 30*time.Second)
	objs, errs := readPartitioned(t, m, "dp-objects", compress.GZIP,
		regexp.MustCompile(`^data/customer=([^/]+)/year=([^/]+)/`+batchKey("dp", ".gz")+`$`),
		regexp.MustCompile(`^errors/partitioning-failed/`+errorKey("dp", ".gz")+`$`))
	checkPartitions(t, "dp after crashes", objs, want)
	checkErrorOutput(t, "dp after crashes", errs, bad, start, end)
	t.Logf("%d records in %d objects, %d in %d error objects; %d batches redelivered after a crash",
		len(want), len(objs), len(bad), len(errs), srv.countLog("redelivering the batch a restart interrupted"))
}

// TestDeAggregationDelimitedS3 splits records on a delimiter: each piece
// is delivered as a record of its own, with a newline, and a record of
// more pieces than de-aggregation takes (500) must not vanish: it goes
// whole to the error output, as an aggregate of too many JSON objects
// does.
func TestDeAggregationDelimitedS3(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("delim-objects")
	srv := featServer(t, m, "", `  - name: delim
    destination:
      bucket: delim-objects
      prefix: "d/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      processing: {de_aggregation: DELIMITED, delimiter: "#", append_delimiter: true}
`)
	c := newClient(srv.Endpoint())
	var recs, pieces []string
	for i := range 300 {
		var rec []string
		for j := range i%4 + 1 {
			rec = append(rec, fmt.Sprintf("piece-%d-%d", i, j))
		}
		pieces = append(pieces, rec...)
		recs = append(recs, strings.Join(rec, "#")+strings.Repeat("#", i%2)) // a last delimiter is optional
	}
	var limit []string
	for j := range 500 {
		limit = append(limit, fmt.Sprintf("limit-%d", j))
	}
	pieces = append(pieces, limit...)
	tooMany := strings.Repeat("over#", 501)
	recs = append(recs, strings.Join(limit, "#"), tooMany)
	for i := range pieces {
		pieces[i] += "\n"
	}
	start := time.Now()
	putAll(t, c, "delim", recs, 100, 1, newLedger())
	end := time.Now()
	srv.WaitBacklogZero("delim", 30*time.Second)

	got := map[string]int{}
	errs := map[string][]string{}
	dataRE := regexp.MustCompile(`^d/\d{4}/\d\d/\d\d/\d\d/` + batchKey("delim", "") + `$`)
	errRE := regexp.MustCompile(`^errors/processing-failed/` + errorKey("delim", "") + `$`)
	for _, o := range listObjects(t, m, "delim-objects", "") {
		switch {
		case errRE.MatchString(o.key):
			errs[o.key] = splitRecords(o.data)
		case dataRE.MatchString(o.key):
			for _, l := range splitRecords(o.data) {
				got[l]++
			}
		default:
			t.Errorf("object key %q; want d/YYYY/MM/DD/HH/delim-… or errors/processing-failed/delim-…", o.key)
		}
	}
	checkCounts(t, "delim pieces", got, pieces)
	checkErrorOutput(t, "delim", errs, []badRecord{{tooMany, codeMalformed, "more than 500"}}, start, end)
	if n := srv.MetricValue("hydrant_delivery_records_total", "delim"); n == 0 {
		t.Errorf("hydrant_delivery_records_total{stream=delim} = 0")
	}
}
