// Package record holds the one type every stage of Hydrant shares: a record
// as it travels from a producer through the log to a sink.
package record

import "time"

// Record is one producer record. Data is owned by whoever holds the Record;
// a stage that keeps it past the call that handed it over must copy it
// unless that stage's contract says otherwise.
type Record struct {
	// Offset is the record's position in its stream's log, assigned on append.
	Offset uint64
	// ArrivalTime is when Hydrant accepted the record (Firehose's
	// approximateArrivalTimestamp).
	ArrivalTime time.Time
	// PartitionKey is the producer's key (Kafka key, gRPC partition key);
	// empty for Firehose API records.
	PartitionKey string
	// Data is the record's payload, exactly as the producer sent it.
	Data []byte
}
