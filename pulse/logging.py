"""structlog, configured once: JSON lines (or console lines in development) with the
request id, org id and task id bound through contextvars, and secrets redacted.

Third-party libraries log through the standard library; their records pass through
the same processors, so every line on stdout has one shape.
"""

from __future__ import annotations

import logging
import logging.config
import re
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|cookie|signature|webhook_url|"
    r"auth_token|credential|private",
    re.IGNORECASE,
)
# Values registered at run time (decrypted channel secrets): masked wherever they
# appear inside any logged string, e.g. a Slack URL quoted in an exception message.
_known_secrets: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str) -> None:
    if value and len(value) >= 6:
        with _known_lock:
            _known_secrets.add(value)


def scrub(text: str) -> str:
    if not _known_secrets:
        return text
    for secret in tuple(_known_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(key, str) and SECRET_KEY_PATTERN.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _redact_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in {"event", "timestamp", "level", "logger"}:
            if isinstance(event_dict[key], str):
                event_dict[key] = scrub(event_dict[key])
            continue
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def _scrub_rendered(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Exceptions are rendered to text late; scrub that text too.
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = scrub(event_dict["exception"])
    return event_dict


_configured = False


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": shared,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_rendered,
            renderer,
        ],
    }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"structured": formatter},
            "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "structured"}},
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                "django.db.backends": {"level": "INFO"},
                "daphne": {"level": "WARNING"},
                "celery.worker.strategy": {"level": "WARNING"},
                "celery.app.trace": {"level": "WARNING"},
                "twilio.http_client": {"level": "WARNING"},
            },
        }
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
