// A hostile Node.js handler for Hydrant's integration tests, the twin of
// probe in ../python/hostile.py: each record is {"id": N, "probe": "read" |
// "write" | "connect", "target": path or host:port}. It tries, and answers
// every record Ok with a report line: {"id", "probe", "target", "ok",
// "detail"}, detail being what it read or the error it got.
const fs = require('fs');
const net = require('net');

function attempt(probe, target) {
  return new Promise((resolve) => {
    const done = (ok, detail) => resolve({ ok, detail: String(detail) });
    try {
      switch (probe) {
        case 'read': {
          const fd = fs.openSync(target, 'r');
          const buf = Buffer.alloc(64);
          const n = fs.readSync(fd, buf, 0, buf.length, 0);
          fs.closeSync(fd);
          done(true, buf.subarray(0, n).toString());
          break;
        }
        case 'write':
          fs.writeFileSync(target, 'escaped from the sandbox\n');
          done(true, 'wrote');
          break;
        case 'connect': {
          const i = target.lastIndexOf(':');
          const sock = net.connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)) });
          sock.setTimeout(2000, () => {
            sock.destroy();
            done(false, 'timed out');
          });
          sock.on('connect', () => {
            sock.destroy();
            done(true, 'connected');
          });
          sock.on('error', (e) => done(false, `${e.code}: ${e.message}`));
          break;
        }
        default:
          done(false, `unknown probe ${probe}`);
      }
    } catch (e) {
      done(false, `${e.code || e.name}: ${e.message}`);
    }
  });
}

exports.probe = async (event) => ({
  records: await Promise.all(event.records.map(async (record) => {
    const doc = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8'));
    const { ok, detail } = await attempt(doc.probe, doc.target);
    const report = { detail, id: doc.id, ok, probe: doc.probe, runtime: 'node', target: doc.target };
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: Buffer.from(JSON.stringify(report) + '\n').toString('base64'),
    };
  })),
});
