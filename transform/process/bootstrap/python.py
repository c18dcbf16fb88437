"""Hydrant's Python bootstrap: runs an unmodified AWS Lambda handler,
lambda_handler(event, context), as a worker of a process function.

It speaks the bootstrap protocol (SANDBOX.md) on file descriptors 3 (in)
and 4 (out); stdout and stderr both go to the function's log, so that
print() cannot corrupt an answer:

  in:  "<deadline ms, 0 for none> <request id> <n>\\n", n bytes of event, "\\n"
  out: "READY\\n" once the handler is loaded, then for each event
       "R <request id> <n>\\n", n bytes of answer JSON, "\\n", or
       "E <request id> <n>\\n", n bytes of {"errorMessage", "errorType"}, "\\n"

The event is parsed and the answer serialised once per event, by the C
json module; nothing is done per record.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback

NO_DEADLINE_MS = 900_000  # what a function without a timeout is told: Lambda's maximum


class LambdaContext:
    """The context object of Lambda's Python runtime, as handlers use it."""

    __slots__ = (
        "function_name", "function_version", "invoked_function_arn",
        "memory_limit_in_mb", "aws_request_id", "log_group_name",
        "log_stream_name", "identity", "client_context", "_deadline_ms",
    )

    def __init__(self, request_id, deadline_ms, region):
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = "arn:aws:lambda:%s:000000000000:function:%s" % (region, name)
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str, as in Lambda
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        if self._deadline_ms == 0:
            return NO_DEADLINE_MS
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _write(fd, parts):
    """Writes every byte of parts, a list of bytes, to fd."""
    while parts:
        n = os.writev(fd, parts)
        while parts and n >= len(parts[0]):
            n -= len(parts[0])
            parts.pop(0)
        if n:
            parts[0] = memoryview(parts[0])[n:]


def _send(kind, request_id, body):
    _write(4, [b"%s %s %d\n" % (kind, request_id, len(body)), body, b"\n"])


def _error(exc, error_type=None):
    return json.dumps({
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
    }).encode()


def _load_handler():
    spec = os.environ["_HANDLER"]
    module_name, _, function_name = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - any import failure is the function's
        traceback.print_exc()
        raise _LambdaError("Unable to import module '%s': %s" % (module_name, e), "Runtime.ImportModuleError")
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise _LambdaError("Handler '%s' missing on module '%s'" % (function_name, module_name), "Runtime.HandlerNotFound")
    return handler


class _LambdaError(Exception):
    def __init__(self, message, error_type):
        super().__init__(message)
        self.error_type = error_type


def main():
    # The protocol's descriptors stay with this process: a program the
    # handler executes does not get them.
    os.set_inheritable(3, False)
    os.set_inheritable(4, False)
    # print() goes to fd 1, the log; line-buffered so that lines show up
    # as they are written.
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(stream=sys.stderr, format="[%(levelname)s] %(name)s: %(message)s")
    try:
        handler = _load_handler()
    except _LambdaError as e:
        _send(b"E", b"init", _error(e, e.error_type))
        return 1
    _write(4, [b"READY\n"])

    stream = os.fdopen(3, "rb", buffering=1 << 16)
    readline, read = stream.readline, stream.read
    loads, dumps = json.loads, json.JSONEncoder(separators=(",", ":")).encode
    while True:
        header = readline()
        if not header:
            return 0
        deadline, request_id, n = header.split()
        n = int(n)
        body = read(n + 1)
        if len(body) != n + 1:
            return 0
        try:
            event = loads(body)
            region = event.get("region", "") if isinstance(event, dict) else ""
            context = LambdaContext(request_id.decode(), int(deadline), region)
            result = handler(event, context)
            try:
                answer = dumps(result).encode()
            except (TypeError, ValueError) as e:
                raise _LambdaError("Unable to marshal response: %s" % e, "Runtime.MarshalError") from e
            kind = b"R"
        except _LambdaError as e:
            answer, kind = _error(e, e.error_type), b"E"
        except Exception as e:  # noqa: BLE001 - the handler's error is the invocation's
            traceback.print_exc()
            answer, kind = _error(e), b"E"
        _send(kind, request_id, answer)


if __name__ == "__main__":
    sys.exit(main())
