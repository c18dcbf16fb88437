package firehoseapi

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrantio/hydrant/delivery"
)

// These tests cover the encryption of a stream's log at rest, Firehose's
// server-side encryption of a stream.

const testKeyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func (h *harness) startEncryption(name string, in *types.DeliveryStreamEncryptionConfigurationInput) error {
	_, err := h.client.StartDeliveryStreamEncryption(ctx, &firehose.StartDeliveryStreamEncryptionInput{
		DeliveryStreamName: aws.String(name), DeliveryStreamEncryptionConfigurationInput: in})
	return err
}

func (h *harness) stopEncryption(name string) error {
	_, err := h.client.StopDeliveryStreamEncryption(ctx, &firehose.StopDeliveryStreamEncryptionInput{DeliveryStreamName: aws.String(name)})
	return err
}

// wantStreamEncryption checks the DeliveryStreamEncryptionConfiguration
// that DescribeDeliveryStream reports, as "KeyType KeyARN Status".
func (h *harness) wantStreamEncryption(name, want string) {
	h.t.Helper()
	out, err := h.client.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
	if err != nil {
		h.t.Fatalf("DescribeDeliveryStream(%s): %v", name, err)
	}
	e := out.DeliveryStreamDescription.DeliveryStreamEncryptionConfiguration
	if e == nil {
		h.t.Fatalf("DescribeDeliveryStream(%s): no DeliveryStreamEncryptionConfiguration", name)
	}
	if got := fmt.Sprintf("%s %s %s", e.KeyType, aws.ToString(e.KeyARN), e.Status); got != want {
		h.t.Errorf("DeliveryStreamEncryptionConfiguration of %s = %q; want %q", name, got, want)
	}
}

// wantEncCall checks the last SetLogEncryption call that reached the fake.
func (h *harness) wantEncCall(name string, want delivery.LogEncryption) {
	h.t.Helper()
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	calls := h.fake.encCalls
	if len(calls) == 0 || calls[len(calls)-1] != (encCall{name, want}) {
		h.t.Errorf("SetLogEncryption calls = %+v; want the last to be %s %+v", calls, name, want)
	}
}

func (h *harness) encCallCount() int {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	return len(h.fake.encCalls)
}

// putEncrypted puts one record with PutRecord and one batch with
// PutRecordBatch, and returns the Encrypted of both answers.
func (h *harness) putEncrypted(name string) (single, batch bool) {
	h.t.Helper()
	out, err := h.client.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(name), Record: &types.Record{Data: []byte("x")}})
	if err != nil {
		h.t.Fatalf("PutRecord(%s): %v", name, err)
	}
	bout, err := h.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(name), Records: []types.Record{{Data: []byte("y")}}})
	if err != nil {
		h.t.Fatalf("PutRecordBatch(%s): %v", name, err)
	}
	return aws.ToBool(out.Encrypted), aws.ToBool(bout.Encrypted)
}

func TestStartStopEncryption(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	h.wantStreamEncryption("s", "  DISABLED")
	if single, batch := h.putEncrypted("s"); single || batch {
		t.Errorf("puts before encryption: Encrypted %v, %v; want false", single, batch)
	}

	// Records put before encryption keep the stream ENABLING until they
	// are delivered.
	if err := h.startEncryption("s", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeCustomerManagedCmk, KeyARN: aws.String(testKeyARN)}); err != nil {
		t.Fatalf("StartDeliveryStreamEncryption: %v", err)
	}
	h.wantEncCall("s", delivery.LogEncryption{Enabled: true, KeyType: "CUSTOMER_MANAGED_CMK", KeyARN: testKeyARN})
	h.wantStreamEncryption("s", "CUSTOMER_MANAGED_CMK "+testKeyARN+" ENABLING")
	if single, batch := h.putEncrypted("s"); !single || !batch {
		t.Errorf("puts after StartDeliveryStreamEncryption: Encrypted %v, %v; want true", single, batch)
	}
	h.fake.deliver("s")
	h.wantStreamEncryption("s", "CUSTOMER_MANAGED_CMK "+testKeyARN+" ENABLED")

	// Starting again changes the key; without a configuration, the key
	// is Firehose's default, AWS_OWNED_CMK.
	if err := h.startEncryption("s", nil); err != nil {
		t.Fatalf("StartDeliveryStreamEncryption(no configuration): %v", err)
	}
	h.wantEncCall("s", delivery.LogEncryption{Enabled: true, KeyType: "AWS_OWNED_CMK"})
	h.wantStreamEncryption("s", "AWS_OWNED_CMK  ENABLED")
	h.putEncrypted("s")

	// Stopping forgets the key, and the stream is DISABLING while
	// encrypted records wait for delivery.
	if err := h.stopEncryption("s"); err != nil {
		t.Fatalf("StopDeliveryStreamEncryption: %v", err)
	}
	h.wantEncCall("s", delivery.LogEncryption{})
	h.wantStreamEncryption("s", "  DISABLING")
	if single, batch := h.putEncrypted("s"); single || batch {
		t.Errorf("puts after StopDeliveryStreamEncryption: Encrypted %v, %v; want false", single, batch)
	}
	h.fake.deliver("s")
	h.wantStreamEncryption("s", "  DISABLED")
	if err := h.stopEncryption("s"); err != nil {
		t.Errorf("StopDeliveryStreamEncryption of a stream not encrypted: %v", err)
	}
	h.wantStreamEncryption("s", "  DISABLED")

	// The raw answer is Firehose's: an empty object.
	if got := string(h.callOK("StartDeliveryStreamEncryption", `{"DeliveryStreamName":"s"}`)); got != "{}" {
		t.Errorf("StartDeliveryStreamEncryption answered %s; want {}", got)
	}
	if got := string(h.callOK("StopDeliveryStreamEncryption", `{"DeliveryStreamName":"s"}`)); got != "{}" {
		t.Errorf("StopDeliveryStreamEncryption answered %s; want {}", got)
	}
}

func TestStartStopEncryptionErrors(t *testing.T) {
	h := newHarness(t)
	h.create("s", s3Config("bucket"))
	customer := &types.DeliveryStreamEncryptionConfigurationInput{KeyType: types.KeyTypeCustomerManagedCmk, KeyARN: aws.String(testKeyARN)}

	// Requests the model or its rules refuse never reach the streams.
	f := func(name string, err error, code, msg string) {
		t.Helper()
		wantAPIError(t, name, err, code, msg)
	}
	f("StartDeliveryStreamEncryption(bad KeyType)", h.startEncryption("s", &types.DeliveryStreamEncryptionConfigurationInput{KeyType: "OUR_OWN_CMK"}),
		"ValidationException", "1 validation error detected: Value 'OUR_OWN_CMK' at 'deliveryStreamEncryptionConfigurationInput.keyType' "+
			"failed to satisfy constraint: Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]")
	f("StartDeliveryStreamEncryption(bad KeyARN)", h.startEncryption("s", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeCustomerManagedCmk, KeyARN: aws.String("alias/mine")}),
		"ValidationException", "Value 'alias/mine' at 'deliveryStreamEncryptionConfigurationInput.keyARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*:kms:")
	f("StartDeliveryStreamEncryption(CUSTOMER_MANAGED_CMK without KeyARN)", h.startEncryption("s", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeCustomerManagedCmk}),
		"InvalidArgumentException", "DeliveryStreamEncryptionConfigurationInput.KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.")
	f("StartDeliveryStreamEncryption(AWS_OWNED_CMK with KeyARN)", h.startEncryption("s", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeAwsOwnedCmk, KeyARN: aws.String(testKeyARN)}),
		"InvalidArgumentException", "DeliveryStreamEncryptionConfigurationInput.KeyARN must not be given when KeyType is AWS_OWNED_CMK")
	f("StartDeliveryStreamEncryption(bad name)", h.startEncryption("no spaces", nil),
		"ValidationException", "Value 'no spaces' at 'deliveryStreamName' failed to satisfy constraint")
	f("StopDeliveryStreamEncryption(bad name)", h.stopEncryption(strings.Repeat("n", 65)),
		"ValidationException", "at 'deliveryStreamName' failed to satisfy constraint: Member must have length less than or equal to 64")
	// The SDK refuses a missing KeyType itself; other clients may send one.
	status, body := h.call("StartDeliveryStreamEncryption", `{"DeliveryStreamName":"s","DeliveryStreamEncryptionConfigurationInput":{}}`)
	if e := decodeError(body); status != 400 || e.Type != codeValidation ||
		e.Message != "1 validation error detected: Value null at 'deliveryStreamEncryptionConfigurationInput.keyType' failed to satisfy constraint: Member must not be null" {
		t.Errorf("StartDeliveryStreamEncryption(no KeyType): %d %+v", status, e)
	}
	if n := h.encCallCount(); n != 0 {
		t.Errorf("refused requests reached SetLogEncryption %d times", n)
	}

	// The streams' errors.
	f("StartDeliveryStreamEncryption(unknown stream)", h.startEncryption("nope", customer),
		"ResourceNotFoundException", "Firehose nope under account 000000000000 not found.")
	f("StopDeliveryStreamEncryption(unknown stream)", h.stopEncryption("nope"),
		"ResourceNotFoundException", "Firehose nope under account 000000000000 not found.")

	h.fake.noKeys = true
	err := h.startEncryption("s", customer)
	f("StartDeliveryStreamEncryption(no master keys)", err, "InvalidKMSResourceException",
		"Hydrant has no master keys to encrypt the log of Firehose s with: give hydrant serve a key file (encryption.key_file in the config) or set HYDRANT_MASTER_KEYS.")
	var kms *types.InvalidKMSResourceException
	if !errors.As(err, &kms) {
		t.Errorf("StartDeliveryStreamEncryption(no master keys) = %T; want *types.InvalidKMSResourceException", err)
	}
	h.wantStreamEncryption("s", "  DISABLED")
	if err := h.stopEncryption("s"); err != nil {
		t.Errorf("StopDeliveryStreamEncryption(no master keys) = %v; stopping needs no keys", err)
	}
	h.fake.noKeys = false

	h.fake.setStatus("s", delivery.StatusDeleting)
	f("StartDeliveryStreamEncryption(deleting)", h.startEncryption("s", nil),
		"ResourceInUseException", "Firehose s under account 000000000000 is not ACTIVE")
	f("StopDeliveryStreamEncryption(deleting)", h.stopEncryption("s"),
		"ResourceInUseException", "Firehose s under account 000000000000 is not ACTIVE")
	h.fake.setStatus("s", delivery.StatusActive)

	// A Streams without log encryption (the discard baseline) says so.
	h.fake.encErr = fmt.Errorf("the discard baseline does not store anything: %w", errors.ErrUnsupported)
	f("StartDeliveryStreamEncryption(unsupported)", h.startEncryption("s", nil),
		"InvalidArgumentException", "StartDeliveryStreamEncryption is not supported by this Hydrant server.")
	h.fake.encErr = errors.New("wal: cannot write segment header")
	f("StartDeliveryStreamEncryption(internal)", h.startEncryption("s", nil), "InternalFailure", msgInternalFailure)
}

func TestCreateWithEncryption(t *testing.T) {
	h := newHarness(t)
	create := func(name string, enc *types.DeliveryStreamEncryptionConfigurationInput) error {
		_, err := h.client.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Config("bucket"),
			DeliveryStreamEncryptionConfigurationInput: enc,
		})
		return err
	}
	if err := create("cmk", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeCustomerManagedCmk, KeyARN: aws.String(testKeyARN)}); err != nil {
		t.Fatalf("CreateDeliveryStream with encryption: %v", err)
	}
	h.wantStreamEncryption("cmk", "CUSTOMER_MANAGED_CMK "+testKeyARN+" ENABLED")
	if err := create("owned", &types.DeliveryStreamEncryptionConfigurationInput{KeyType: types.KeyTypeAwsOwnedCmk}); err != nil {
		t.Fatalf("CreateDeliveryStream with AWS_OWNED_CMK: %v", err)
	}
	h.wantStreamEncryption("owned", "AWS_OWNED_CMK  ENABLED")
	calls := h.encCallCount()

	// Refused before the stream is created.
	wantAPIError(t, "CreateDeliveryStream(bad KeyType)", create("k", &types.DeliveryStreamEncryptionConfigurationInput{KeyType: "NONE"}),
		"ValidationException", "Value 'NONE' at 'deliveryStreamEncryptionConfigurationInput.keyType' failed to satisfy constraint")
	wantAPIError(t, "CreateDeliveryStream(KeyARN without its type)", create("k", &types.DeliveryStreamEncryptionConfigurationInput{
		KeyType: types.KeyTypeAwsOwnedCmk, KeyARN: aws.String(testKeyARN)}),
		"InvalidArgumentException", "DeliveryStreamEncryptionConfigurationInput.KeyARN must not be given")
	if n := h.encCallCount(); n != calls {
		t.Errorf("refused creates reached SetLogEncryption %d times", n-calls)
	}
	// Refused once created: the stream is deleted again.
	h.fake.noKeys = true
	err := create("k", &types.DeliveryStreamEncryptionConfigurationInput{KeyType: types.KeyTypeAwsOwnedCmk})
	wantAPIError(t, "CreateDeliveryStream(no master keys)", err, "InvalidKMSResourceException", "Hydrant has no master keys to encrypt the log of Firehose k with")
	if _, err := h.fake.Describe("k"); err == nil {
		t.Errorf("a create refused for want of master keys left stream k behind")
	}
	if !h.fake.lastDeleteForce {
		t.Errorf("the stream of a refused create was not force-deleted")
	}
}
