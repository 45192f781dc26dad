"""Request keys are case-insensitive, as on the real (ASP.NET) server.

The vendor SDK sends PascalCase, other clients camelCase; both end up camelCase here.
"""

from typing import Any


def camel(key: str) -> str:
    """`CustomerNumber` -> `customerNumber`, `ID` -> `id`, `crmId` unchanged."""
    if key.isupper():
        return key.lower()
    return key[:1].lower() + key[1:]


def camel_keys(value: Any) -> Any:
    """Recursively rename the keys of every JSON object in `value` to camelCase."""
    if isinstance(value, dict):
        return {camel(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value
