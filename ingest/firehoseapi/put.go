package firehoseapi

import (
	"crypto/sha256"
	"errors"
	"strconv"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/record"
)

// recordIDKey is the part of every RecordId of one stream incarnation: the
// first bytes of the SHA-256 of its StreamInfo.ID. A RecordId is the key
// followed by the record's log offset, both in hex, so it is stable and
// unique per record, and different for a stream deleted and created again.
type recordIDKey [8]byte

func newRecordIDKey(streamID string) recordIDKey {
	sum := sha256.Sum256([]byte(streamID))
	return recordIDKey(sum[:8])
}

const recordIDLen = 32

func appendRecordID(dst []byte, key recordIDKey, offset uint64) []byte {
	const hexdigits = "0123456789abcdef"
	for _, b := range key {
		dst = append(dst, hexdigits[b>>4], hexdigits[b&0xf])
	}
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexdigits[offset>>shift&0xf])
	}
	return dst
}

func (a *API) putRecord(rq *request) error {
	var in putRecordInput
	a.decoding <- struct{}{}
	err := decodeJSON(rq.body, &in)
	<-a.decoding
	if err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	if v.required("record", in.Record != nil) {
		v.blob("record.data", in.Record.Data, MaxRecordBytes)
	}
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName
	info, err := a.streams.Describe(rq.stream)
	if err != nil {
		return err
	}
	recs := append(rq.recs[:0], record.Record{ArrivalTime: a.now(), Data: in.Record.Data})
	first, err := a.streams.Put(rq.ctx, rq.stream, recs)
	clear(recs)
	rq.recs = recs[:0]
	if err != nil {
		return err
	}
	out := putRecordOutput{RecordId: string(appendRecordID(make([]byte, 0, recordIDLen), newRecordIDKey(info.ID), first)),
		Encrypted: info.Encryption.Enabled}
	return a.writeJSON(rq, out)
}

// putRecordBatch is the hot path: the body, the decoded batch, the records
// handed to Put and the response are all buffers of the pooled request.
func (a *API) putRecordBatch(rq *request) error {
	in := &rq.batch
	// Cleared: encoding/json reuses the slice's elements and leaves a
	// member that a record lacks as it was. The arena can hold the data of
	// any body, since base64 only grows it.
	all := in.Records[:cap(in.Records)]
	clear(all)
	if need := len(rq.body) / 4 * 3; cap(rq.arena) < need {
		rq.arena = make([]byte, 0, need)
	}
	rq.arena = rq.arena[:0]
	for i := range all {
		all[i].Data.arena = &rq.arena
	}
	in.Records, in.DeliveryStreamName = all[:0], nil
	defer clear(in.Records[:cap(in.Records)]) // do not keep the data alive in the pool

	a.decoding <- struct{}{}
	err := decodeJSON(rq.body, in)
	<-a.decoding
	if err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	// An absent Records decodes like an empty one (the slice is reused), so
	// both are reported as too short.
	if v.required("records", in.Records != nil) {
		v.list("records", len(in.Records), 1, MaxBatchRecords)
	}
	total := 0
	for i := range in.Records {
		d := in.Records[i].Data.b
		if d == nil || len(d) > MaxRecordBytes {
			v.blob(memberPath("records", i, "data"), d, MaxRecordBytes)
		}
		total += len(d)
	}
	if err := v.err(); err != nil {
		return err
	}
	if total > MaxBatchBytes {
		return invalidArgument("Records size exceeds 4 MB limit")
	}
	rq.stream = *in.DeliveryStreamName
	info, err := a.streams.Describe(rq.stream)
	if err != nil {
		return err
	}

	now := a.now()
	recs := rq.recs[:0]
	for i := range in.Records {
		recs = append(recs, record.Record{ArrivalTime: now, Data: in.Records[i].Data.b})
	}
	first, err := a.streams.Put(rq.ctx, rq.stream, recs)
	clear(recs)
	rq.recs = recs[:0]

	n := len(in.Records)
	out := rq.out[:0]
	if errors.Is(err, delivery.ErrLogFull) {
		// Firehose throttles a batch record by record, in a 200 answer:
		// producers retry the failed entries.
		out = appendEncrypted(out, info.Encryption.Enabled)
		out = append(out, `,"FailedPutCount":`...)
		out = strconv.AppendInt(out, int64(n), 10)
		out = append(out, `,"RequestResponses":[`...)
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"ErrorCode":"`+codeServiceUnavailable+`","ErrorMessage":"`+msgSlowDown+`"}`...)
		}
	} else {
		if err != nil {
			return err
		}
		key := newRecordIDKey(info.ID)
		out = appendEncrypted(out, info.Encryption.Enabled)
		out = append(out, `,"FailedPutCount":0,"RequestResponses":[`...)
		for i := range n {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"RecordId":"`...)
			out = appendRecordID(out, key, first+uint64(i))
			out = append(out, `"}`...)
		}
	}
	out = append(out, "]}"...)
	rq.out = out
	return a.writeRaw(rq, out)
}

// appendEncrypted starts a PutRecordBatch answer with its Encrypted member:
// whether the stream's log was encrypted when the batch was put. A
// StartDeliveryStreamEncryption or Stop racing with the put may make it
// wrong for that batch, as Firehose warns it may be while the status
// changes.
func appendEncrypted(dst []byte, encrypted bool) []byte {
	dst = append(dst, `{"Encrypted":`...)
	return strconv.AppendBool(dst, encrypted)
}
