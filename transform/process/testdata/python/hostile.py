# Hostile handlers: each tries to escape or break its sandbox. Those that
# probe report, per record, Ok with what they got or ProcessingFailed
# with the error; the test says what must fail.
import base64
import json
import os
import socket
import subprocess
import sys
import time


def _noop(event):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]}


def hostile(handler):
    """Makes handler answer an event whose first record is "ping" with no
    harm done, so that a test can see its worker serve on."""
    def wrapped(event, context):
        records = event["records"]
        if records and _arg(records[0]) == "ping":
            return _noop(event)
        return handler(event, context)
    return wrapped


def _arg(record):
    return base64.b64decode(record["data"]).decode()


def _answer(event, probe):
    out = []
    for r in event["records"]:
        try:
            result, data = "Ok", str(probe(_arg(r)))
        except Exception as e:  # noqa: BLE001
            result, data = "ProcessingFailed", "%s: %s" % (type(e).__name__, e)
        out.append({"recordId": r["recordId"], "result": result,
                    "data": base64.b64encode(data.encode()).decode()})
    return {"records": out}


@hostile
def loop(event, context):
    # Children that would outlive the worker, then a busy loop.
    subprocess.Popen(["sleep", "1000"])
    if os.fork() == 0:
        while True:
            pass
    while True:
        pass


@hostile
def memory_bomb(event, context):
    hoard = []
    while True:
        hoard.append(b"x" * (16 << 20))


@hostile
def fork_bomb(event, context):
    me = os.getpid()
    forked = failed = 0
    deadline = time.time() + 1.0
    while time.time() < deadline:
        try:
            if os.fork() == 0:
                while True:  # a child holds its pid
                    time.sleep(10)
            forked += 1
        except OSError:
            failed += 1
    assert os.getpid() == me
    return {"records": [{"recordId": r["recordId"], "result": "ProcessingFailed",
                         "data": base64.b64encode(json.dumps({"forked": forked, "failed": failed}).encode()).decode()}
                        for r in event["records"]]}


def write_files(event, context):
    def write(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("written from the sandbox\n")
        return "wrote"
    return _answer(event, write)


def read_files(event, context):
    def read(path):
        with open(path, "rb") as f:
            return f.read(64).decode(errors="replace")
    return _answer(event, read)


def connect(event, context):
    def dial(address):
        host, port = address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=2):
            return "connected"
    return _answer(event, dial)


def inspect(event, context):
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            status[k] = v.strip()
    limits = {}
    with open("/proc/self/limits") as f:
        for line in f.readlines()[1:]:
            limits[line[:26].strip()] = line[26:47].strip()
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    unshare = {}
    for name, flag in (("user", 0x10000000), ("mount", 0x00020000), ("net", 0x40000000)):
        unshare[name] = "allowed" if libc.unshare(flag) == 0 else os.strerror(ctypes.get_errno())
    doc = {
        "unshare": unshare,
        "env": dict(os.environ),
        "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "hostname": socket.gethostname(), "cwd": os.getcwd(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "root": sorted(os.listdir("/")),
        "status": {k: status.get(k) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs")},
        "limits": limits,
        "stdout_is_log": os.path.samefile("/proc/self/fd/1", "/proc/self/fd/2"),
        "context": {"function_name": context.function_name, "aws_request_id": context.aws_request_id,
                    "memory_limit_in_mb": context.memory_limit_in_mb, "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
                    "arn": context.invoked_function_arn},
    }
    print("inspected", flush=True)
    data = base64.b64encode(json.dumps(doc).encode()).decode()
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": data} for r in event["records"]]}


@hostile
def raises(event, context):
    raise ValueError("bad input in record %s" % event["records"][0]["recordId"])


@hostile
def garbage(event, context):
    os.write(4, b"this is not an answer\n")
    return {"records": []}


@hostile
def too_many(event, context):
    out = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]
    out.append({"recordId": "not-given", "result": "Ok", "data": ""})
    return {"records": out}


@hostile
def crash(event, context):
    for i, r in enumerate(event["records"]):
        if i == len(event["records"]) // 2:
            sys.stdout.flush()
            os._exit(3)


@hostile
def huge(event, context):
    blob = "a" * ((64 << 20) + 1)
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": blob} for r in event["records"]]}


def not_json(event, context):
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": b"bytes are not JSON"} for r in event["records"]]}


def whoami(event, context):
    data = base64.b64encode(context.log_stream_name.encode()).decode()
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": data} for r in event["records"]]}


def chatty(event, context):
    for i in range(3000):
        print("line", i)
    print("x" * 5000)
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]}
