package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrClosed is returned by Insert after Close.
var ErrClosed = errors.New("clickhouse sink is closed")

// Error is an error of New or Insert. Permanent says that retrying the
// same call cannot succeed until someone changes the table, the config or
// the server's users (a missing table or column, a type the table does
// not have, a wrong password); other errors (the server down or
// restarting, a timeout, too many parts, out of memory) may go away by
// themselves, and the call should be retried with a backoff.
type Error struct {
	// Op is what failed: "connect", "create table", "read columns" or
	// "insert".
	Op string
	// Table is the table, as db.table.
	Table string
	// Code is ClickHouse's error code when the server refused, else 0.
	Code int32
	// Permanent is true for an error that a retry does not cure.
	Permanent bool
	Err       error
}

func (e *Error) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("cannot %s %s (%s): %v", e.Op, e.Table, kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is an *Error that retrying does not
// cure. Errors that are not an *Error, such as a cancelled context, are
// not permanent.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// permanentCodes are the ClickHouse error codes a retry does not cure:
// they need a change to the schema, the config or the users.
var permanentCodes = map[int32]string{
	10:  "NOT_FOUND_COLUMN_IN_BLOCK",
	16:  "NO_SUCH_COLUMN_IN_TABLE",
	20:  "NUMBER_OF_COLUMNS_DOESNT_MATCH",
	43:  "ILLEGAL_TYPE_OF_ARGUMENT",
	44:  "ILLEGAL_COLUMN",
	47:  "UNKNOWN_IDENTIFIER",
	48:  "NOT_IMPLEMENTED",
	50:  "UNKNOWN_TYPE",
	53:  "TYPE_MISMATCH",
	57:  "TABLE_ALREADY_EXISTS",
	60:  "UNKNOWN_TABLE",
	62:  "SYNTAX_ERROR",
	70:  "CANNOT_CONVERT_TYPE",
	81:  "UNKNOWN_DATABASE",
	115: "UNKNOWN_SETTING",
	164: "READONLY",
	192: "UNKNOWN_USER",
	193: "WRONG_PASSWORD",
	194: "REQUIRED_PASSWORD",
	195: "IP_ADDRESS_NOT_ALLOWED",
	291: "DATABASE_ACCESS_DENIED",
	497: "ACCESS_DENIED",
	516: "AUTHENTICATION_FAILED",
}

// classify wraps err from the driver as an *Error.
func (s *Sink) classify(op string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Table: s.table, Err: err}
	var ex *clickhouse.Exception
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ex):
		e.Code = ex.Code
		_, e.Permanent = permanentCodes[ex.Code]
	case errors.Is(err, clickhouse.ErrBatchInvalid):
		// A value the sink converted and the driver refused: a bug here,
		// which a retry would repeat.
		e.Permanent = true
	case errors.As(err, &cert):
		// The server's certificate is not trusted: a config error.
		e.Permanent = true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	default:
		// Dial and I/O errors, the pool's acquire timeout: the server is
		// down, restarting or unreachable.
	}
	return e
}
