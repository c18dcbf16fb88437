# A Firehose transformation as Lambda runs it, unmodified. Each record is a
# JSON object {"id": N, "name": "...", "action": "keep" | "drop" | "fail"}:
# kept records are rewritten to compact JSON with sorted keys and a newline,
# the name upper-cased and the function's name added from the context.
import base64
import json


def lambda_handler(event, context):
    output = []
    for record in event["records"]:
        doc = json.loads(base64.b64decode(record["data"]))
        action = doc.get("action")
        if action == "drop":
            output.append({"recordId": record["recordId"], "result": "Dropped"})
            continue
        if action == "fail":
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        out = {"by": context.function_name, "id": doc["id"], "name": doc["name"].upper(), "runtime": "python"}
        data = json.dumps(out, sort_keys=True, separators=(",", ":")) + "\n"
        output.append({
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode(data.encode("utf-8")).decode("utf-8"),
        })
    print("Successfully processed {} records.".format(len(event["records"])))
    return {"records": output}
