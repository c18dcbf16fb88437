# The rewrite of BenchmarkRuntimes (runtimes_bench_test.go), as
# examples/rewrite does it: upper-cases the string field "name", renames
# "msg" to "message", adds "transformed": true, re-serialises the record
# newline-terminated and partitions it by its string "customer_id". A
# record that is not a JSON object fails with ProcessingFailed, unchanged.
import base64
import json

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def lambda_handler(event, context):
    out = []
    for r in event["records"]:
        try:
            doc = json.loads(base64.b64decode(r["data"]))
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
            continue
        name = doc.get("name")
        if isinstance(name, str):
            doc["name"] = name.upper()
        if "msg" in doc:
            doc["message"] = doc.pop("msg")
        doc["transformed"] = True
        result = {
            "recordId": r["recordId"],
            "result": "Ok",
            "data": base64.b64encode(_dumps(doc).encode() + b"\n").decode(),
        }
        customer = doc.get("customer_id")
        if isinstance(customer, str) and customer:
            result["metadata"] = {"partitionKeys": {"customer": customer}}
        out.append(result)
    return {"records": out}
