// Package exec runs a SQL application (a *sql.App from the front end) over
// bounded inputs in event time: the engine behind `hydrant sql run`.
//
// Each query's plan becomes a chain of operators (filter, project, window
// aggregate) fed by a stream — a source table or a view — and ending in a
// sink table or a view's stream. Everything runs on the caller's goroutine,
// one record at a time:
//
//   - Inputs are read one record at a time in turn, in the order given
//     (round robin; an input that ends drops out).
//   - A record that does not decode (bad JSON or CSV, a value that is not
//     of its column's type, a NOT NULL column without a value) goes to the
//     error stream with the reason.
//   - Each stream's watermark is the largest event time it has seen minus
//     its allowed lateness. A record whose event time is before the
//     watermark is late: it goes to the error stream and is counted. The
//     watermark advances after every accepted record.
//   - A window is emitted once, when the watermark reaches its end. Windows
//     that close on the same record are emitted by end, then keys, then
//     start. TUMBLE and HOP windows are aligned to the Unix epoch; a
//     SESSION_WINDOW record opens [ts, ts+gap) and merges every open
//     session of its key it overlaps.
//   - At the end of the input every open window closes and is emitted,
//     stream by stream: source tables, then views, in declaration order.
//
// A view's watermark follows its own rows, by the event-time column the
// front end gives it (the input's time column through a projection, or a
// window bound of a windowed view).
//
// Not yet: processing-time windows (PROCTIME() in GROUP BY) are rejected;
// DECIMAL is computed in float64; APPROX_COUNT_DISTINCT and
// APPROX_PERCENTILE are exact (a set of values; the nearest-rank
// percentile); there is no checkpointing.
package exec
