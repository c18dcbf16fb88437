package webhook

import (
	"fmt"
	"strings"
)

// FailedError is returned by Send when requests of the batch failed for
// good: answered 413, still failing when their retry duration ran out, or
// holding a record too large to send. Every other request of the batch
// was delivered. The caller writes the failed records to the error output
// (Firehose's http-endpoint-failed/ prefix of the S3 backup) with
// Attempts as attemptsMade and LastCode and LastMessage as errorCode and
// errorMessage.
type FailedError struct {
	BatchID  string
	Requests []FailedRequest
}

// FailedRequest is one request that failed for good.
type FailedRequest struct {
	// ID is the request's X-Amz-Firehose-Request-Id.
	ID string
	// Records are the indexes, in the slice handed to Send, of the
	// records the request carried.
	Records []int
	// Attempts is how many times the request was sent (attemptsMade); 0
	// for a record too large to send.
	Attempts int
	// LastStatus is the HTTP status of the last attempt, 0 if it got no
	// response.
	LastStatus int
	// LastCode is what the last attempt failed with: one of the Code
	// constants.
	LastCode string
	// LastMessage says why, at most 8,192 bytes: the endpoint's
	// errorMessage when it gave one, as Firehose copies it to the error
	// output.
	LastMessage string
}

// Permanent reports whether the request failed without exhausting its
// retries: the endpoint answered 413, or a record did not fit.
func (r FailedRequest) Permanent() bool {
	return r.LastStatus == 413 || r.LastCode == CodeRecordTooLarge
}

func (e *FailedError) Error() string {
	n := 0
	for _, r := range e.Requests {
		n += len(r.Records)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cannot deliver %d records of batch %s to the webhook: %d requests failed", n, e.BatchID, len(e.Requests))
	for i, r := range e.Requests {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Requests)-i)
			break
		}
		fmt.Fprintf(&b, "; request %s after %d attempts: %s: %s", r.ID, r.Attempts, r.LastCode, r.LastMessage)
	}
	return b.String()
}
