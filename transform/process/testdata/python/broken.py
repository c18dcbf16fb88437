# A module that cannot be imported.
import module_that_does_not_exist  # noqa: F401


def lambda_handler(event, context):
    return {"records": []}
