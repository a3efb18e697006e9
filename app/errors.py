"""Errors that services raise; the web and API edges turn them into 4xx answers."""
from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    """Input broke a rule; `errors` maps each offending field to its messages."""

    status_code = 422

    def __init__(self, errors: dict[str, list[str]] | None = None, message: str | None = None):
        self.errors = {field: list(msgs) for field, msgs in (errors or {}).items()}
        super().__init__(message or "; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))

    @classmethod
    def one(cls, field: str, message: str) -> "ValidationFailed":
        return cls({field: [message]})


class NotFound(ServiceError):
    status_code = 404


class PermissionDenied(ServiceError):
    status_code = 403


class Gone(ServiceError):
    """What was asked for existed but is no longer available (an expired link, a refunded purchase)."""

    status_code = 410


class Conflict(ServiceError):
    """The request is well-formed but clashes with the current state (a workflow step out of order)."""

    status_code = 409


class Errors:
    """Collects field errors so one answer can name every bad field at once."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
