"""The one error type of the sandbox and its wire shape.

The REST error body of the real server is not documented; GOPG assumes
`{error, errorMessage, error_description}`, so the sandbox answers with exactly that.
"""

from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        description: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.description = description or message
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "errorMessage": self.message, "error_description": self.description}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(error: str, message: str, description: str | None = None) -> ApiError:
    return ApiError(400, error, message, description)


def not_found(kind: str, crm_id: str) -> ApiError:
    return ApiError(404, "not_found", f"No {kind} with id '{crm_id}' exists.")


def unauthorized(message: str, description: str | None = None) -> ApiError:
    # ASP.NET's JwtBearer handler always adds the challenge header.
    challenge = 'Bearer error="invalid_token"' if description else "Bearer"
    return ApiError(401, "unauthorized", message, description, {"WWW-Authenticate": challenge})
