# A Firehose transformation as Lambda's blueprints write it: decodes each
# record's JSON, rewrites it, drops or fails some, sets partition keys.
import base64
import json


def lambda_handler(event, context):
    output = []
    for record in event["records"]:
        doc = json.loads(base64.b64decode(record["data"]))
        if doc.get("drop"):
            output.append({"recordId": record["recordId"], "result": "Dropped"})
            continue
        if "bad" in doc:
            output.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        doc["function"] = context.function_name
        doc["request"] = context.aws_request_id
        doc["remaining"] = context.get_remaining_time_in_millis()
        doc["memory"] = context.memory_limit_in_mb
        doc["arn"] = context.invoked_function_arn
        output.append({
            "recordId": record["recordId"],
            "result": "Ok",
            "data": base64.b64encode(json.dumps(doc).encode("utf-8")).decode("utf-8"),
            "metadata": {"partitionKeys": {"customer": str(doc.get("customer", "none"))}},
        })
    print("Successfully processed {} records.".format(len(event["records"])))
    return {"records": output}
