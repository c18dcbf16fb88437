// Package partition holds the record-level steps of Firehose dynamic
// partitioning that the delivery worker runs on each record, in
// Firehose's order:
//
//  1. RecordDeAggregation splits a record holding several sub-records:
//     SplitJSON for SubRecordType JSON, SplitDelimited for DELIMITED.
//  2. MetadataExtraction runs a jq query on each (sub-)record to get its
//     partition keys, the values of !{partitionKeyFromQuery:name} in the
//     S3 prefix: Compile once per stream, then Query.Extract per record.
//
// Record-level failures are *Error values carrying the code Firehose
// writes in its error output; the worker sends such records there rather
// than retrying them. Everything else (an invalid query, an empty
// delimiter) is a configuration error, reported when the stream is
// created.
//
// The package keeps no state: a *Query is safe for concurrent use, and the
// split functions hand out slices of the record without allocating.
package partition
