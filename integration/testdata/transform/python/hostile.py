# Hostile Firehose transformations for Hydrant's integration tests. Each
# answers every record Ok and unchanged, as a no-op, unless a record of the
# event holds its trigger word; then it attacks. The processes they leave
# behind carry HYDRANT_TEST_MARK (the function's env) in their command
# line, so that the test can look for them on the host.
import base64
import json
import os
import socket
import time

MARK = os.environ.get("HYDRANT_TEST_MARK", "0")


def _data(record):
    return base64.b64decode(record["data"])


def _noop(event):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]}


def _triggered(event, word):
    return any(word in _data(r) for r in event["records"])


def _hold_pid(marker):
    """Turns the calling (forked) process into a sleeper whose command line
    holds marker and MARK."""
    try:
        os.closerange(3, 1024)
        os.execv("/bin/sleep", ["sleep", "%s.%s" % (marker, MARK)])
    finally:
        os._exit(1)


def loop(event, context):
    """"loop": leaves a child that would outlive the worker, then spins."""
    if not _triggered(event, b"loop"):
        return _noop(event)
    if os.fork() == 0:
        _hold_pid("86401")
    while True:
        pass


def memory_bomb(event, context):
    """"bomb": allocates, and touches, memory until it is stopped."""
    if not _triggered(event, b"bomb"):
        return _noop(event)
    hoard = []
    while True:
        hoard.append(b"x" * (16 << 20))


def fork_bomb(event, context):
    """"fork": every process forks on for a second, then holds its pid. The
    records holding "fork" are answered with what the worker managed."""
    if not _triggered(event, b"fork"):
        return _noop(event)
    me = os.getpid()
    forked = failed = 0
    deadline = time.time() + 1.0
    while time.time() < deadline:
        try:
            if os.fork() == 0:
                continue  # the child forks on too
            if os.getpid() == me:
                forked += 1
        except OSError:
            if os.getpid() == me:
                failed += 1
            time.sleep(0.01)
    if os.getpid() != me:
        _hold_pid("86402")
    out = []
    for r in event["records"]:
        data = _data(r)
        if b"fork" in data:
            report = json.dumps({"record": data.decode(), "forked": forked, "failed": failed}, sort_keys=True) + "\n"
            out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(report.encode()).decode()})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok", "data": r["data"]})
    return {"records": out}


def garbage(event, context):
    """"garbage": answers a JSON string, not a transformation response."""
    if not _triggered(event, b"garbage"):
        return _noop(event)
    return "this is not a transformation response"


def extra(event, context):
    """"extra": answers one record more than it was given."""
    answer = _noop(event)
    if _triggered(event, b"extra"):
        answer["records"].append({"recordId": "not-given", "result": "Ok", "data": ""})
    return answer


def crash(event, context):
    """"crash": exits when it reaches the record, mid-batch."""
    for i, r in enumerate(event["records"]):
        if b"crash" in _data(r):
            print("crashing at record %d of %d" % (i + 1, len(event["records"])), flush=True)
            os._exit(3)
    return _noop(event)


def probe(event, context):
    """Each record is {"id": N, "probe": "read" | "write" | "connect",
    "target": path or host:port}: tries, and answers every record Ok with a
    report line, {"id", "probe", "target", "ok", "detail"}, detail being
    what it read or the error it got."""
    out = []
    for r in event["records"]:
        doc = json.loads(_data(r))
        kind, target = doc["probe"], doc["target"]
        try:
            if kind == "read":
                with open(target, "rb") as f:
                    detail = f.read(64).decode(errors="replace")
            elif kind == "write":
                with open(target, "w") as f:
                    f.write("escaped from the sandbox\n")
                detail = "wrote"
            elif kind == "connect":
                host, port = target.rsplit(":", 1)
                with socket.create_connection((host, int(port)), timeout=2):
                    detail = "connected"
            else:
                raise ValueError("unknown probe %s" % kind)
            ok = True
        except Exception as e:  # noqa: BLE001 - the report says what failed
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        report = {"detail": detail, "id": doc["id"], "ok": ok, "probe": kind, "runtime": "python", "target": target}
        data = json.dumps(report, sort_keys=True, separators=(",", ":")) + "\n"
        out.append({"recordId": r["recordId"], "result": "Ok", "data": base64.b64encode(data.encode()).decode()})
    return {"records": out}
