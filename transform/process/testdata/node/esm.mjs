// An ES module handler.
export const handler = async (event) => ({
  records: event.records.map((r) => ({ recordId: r.recordId, result: 'Dropped' })),
});
