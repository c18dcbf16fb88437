// Package sql is the front end of Hydrant's SQL applications: it parses an
// application file with the tidb parser (unmodified, SQL mode ANSI_QUOTES |
// PIPES_AS_CONCAT), checks it, and plans each query as a tree of continuous
// operators (Scan → Filter → WindowAggregate or Project → Sink). The tidb
// types stay inside this package; callers see App, Table, Query, Node and
// Expr.
//
// An application is a list of statements:
//
//	CREATE TABLE clicks (
//	  user_id   VARCHAR(64) NOT NULL COMMENT '$.user.id',   -- read from a JSON path
//	  url       TEXT,
//	  ts        TIMESTAMP(3) NOT NULL,
//	  watermark TIMESTAMP(3) AS (ts - INTERVAL 5 SECOND)   -- event time ts, 5 s lateness
//	) ENGINE = stream CONNECTION = 'clicks?format=json';
//
//	CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, country CHAR(2))
//	  ENGINE = file CONNECTION = 'ref/users.csv?format=csv&refresh=300s';
//
//	CREATE TABLE clicks_per_minute (user_id VARCHAR(64), window_end TIMESTAMP(3), n BIGINT)
//	  ENGINE = stream CONNECTION = 'clicks-per-minute?format=json';
//
//	INSERT INTO clicks_per_minute
//	SELECT user_id, TUMBLE_END(ts, '1 MINUTE') AS window_end, COUNT(*) AS n
//	FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');
//
// Tables. ENGINE = stream is a delivery stream, a source when a query reads
// it and a sink when an INSERT writes it; ENGINE = file and ENGINE = s3
// (CONNECTION 's3://bucket/key') are reference tables with exactly one
// PRIMARY KEY column, reloaded every refresh (a Go duration such as 300s).
// CONNECTION is 'target?format=json|csv&refresh=…'; json is the default.
// Column types map onto Type: CHAR/VARCHAR/TEXT → string, integers → int64,
// FLOAT/DOUBLE → float64, DECIMAL → decimal, BOOL → bool,
// TIMESTAMP/DATETIME/DATE → timestamp (milliseconds), JSON → json. A column's
// COMMENT, when given, is the JSON path it is read from ('$.a.b', '$.a[0]');
// the tidb grammar has no other place for one, and paths need format=json.
//
// Event time. The computed column named watermark, AS (ts - INTERVAL n
// unit) or AS (ts), makes ts the table's event time with n units of allowed
// lateness. Only tables with a watermark feed event-time windows;
// PROCTIME() as a window's time argument windows on processing time.
//
// Queries. INSERT INTO sink [(columns)] SELECT … feeds a sink; the SELECT's
// columns must match the sink's in number and type (int64 widens to float64
// and decimal; anything else needs CAST). CREATE VIEW name AS SELECT … is an
// intermediate stream; a view whose output keeps its input's event-time
// column, or a window's end, has event time too. Windows are GROUP BY
// TUMBLE(ts, size), HOP(ts, slide, size) or SESSION_WINDOW(ts, gap), with
// durations as strings ('10 SECOND'; see ParseDuration) and the accessors
// TUMBLE_START/_END, HOP_START/_END and SESSION_START/_END, which must repeat
// the GROUP BY window's arguments. Aggregates: COUNT, COUNT(DISTINCT),
// SUM, AVG, MIN, MAX, APPROX_COUNT_DISTINCT, APPROX_PERCENTILE(x, pct).
//
// Errors. Parse reports every problem it finds as an *Error with a 1-based
// line and column (in characters). The grammar misreads two inputs silently
// (SELECT STREAM x reads as column STREAM aliased x; a FULL JOIN b as table
// a aliased FULL, joined to b); both are rejected by name.
//
// Not yet supported, each with a clear error: joins, OVER windows, UNION,
// subqueries, ORDER BY, LIMIT, DISTINCT.
package sql
