// A Firehose transformation in the async style: rewrites each record's
// JSON, sets a partition key, and reports the context it was given.
exports.handler = async (event, context) => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return {
    records: event.records.map((record) => {
      const doc = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8'));
      doc.function = context.functionName;
      doc.request = context.awsRequestId;
      doc.remaining = context.getRemainingTimeInMillis();
      doc.memory = context.memoryLimitInMB;
      return {
        recordId: record.recordId,
        result: 'Ok',
        data: Buffer.from(JSON.stringify(doc)).toString('base64'),
        metadata: { partitionKeys: { customer: String(doc.customer) } },
      };
    }),
  };
};
