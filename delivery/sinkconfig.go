package delivery

import (
	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// The settings of the record destinations, as Destination holds them,
// and the limits the protocol layers check them against: named here so
// that ingest never imports a sink (DESIGN.md).
type (
	HTTPConfig       = webhook.Config
	ClickHouseConfig = clickhouse.Config
	ClickHouseColumn = clickhouse.Column
)

const (
	HTTPEncodingNone         = webhook.EncodingNone
	HTTPEncodingGzip         = webhook.EncodingGzip
	HTTPNoRetries            = webhook.NoRetries
	HTTPDefaultRetryDuration = webhook.DefaultRetryDuration
	HTTPMaxAccessKeyLen      = webhook.MaxAccessKeyLen
	HTTPMaxCommonAttributes  = webhook.MaxCommonAttributes
	HTTPMaxAttributeNameLen  = webhook.MaxAttributeNameLen
	HTTPMaxAttributeValueLen = webhook.MaxAttributeValueLen

	ClickHouseDefaultDatabase    = clickhouse.DefaultDatabase
	ClickHouseDefaultUser        = clickhouse.DefaultUser
	ClickHouseDefaultCompression = clickhouse.DefaultCompression
)
