// A Firehose transformation as Lambda runs it, unmodified: the Node.js twin
// of ../python/index.py. Each record is a JSON object {"id": N, "name":
// "...", "action": "keep" | "drop" | "fail"}; kept records are rewritten to
// compact JSON with sorted keys and a newline.
exports.handler = async (event, context) => ({
  records: event.records.map((record) => {
    const doc = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8'));
    if (doc.action === 'drop') {
      return { recordId: record.recordId, result: 'Dropped' };
    }
    if (doc.action === 'fail') {
      return { recordId: record.recordId, result: 'ProcessingFailed', data: record.data };
    }
    const out = { by: context.functionName, id: doc.id, name: doc.name.toUpperCase(), runtime: 'node' };
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: Buffer.from(JSON.stringify(out) + '\n').toString('base64'),
    };
  }),
});
