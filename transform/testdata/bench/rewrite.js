// The rewrite of BenchmarkRuntimes (runtimes_bench_test.go), as
// examples/rewrite does it: upper-cases the string field "name", renames
// "msg" to "message", adds "transformed": true, re-serialises the record
// newline-terminated and partitions it by its string "customer_id". A
// record that is not a JSON object fails with ProcessingFailed, unchanged.
function rewrite(r) {
  let doc;
  try {
    doc = JSON.parse(Buffer.from(r.data, 'base64').toString('utf8'));
  } catch {
    doc = undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { recordId: r.recordId, result: 'ProcessingFailed', data: r.data };
  }
  if (typeof doc.name === 'string') doc.name = doc.name.toUpperCase();
  if (Object.hasOwn(doc, 'msg')) {
    doc.message = doc.msg;
    delete doc.msg;
  }
  doc.transformed = true;
  const out = {
    recordId: r.recordId,
    result: 'Ok',
    data: Buffer.from(JSON.stringify(doc) + '\n', 'utf8').toString('base64'),
  };
  if (typeof doc.customer_id === 'string' && doc.customer_id !== '') {
    out.metadata = { partitionKeys: { customer: doc.customer_id } };
  }
  return out;
}

exports.handler = async (event) => ({ records: event.records.map(rewrite) });
