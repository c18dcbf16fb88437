package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"
)

// pqRecord is one record sent to the Parquet stream: its JSON, and the
// row it must become.
type pqRecord struct {
	json string
	row  map[string]any
}

// pqRecords makes n records covering every column type of pqSchema, and
// every way of leaving an optional value out.
func pqRecords(n int) []pqRecord {
	base := time.Date(2025, 3, 14, 15, 9, 26, 535e6, time.UTC)
	cet := time.FixedZone("+02:00", 2*3600)
	out := make([]pqRecord, n)
	for i := range out {
		var fields []string
		row := map[string]any{}
		add := func(name, js string, v any) {
			if js != "" {
				fields = append(fields, strconv.Quote(name)+":"+js)
			}
			row[strings.ToLower(name)] = v
		}
		id := fmt.Sprintf("r%05d", i)
		if i%7 == 3 {
			id += " «ünïcødé» \"quoted\"\n\ttab"
		}
		idJSON, _ := json.Marshal(id)
		add("id", string(idJSON), id)

		nv := int64(i)*1_000_003 - 500_000
		switch i {
		case 1:
			nv = 1<<53 + 1 // not a float64
		case 2:
			nv = math.MinInt64
		case 3:
			nv = math.MaxInt64
		}
		if i%13 == 6 { // a number in a string converts too
			add("n", `"`+strconv.FormatInt(nv, 10)+`"`, nv)
		} else {
			add("n", strconv.FormatInt(nv, 10), nv)
		}

		score := float64(i)/8 - 3.3
		switch i % 50 {
		case 10:
			score = 1e300
		case 20:
			score = -2.5e-300
		case 30:
			score = 0.1
		}
		if i%9 == 4 { // a JSON field matches its column whatever its case
			add("Score", strconv.FormatFloat(score, 'g', -1, 64), score)
		} else {
			add("score", strconv.FormatFloat(score, 'g', -1, 64), score)
		}
		add("ok", strconv.FormatBool(i%3 == 0), i%3 == 0)

		ts := base.Add(time.Duration(i)*time.Minute + time.Duration(i)*time.Millisecond)
		if i%17 == 9 {
			ts = time.Date(1969, 7, 20, 20, 17, 40, 123e6, time.UTC) // before the epoch
		}
		switch i % 4 {
		case 0: // epoch milliseconds
			add("ts", strconv.FormatInt(ts.UnixMilli(), 10), ts.UnixMilli())
		case 1: // RFC 3339, another zone
			add("ts", `"`+ts.In(cet).Format("2006-01-02T15:04:05.000Z07:00")+`"`, ts.UnixMilli())
		case 2: // RFC 3339, UTC
			add("ts", `"`+ts.Format(time.RFC3339Nano)+`"`, ts.UnixMilli())
		case 3: // Hive's form, UTC
			add("ts", `"`+ts.Format("2006-01-02 15:04:05.000")+`"`, ts.UnixMilli())
		}

		switch i / 2 % 3 {
		case 0:
			add("note", "", nil) // missing
		case 1:
			add("note", "null", nil)
		case 2:
			add("note", fmt.Sprintf(`"note %d"`, i), fmt.Sprintf("note %d", i))
		}

		switch i % 5 {
		case 0:
			add("tags", "", nil)
		case 1:
			add("tags", "[]", []any{})
		case 2:
			add("tags", fmt.Sprintf(`["a","b%d"]`, i), []any{"a", fmt.Sprintf("b%d", i)})
		case 3:
			add("tags", `["x",null,"z"]`, []any{"x", nil, "z"})
		case 4:
			add("tags", "null", nil)
		}

		lat, lon := float64(i%180)-89.5, float64(i%360)-179.25
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		switch i % 6 {
		case 0:
			add("geo", "", nil)
		case 1:
			add("geo", `{"lat":`+f(lat)+`,"lon":`+f(lon)+`}`, map[string]any{"lat": lat, "lon": lon})
		case 2:
			add("geo", `{"lat":`+f(lat)+`}`, map[string]any{"lat": lat, "lon": nil})
		case 3:
			add("geo", "null", nil)
		case 4:
			add("geo", `{"LON":`+f(lon)+`,"Lat":`+f(lat)+`,"alt":3}`, map[string]any{"lat": lat, "lon": lon})
		case 5:
			add("geo", `{"lat":null,"lon":`+f(lon)+`}`, map[string]any{"lat": nil, "lon": lon})
		}
		if i%4 == 1 { // fields of no column are dropped
			fields = append(fields, `"extra":{"ignored":[1,{"x":null}]}`)
		}
		// A different field order in every record.
		rot := i % len(fields)
		fields = append(fields[rot:], fields[:rot]...)
		out[i] = pqRecord{json: "{" + strings.Join(fields, ",") + "}", row: row}
	}
	return out
}

// pqSchema is the schema of the Parquet streams, as the config file
// writes it.
const pqSchema = `        schema:
          - {name: id, type: string}
          - {name: n, type: bigint}
          - {name: score, type: double}
          - {name: ok, type: boolean}
          - {name: ts, type: timestamp}
          - {name: note, type: string, optional: true}
          - {name: tags, type: "array<string>", optional: true}
          - {name: geo, type: "struct<lat:double,lon:double>", optional: true}
`

// readParquet reads the Parquet objects of bucket (keys matching dataRE,
// whose first submatch, if any, names the partition) into rows by
// partition, in key order, and, by key, the lines of the error objects
// (keys matching errRE). Any other key fails t.
func readParquet(t *testing.T, m *minioServer, bucket string, dataRE, errRE *regexp.Regexp) (rows map[string][]map[string]any, errs map[string][]string, objects int) {
	t.Helper()
	rows, errs = map[string][]map[string]any{}, map[string][]string{}
	for _, o := range listObjects(t, m, bucket, "") {
		if errRE.MatchString(o.key) {
			errs[o.key] = splitRecords(o.data)
			continue
		}
		sm := dataRE.FindStringSubmatch(o.key)
		if sm == nil {
			t.Errorf("s3://%s/%s: the key matches neither %s nor %s", bucket, o.key, dataRE, errRE)
			continue
		}
		part := ""
		if len(sm) > 3 {
			part = sm[1]
		}
		objects++
		f, err := pq.OpenFile(bytes.NewReader(o.data), int64(len(o.data)))
		if err != nil {
			t.Errorf("s3://%s/%s is not a Parquet file: %v", bucket, o.key, err)
			continue
		}
		checkPqSchema(t, f.Schema())
		got, err := pq.Read[any](bytes.NewReader(o.data), int64(len(o.data)))
		if err != nil {
			t.Errorf("cannot read the rows of s3://%s/%s: %v", bucket, o.key, err)
			continue
		}
		if int64(len(got)) != f.NumRows() || len(got) == 0 {
			t.Errorf("s3://%s/%s: %d rows read, the footer says %d; want as many, and some", bucket, o.key, len(got), f.NumRows())
		}
		for _, r := range got {
			row, ok := normalizeRow(r).(map[string]any)
			if !ok {
				t.Fatalf("s3://%s/%s: a row reads as %T; want map[string]any", bucket, o.key, r)
			}
			rows[part] = append(rows[part], row)
		}
	}
	return rows, errs, objects
}

// checkRows compares rows with the records sent, in order.
func checkRows(t *testing.T, what string, rows []map[string]any, want []pqRecord) {
	t.Helper()
	if len(rows) != len(want) {
		t.Errorf("%s: %d rows; want %d", what, len(rows), len(want))
	}
	mismatches := 0
	for i := range min(len(rows), len(want)) {
		if !reflect.DeepEqual(rows[i], want[i].row) {
			if mismatches++; mismatches <= 3 {
				t.Errorf("%s: row %d:\n got  %#v\n want %#v\n from %s", what, i, rows[i], want[i].row, want[i].json)
			}
		}
	}
	if mismatches > 3 {
		t.Errorf("%s: … %d rows differ in all", what, mismatches)
	}
}

// TestParquetConversionS3 converts JSON records to Parquet on their way to
// MinIO, reads every object back with parquet-go, and compares the rows
// with the records sent, value by value: strings, bigints at the edges of
// int64, doubles, booleans, timestamps sent as epoch milliseconds, RFC 3339
// and Hive's form, optional columns missing or null, arrays with null
// elements, and structs. Records that do not fit the schema go to
// errors/format-conversion-failed/ and the rest are delivered. A second
// stream converts and partitions: records are partitioned first, so those
// that cannot be are partitioning-failed, the others converted in their
// partition.
func TestParquetConversionS3(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("pq-objects")
	m.MakeBucket("pq-parts")
	srv := featServer(t, m, "", `  - name: pq
    destination:
      bucket: pq-objects
      prefix: "rows/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      compression: UNCOMPRESSED
      format_conversion:
        enabled: true
`+pqSchema+`  - name: pq-dp
    destination:
      bucket: pq-parts
      prefix: "ok=!{partitionKeyFromQuery:ok}/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 0}
      compression: UNCOMPRESSED
      processing: {metadata_extraction_query: "{ok: .ok}"}
      dynamic_partitioning: {enabled: true}
      format_conversion:
        enabled: true
        compression: ZSTD
`+pqSchema)
	c := newClient(srv.Endpoint())
	good := pqRecords(2000)
	const code = "DataFormatConversion.MalformedData"
	bad := []badRecord{
		{`{"id":"bad-n","n":"12x","score":1,"ok":true,"ts":0}`, code, `column "n": cannot convert JSON string to bigint`},
		{`{"id":"bad-missing","score":1,"ok":true,"ts":0}`, code, `column "n": field is missing but the column is not optional`},
		{`{"id":"bad-ts","n":1,"score":1,"ok":true,"ts":"yesterday"}`, code, `column "ts": cannot convert JSON string to timestamp`},
		{`{"id":"bad-tags","n":1,"score":1,"ok":false,"ts":0,"tags":"a"}`, code, `column "tags": cannot convert JSON string to array`},
		{`{"id":"bad-geo","n":1,"score":1,"ok":false,"ts":0,"geo":{"lat":"north"}}`, code, `column "geo.lat": cannot convert JSON string to double`},
		{`not json at all`, code, `record is not`},
		{`["id","n"]`, code, `record is not a JSON object`},
	}
	// Partitioned, the last two fail partitioning instead.
	dpBad := slices.Clone(bad)
	dpBad[5] = badRecord{bad[5].data, codeExtraction, msgNonJSON}
	dpBad[6] = badRecord{bad[6].data, codeExtraction, `query failed: expected an object but got: array`}
	// The bad records among the good ones, one every 250 records.
	var recs []string
	k := 0
	for i, r := range good {
		recs = append(recs, r.json)
		if i%250 == 100 && k < len(bad) {
			recs = append(recs, bad[k].data)
			k++
		}
	}
	for _, b := range bad[k:] {
		recs = append(recs, b.data)
	}
	start := time.Now()
	// One producer each: rows in the order sent.
	putAll(t, c, "pq", recs, 250, 1, newLedger())
	putAll(t, c, "pq-dp", recs, 250, 1, newLedger())
	end := time.Now()
	srv.WaitBacklogZero("pq", 30*time.Second)
	srv.WaitBacklogZero("pq-dp", 30*time.Second)

	rows, errs, objects := readParquet(t, m, "pq-objects",
		regexp.MustCompile(`^rows/\d{4}/\d\d/\d\d/\d\d/`+batchKey("pq", ".parquet")+`$`),
		regexp.MustCompile(`^errors/format-conversion-failed/`+errorKey("pq", "")+`$`))
	checkRows(t, "pq", rows[""], good)
	checkErrorOutput(t, "pq", errs, bad, start, end)
	t.Logf("pq: %d records: %d rows in %d Parquet objects, %d in %d error objects", len(recs), len(rows[""]), objects, len(bad), len(errs))

	rows, errs, objects = readParquet(t, m, "pq-parts",
		regexp.MustCompile(`^ok=([^/]+)/`+batchKey("pq-dp", ".parquet")+`$`),
		regexp.MustCompile(`^errors/(?:format-conversion|partitioning)-failed/`+errorKey("pq-dp", "")+`$`))
	for _, part := range []string{"true", "false"} {
		var want []pqRecord
		for _, r := range good {
			if fmt.Sprint(r.row["ok"]) == part {
				want = append(want, r)
			}
		}
		checkRows(t, "pq-dp ok="+part, rows[part], want)
	}
	if len(rows) != 2 {
		t.Errorf("pq-dp: rows in %d partitions; want 2, ok=true and ok=false", len(rows))
	}
	for key, lines := range errs {
		for _, l := range lines {
			if strings.HasPrefix(key, "errors/partitioning-failed/") != strings.Contains(l, codeExtraction) {
				t.Errorf("pq-dp: %s holds %s", key, shorten(l))
			}
		}
	}
	checkErrorOutput(t, "pq-dp", errs, dpBad, start, end)
	t.Logf("pq-dp: %d rows in %d Parquet objects, %d in %d error objects", len(rows["true"])+len(rows["false"]), objects, len(dpBad), len(errs))
}

// checkPqSchema checks the Parquet types of the columns: what a reader
// such as Athena or Spark goes by.
func checkPqSchema(t *testing.T, s *pq.Schema) {
	t.Helper()
	text := s.String()
	for _, want := range []string{
		"required binary id (STRING);",
		"required int64 n (INT(64,true));",
		"required double score;",
		"required boolean ok;",
		"required int64 ts (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));",
		"optional binary note (STRING);",
		"optional group tags (LIST)",
		"optional group geo {",
		"optional double lat;",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Parquet schema has no %q:\n%s", want, text)
		}
	}
}

// normalizeRow turns a row as parquet-go reads it into plain values:
// pointers dereferenced, []byte as string, time.Time as epoch milliseconds.
func normalizeRow(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[strings.ToLower(k)] = normalizeRow(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeRow(e)
		}
		return out
	case []byte:
		return string(x)
	case time.Time:
		return x.UnixMilli()
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return normalizeRow(rv.Elem().Interface())
	}
	return v
}
