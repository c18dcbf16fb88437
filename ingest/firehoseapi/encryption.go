package firehoseapi

import (
	"context"

	"github.com/hydrantio/hydrant/delivery"
)

// Firehose's server-side encryption of a stream (StartDeliveryStreamEncryption,
// StopDeliveryStreamEncryption, CreateDeliveryStream's
// DeliveryStreamEncryptionConfigurationInput) is the encryption at rest of
// the data Firehose holds before delivery. Hydrant holds that data in the
// stream's log, and encrypts its segments with AES-256-GCM under data keys
// wrapped by the server's master keys (delivery.LogEncryption). Hydrant
// calls no KMS: KeyType and KeyARN are checked as Firehose checks them,
// kept, and reported back.
//
// As in Firehose, the change applies to the records put from then on: the
// description says ENABLING (or DISABLING) until the records put before
// are delivered, then ENABLED (DISABLED). Unlike Firehose, Hydrant does not
// cap the calls at 25 a day.

// KeyTypes of the Firehose model.
const (
	keyAWSOwned        = "AWS_OWNED_CMK"
	keyCustomerManaged = "CUSTOMER_MANAGED_CMK"
)

var enumKeyType = []string{keyAWSOwned, keyCustomerManaged}

// memberStreamEncryption names the input member in messages.
const memberStreamEncryption = "DeliveryStreamEncryptionConfigurationInput"

func (a *API) startDeliveryStreamEncryption(rq *request) error {
	var in startDeliveryStreamEncryptionInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	validateStreamEncryption(&v, "deliveryStreamEncryptionConfigurationInput", in.DeliveryStreamEncryptionConfigurationInput)
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName
	enc, err := logEncryption(in.DeliveryStreamEncryptionConfigurationInput)
	if err != nil {
		return err
	}
	if err := a.streams.SetLogEncryption(rq.ctx, rq.stream, enc); err != nil {
		return err
	}
	return a.writeRaw(rq, emptyObject)
}

func (a *API) stopDeliveryStreamEncryption(rq *request) error {
	var in stopDeliveryStreamEncryptionInput
	if err := decodeJSON(rq.body, &in); err != nil {
		return err
	}
	var v validator
	v.name("deliveryStreamName", in.DeliveryStreamName, true)
	if err := v.err(); err != nil {
		return err
	}
	rq.stream = *in.DeliveryStreamName
	// Firehose forgets the key when encryption stops: the description
	// then reports no KeyType.
	if err := a.streams.SetLogEncryption(rq.ctx, rq.stream, delivery.LogEncryption{}); err != nil {
		return err
	}
	return a.writeRaw(rq, emptyObject)
}

// validateStreamEncryption checks a DeliveryStreamEncryptionConfigurationInput
// against the model; nil is valid, the member being optional.
func validateStreamEncryption(v *validator, path string, e *streamEncryptionInput) {
	if e == nil {
		return
	}
	v.required(path+".keyType", e.KeyType != nil)
	v.enum(path+".keyType", e.KeyType, enumKeyType)
	v.str(path+".keyARN", e.KeyARN, 1, 512, &patKMSKeyARN)
}

// logEncryption turns a validated DeliveryStreamEncryptionConfigurationInput
// into the log encryption it asks for. An absent one asks for Firehose's
// default, AWS_OWNED_CMK. KeyARN goes with CUSTOMER_MANAGED_CMK only.
func logEncryption(e *streamEncryptionInput) (delivery.LogEncryption, error) {
	if e == nil {
		return delivery.LogEncryption{Enabled: true, KeyType: keyAWSOwned}, nil
	}
	switch {
	case *e.KeyType == keyCustomerManaged && e.KeyARN == nil:
		return delivery.LogEncryption{}, invalidArgument(memberStreamEncryption + ".KeyARN is required when KeyType is " + keyCustomerManaged + ".")
	case *e.KeyType == keyAWSOwned && e.KeyARN != nil:
		return delivery.LogEncryption{}, invalidArgument(memberStreamEncryption + ".KeyARN must not be given when KeyType is " + keyAWSOwned +
			": give KeyType " + keyCustomerManaged + " with it.")
	}
	return delivery.LogEncryption{Enabled: true, KeyType: *e.KeyType, KeyARN: deref(e.KeyARN)}, nil
}

// encryptNew turns on the log encryption of the stream CreateDeliveryStream
// has just created. The Streams contract creates a stream unencrypted, so
// the create is two steps; if the second fails (no master keys), the
// stream is force-deleted, holding nothing yet, and the create fails as a
// whole. A producer that puts to the name in the moment between the steps
// has its records written unencrypted, and the description reports
// ENABLING until they are delivered.
func (a *API) encryptNew(rq *request, enc delivery.LogEncryption) error {
	err := a.streams.SetLogEncryption(rq.ctx, rq.stream, enc)
	if err == nil {
		return nil
	}
	if derr := a.streams.Delete(context.WithoutCancel(rq.ctx), rq.stream, true); derr != nil {
		a.log.Error("firehose api: cannot delete a stream whose encryption failed", "stream", rq.stream, "request_id", rq.id, "err", derr)
	}
	return err
}

// describeStreamEncryption is the DeliveryStreamEncryptionConfiguration of
// a description.
func describeStreamEncryption(e delivery.LogEncryption) streamEncryption {
	d := streamEncryption{Status: e.Status}
	if d.Status == "" {
		d.Status = delivery.EncryptionDisabled
	}
	if e.Enabled {
		d.KeyType, d.KeyARN = e.KeyType, e.KeyARN
		if d.KeyType == "" {
			d.KeyType = keyAWSOwned
		}
	}
	return d
}
