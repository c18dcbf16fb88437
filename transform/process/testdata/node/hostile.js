// Hostile and failing handlers.
exports.loop = async () => {
  for (;;);
};

exports.raises = async () => {
  throw new TypeError('boom');
};

exports.callbackError = (event, context, callback) => {
  callback(new Error('callback boom'));
};

exports.exit = async () => {
  process.exit(4);
};
