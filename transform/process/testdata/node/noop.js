// A no-op Firehose transformation: every record passes unchanged.
exports.handler = async (event) => ({
  records: event.records.map((r) => ({ recordId: r.recordId, result: 'Ok', data: r.data })),
});
