# A no-op Firehose transformation: every record passes unchanged.
def lambda_handler(event, context):
    return {
        "records": [
            {"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
            for r in event["records"]
        ]
    }
