"""Salesforce's REST error: an HTTP status and the `[{"message", "errorCode", "fields"?}]` body."""

from __future__ import annotations


class SfError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        item: dict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def save_error(self) -> dict:
        """The same error inside a SaveResult, where the key is `statusCode`."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def not_found() -> SfError:
    return SfError(404, "NOT_FOUND", "The requested resource does not exist")


def bad_json(message: str = "The request body is not valid JSON") -> SfError:
    return SfError(400, "JSON_PARSER_ERROR", message)


def invalid_input(message: str) -> SfError:
    return SfError(400, "INVALID_API_INPUT", message)


def required_missing(names: list[str]) -> SfError:
    return SfError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", names)


def invalid_field(message: str, fields: list[str] | None = None) -> SfError:
    return SfError(400, "INVALID_FIELD", message, fields)


CUSTOM_FIELD_HINT = ("If you are attempting to use a custom field, be sure to append the '__c' after the "
                     "custom field name. Please reference your WSDL or the describe call for the appropriate "
                     "names.")
CUSTOM_RELATIONSHIP_HINT = ("If you are attempting to use a custom relationship, be sure to append the '__r' "
                            "after the custom relationship name.")
