'use strict';
// Hydrant's Node.js bootstrap: runs an unmodified AWS Lambda handler,
// exports.handler, as a worker of a process function. The handler may be
// async (return a promise) or take a callback, (event, context, callback).
//
// It speaks the bootstrap protocol (SANDBOX.md) on file descriptors 3 (in)
// and 4 (out); stdout and stderr both go to the function's log, so that
// console.log cannot corrupt an answer:
//
//   in:  "<deadline ms, 0 for none> <request id> <n>\n", n bytes of event, "\n"
//   out: "READY\n" once the handler is loaded, then for each event
//        "R <request id> <n>\n", n bytes of answer JSON, "\n", or
//        "E <request id> <n>\n", n bytes of {"errorMessage", "errorType"}, "\n"
//
// Reads are synchronous: between invocations the process waits for the
// next event with its timers stopped, as a Lambda sandbox is frozen.

const fs = require('fs');
const path = require('path');
const url = require('url');

const IN = 3;
const OUT = 4;
const NO_DEADLINE_MS = 900000; // what a function without a timeout is told: Lambda's maximum
const NL = Buffer.from('\n');

function writeAll(bufs) {
  while (bufs.length > 0) {
    let n = fs.writevSync(OUT, bufs);
    while (bufs.length > 0 && n >= bufs[0].length) {
      n -= bufs[0].length;
      bufs.shift();
    }
    if (n > 0) bufs[0] = bufs[0].subarray(n);
  }
}

function send(kind, id, body) {
  writeAll([Buffer.from(`${kind} ${id} ${body.length}\n`), body, NL]);
}

function errorBody(err, type) {
  const message = err instanceof Error ? err.message : String(err);
  const errorType = type || (err instanceof Error ? err.name : typeof err === 'object' && err !== null && err.errorType) || 'Error';
  return Buffer.from(JSON.stringify({ errorMessage: message, errorType: String(errorType) }));
}

// The input: buf[start:end] is read and not consumed.
let buf = Buffer.allocUnsafe(1 << 16);
let start = 0;
let end = 0;

function fill() {
  if (start === end) {
    start = end = 0;
  } else if (end === buf.length) {
    if (start > 0) {
      buf.copy(buf, 0, start, end);
      end -= start;
      start = 0;
    } else {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, end);
      buf = bigger;
    }
  }
  const n = fs.readSync(IN, buf, end, buf.length - end, null);
  end += n;
  return n > 0;
}

function readLine() {
  let scanned = 0; // bytes after start searched already
  for (;;) {
    const i = buf.subarray(0, end).indexOf(10, start + scanned);
    if (i !== -1) {
      const line = buf.toString('latin1', start, i);
      start = i + 1;
      return line;
    }
    scanned = end - start;
    if (!fill()) return null;
  }
}

function readN(n) {
  const out = Buffer.allocUnsafe(n);
  let k = buf.copy(out, 0, start, Math.min(end, start + n));
  start += k;
  while (k < n) {
    const m = fs.readSync(IN, out, k, n - k, null);
    if (m === 0) return null;
    k += m;
  }
  return out;
}

class LambdaError extends Error {
  constructor(message, type) {
    super(message);
    this.errorType = type;
  }
}

async function loadHandler() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT || '.';
  const spec = process.env._HANDLER || '';
  const dir = path.dirname(spec);
  const base = path.basename(spec);
  const dot = base.indexOf('.');
  const moduleName = base.slice(0, dot);
  const property = base.slice(dot + 1);
  const stem = path.resolve(taskRoot, dir, moduleName);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => stem + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw new LambdaError(`Cannot find module '${path.join(dir, moduleName)}' in ${taskRoot}`, 'Runtime.ImportModuleError');
  }
  let mod;
  try {
    if (file.endsWith('.mjs')) {
      mod = await import(url.pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (e) {
        if (e.code !== 'ERR_REQUIRE_ESM') throw e;
        mod = await import(url.pathToFileURL(file).href);
      }
    }
  } catch (e) {
    console.error(e);
    throw new LambdaError(`Unable to import module '${moduleName}': ${e && e.message}`, 'Runtime.ImportModuleError');
  }
  let fn = mod;
  for (const p of property.split('.')) fn = fn == null ? undefined : fn[p];
  if (typeof fn !== 'function' && mod && mod.default) {
    fn = mod.default;
    for (const p of property.split('.')) fn = fn == null ? undefined : fn[p];
  }
  if (typeof fn !== 'function') {
    throw new LambdaError(`${moduleName}.${property} is undefined or not exported`, 'Runtime.HandlerNotFound');
  }
  return fn;
}

function makeContext(id, deadlineMs, region, settle) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME || '';
  return {
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string, as in Lambda
    awsRequestId: id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: undefined,
    clientContext: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis() {
      return deadlineMs === 0 ? NO_DEADLINE_MS : Math.max(0, deadlineMs - Date.now());
    },
    // The legacy completion methods of Lambda's Node.js runtime.
    done(err, result) { settle(err, result); },
    succeed(result) { settle(null, result); },
    fail(err) { settle(err == null ? new Error('handled') : err); },
  };
}

// invoke runs the handler, async or callback style, and settles with the
// first of its promise or its callback. A plain function of fewer than
// three parameters that returns a value answers with that value.
function invoke(handler, event, id, deadlineMs) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      if (err != null) reject(err);
      else resolve(result);
    };
    const region = event && typeof event === 'object' ? event.region || '' : '';
    const context = makeContext(id, deadlineMs, region, settle);
    let r;
    try {
      r = handler(event, context, settle);
    } catch (e) {
      settle(e);
      return;
    }
    if (r && typeof r.then === 'function') {
      r.then((v) => settle(null, v), (e) => settle(e == null ? new Error('the handler rejected with ' + e) : e));
    } else if (handler.length < 3 && r !== undefined) {
      settle(null, r);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (e) {
    send('E', 'init', errorBody(e, e.errorType || 'Runtime.ImportModuleError'));
    process.exit(1);
  }
  writeAll([Buffer.from('READY\n')]);
  for (;;) {
    const header = readLine();
    if (header === null) process.exit(0);
    const [deadline, id, size] = header.split(' ');
    const n = Number(size);
    const body = readN(n + 1);
    if (body === null) process.exit(0);
    let kind = 'R';
    let answer;
    try {
      const event = JSON.parse(body.toString('utf8', 0, n));
      const result = await invoke(handler, event, id, Number(deadline));
      let json;
      try {
        json = JSON.stringify(result === undefined ? null : result);
      } catch (e) {
        throw new LambdaError(`Unable to stringify response body: ${e.message}`, 'Runtime.MarshalError');
      }
      answer = Buffer.from(json, 'utf8');
    } catch (e) {
      if (!(e instanceof LambdaError)) console.error(e);
      kind = 'E';
      answer = errorBody(e, e && e.errorType);
    }
    send(kind, id, answer);
  }
}

main();
