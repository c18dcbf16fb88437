// A Firehose transformation in the callback style of Lambda's Node.js
// runtime: uppercases each record's text.
exports.handler = (event, context, callback) => {
  const output = event.records.map((record) => {
    const text = Buffer.from(record.data, 'base64').toString('utf8');
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: Buffer.from(text.toUpperCase() + ' ' + context.functionName).toString('base64'),
    };
  });
  console.log(`Processing completed.  Successful records ${output.length}.`);
  setImmediate(() => callback(null, { records: output }));
};
