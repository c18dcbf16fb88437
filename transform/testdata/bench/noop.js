// The no-op of BenchmarkRuntimes (runtimes_bench_test.go): every record
// passes Ok and unchanged, as examples/noop does.
exports.handler = async (event) => ({
  records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })),
});
