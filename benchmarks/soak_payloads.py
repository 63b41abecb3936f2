"""The soak's payloads (benchmarks/soak.py): unique callers, and hostile ones.

:class:`Template` is the captured LiteLLM 1.110.2 proxy-style success event
(examples/litellm_payloads.jsonl), as LiteLLM passes it in-process (datetimes, a
``ModelResponse``); :meth:`Template.event` gives event ``i``, a caller of its own.
:data:`HOSTILE` and :data:`HEAVY` name what an attacker plants, and :class:`Plan` says
which event gets what.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).resolve().parent.parent / "examples" / "litellm_payloads.jsonl"
TEAMS = 8
HOSTILE_EVERY = 50
FAILURE_EVERY = 20
#: Substrings of every planted secret; none may appear anywhere (case-insensitive).
SECRET = "QWERTY1234567890abcdef"
PLANTED = (SECRET.lower(), "sk-proj-", "sk-guess-")
BIG = 10_000_000  # characters of a heavy label value


@dataclass
class Event:
    """One hook call: its arguments, which hook, and what kind of payload it is."""

    kwargs: Any
    response: Any
    start: Any
    end: Any
    failed: bool
    kind: str


class Template:
    """The captured LiteLLM 1.110.2 proxy-style success event (examples/), as LiteLLM
    passes it in-process (datetimes, a ``ModelResponse``), copied fresh per event at
    the levels an event changes."""

    def __init__(self) -> None:
        lines = [json.loads(line) for line in PAYLOADS.read_text(encoding="utf-8").splitlines()]
        payload = next(p for p in lines if p["scenario"] == "proxy_metadata")
        self.kwargs: dict[str, Any] = payload["kwargs"]
        for name in ("api_call_start_time", "completion_start_time"):
            self.kwargs[name] = dt.datetime.fromisoformat(self.kwargs[name])
        self.slo: dict[str, Any] = self.kwargs["standard_logging_object"]
        self.meta: dict[str, Any] = self.slo["metadata"]
        self.hidden: dict[str, Any] = self.slo["hidden_params"]
        self.params: dict[str, Any] = self.kwargs["litellm_params"]
        self.legacy: dict[str, Any] = self.params["metadata"]
        self.start = dt.datetime.fromisoformat(payload["start_time"])
        self.response: Any = payload["response_obj"]
        with contextlib.suppress(ImportError):
            from litellm import ModelResponse

            self.response = ModelResponse(**payload["response_obj"])
        self.base_time = float(self.slo["startTime"])

    def event(self, i: int) -> Event:
        """Event ``i`` of the soak, before any hostile change: a caller of its own."""
        kw, slo = dict(self.kwargs), dict(self.slo)
        meta, hidden = dict(self.meta), dict(self.hidden)
        params, legacy = dict(self.params), dict(self.legacy)
        kw["standard_logging_object"], kw["litellm_params"] = slo, params
        slo["metadata"], slo["hidden_params"], params["metadata"] = meta, hidden, legacy
        call_id = f"soak-{i}"
        slo["litellm_call_id"] = kw["litellm_call_id"] = slo["id"] = call_id
        key = hashlib.sha256(f"sk-soak-{i}".encode()).hexdigest()
        team = i % TEAMS
        values = {
            "user_api_key_hash": key, "user_api_key": key, "user_api_key_alias": f"key-{i}",
            "user_api_key_user_id": f"user-{i}", "user_api_key_end_user_id": f"end-user-{i}",
            "user_api_key_user_email": f"user-{i}@example.com",
            "user_api_key_team_id": f"team-{team}", "user_api_key_team_alias": f"Team {team}",
            "user_api_key_team_spend": 1.0 + i * 1e-4, "user_api_key_team_max_budget": 1e6,
            "user_api_key_spend": 0.5, "user_api_key_max_budget": 10.0,
            "user_api_key_user_spend": 0.25, "user_api_key_user_max_budget": 5.0,
        }  # fmt: skip
        meta.update(values)
        legacy.update(values)
        del meta["user_api_key"]  # the proxy puts the key in the legacy metadata only
        meta["requester_metadata"] = {"app": f"app-{i % 4}"}
        slo["end_user"] = f"end-user-{i}"
        slo["prompt_tokens"], slo["completion_tokens"] = 10 + i % 13, 20 + i % 17
        slo["total_tokens"] = slo["prompt_tokens"] + slo["completion_tokens"]
        slo["response_cost"] = kw["response_cost"] = 1.35e-05 * (1 + i % 7)
        started = self.base_time + i * 1e-3
        ended = started + 0.2 + (i % 10) * 0.3
        slo["startTime"], slo["endTime"], slo["completionStartTime"] = started, ended, ended
        start = self.start + dt.timedelta(seconds=i * 1e-3)
        end = start + dt.timedelta(seconds=ended - started)
        kw["api_call_start_time"] = start + dt.timedelta(seconds=0.01)
        kw["completion_start_time"] = end
        event = Event(kw, self.response, start, end, failed=False, kind="success")
        if i % FAILURE_EVERY == FAILURE_EVERY - 1:
            _fail(event, 429, "RateLimitError")
            event.kind = "rate limited (429)"
        return event


def _fail(event: Event, status: int, error_class: str) -> None:
    """Make ``event`` a failure with this status, as LiteLLM logs one."""
    kw = event.kwargs
    slo = kw["standard_logging_object"]
    kw["exception"] = {"status_code": status, "type": error_class}
    slo["status"] = "failure"
    slo["error_information"] = {"error_class": error_class, "error_code": str(status),
                                "llm_provider": "openai"}  # fmt: skip
    slo["prompt_tokens"] = slo["completion_tokens"] = slo["total_tokens"] = 0
    slo["response_cost"] = kw["response_cost"] = 0
    slo["completionStartTime"] = None
    kw["completion_start_time"] = None
    event.response = None
    event.failed = True


def _metas(event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    kw = event.kwargs
    return kw["standard_logging_object"]["metadata"], kw["litellm_params"]["metadata"]


def _set_meta(event: Event, **values: Any) -> None:
    for meta in _metas(event):
        meta.update(values)


def _slo(event: Event) -> dict[str, Any]:
    slo: dict[str, Any] = event.kwargs["standard_logging_object"]
    return slo


def _cost(value: object) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        _slo(event)["response_cost"] = event.kwargs["response_cost"] = value

    return plant


def _budget(spend: object, limit: object) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        _set_meta(event, user_api_key_team_spend=spend, user_api_key_team_max_budget=limit,
                  user_api_key_spend=spend, user_api_key_max_budget=limit)  # fmt: skip

    return plant


def _tokens(value: object) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        slo = _slo(event)
        slo["prompt_tokens"] = slo["completion_tokens"] = slo["total_tokens"] = value

    return plant


class Odd(str):
    """A str subclass (LiteLLM's own enums and pydantic types are such)."""


class Model(str, enum.Enum):  # noqa: UP042  # LiteLLM's enums are (str, Enum): str() differs
    """A str-Enum member where a model name belongs."""

    GPT = "gpt-4o-mini"


class BadTime(dt.datetime):
    """A datetime whose ``timestamp()`` raises."""

    def timestamp(self) -> float:
        raise OverflowError("timestamp out of range")


def _odd_strings(event: Event) -> None:
    slo = _slo(event)
    for name in ("model", "model_group", "custom_llm_provider", "call_type", "api_base"):
        slo[name] = Odd(slo[name])
    event.kwargs["model"] = Odd(event.kwargs["model"])
    _set_meta(event, user_api_key_user_id=Odd("odd-user"), user_api_key_team_id=Odd("odd-team"),
              user_api_key_alias=Odd("odd-alias"))  # fmt: skip


def _str_enum(event: Event) -> None:
    _slo(event)["model"] = event.kwargs["model"] = Model.GPT
    _slo(event)["model_group"] = Model.GPT


def _bad_times(event: Event) -> None:
    moment = BadTime(2026, 11, 27, 6, 55, 41)
    slo = _slo(event)
    slo["startTime"] = slo["endTime"] = slo["completionStartTime"] = moment
    event.kwargs["api_call_start_time"] = event.kwargs["completion_start_time"] = moment
    event.start = event.end = moment


def _api_base(url: str) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        _slo(event)["hidden_params"]["api_base"] = url
        _slo(event)["api_base"] = url
        event.kwargs["litellm_params"]["api_base"] = url

    return plant


def _secrets_elsewhere(event: Event) -> None:
    _slo(event)["hidden_params"]["additional_headers"] = {
        "authorization": f"Bearer sk-proj-{SECRET}",
        "x-ratelimit-remaining-requests": f"sk-proj-{SECRET}",
    }
    _set_meta(event, spend_logs_metadata={"token": f"sk-proj-{SECRET}"},
              user_api_key_auth_metadata={"api_key": f"sk-proj-{SECRET}"},
              requester_custom_headers={"x-api-key": f"sk-proj-{SECRET}"})  # fmt: skip


def _raw_key(event: Event) -> None:
    _set_meta(event, user_api_key_hash=f"sk-proj-{SECRET}", user_api_key=f"Bearer sk-proj-{SECRET}")


def _invalid_key(status: int) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        _fail(event, status, "AuthenticationError" if status == 401 else "BadRequestError")
        guess = f"sk-guess-{_slo(event)['litellm_call_id']}"
        for meta in _metas(event):
            for name in list(meta):
                if name.startswith("user_api_key"):
                    meta[name] = None
            meta["user_api_key_hash"] = meta["user_api_key"] = guess

    return plant


def _control_characters(event: Event) -> None:
    _slo(event)["model"] = event.kwargs["model"] = "gpt\n4o:1|c|#evil:1"
    _set_meta(event, user_api_key_team_alias="a\x00b\u2028c\r\n", user_api_key_alias="x,y;z=w")


def _wrong_types(event: Event) -> None:
    slo = _slo(event)
    slo["metadata"] = "not a mapping"
    slo["hidden_params"] = ["not", "a", "mapping"]
    event.kwargs["litellm_params"] = None
    slo["prompt_tokens"], slo["completion_tokens"] = -5, True
    slo["response_cost"] = event.kwargs["response_cost"] = True
    slo["startTime"] = float("nan")


def _huge_value(*names: str) -> Callable[[Event], None]:
    def plant(event: Event) -> None:
        value = "v" * BIG
        for name in names:
            if name == "app":
                _metas(event)[0]["requester_metadata"] = {"app": value}
            elif name == "model":
                _slo(event)["model"] = event.kwargs["model"] = value
            else:
                _set_meta(event, **{name: value})

    return plant


#: Hostile payloads, in turn, one event in HOSTILE_EVERY: name -> how to plant it.
HOSTILE: tuple[tuple[str, Callable[[Event], None]], ...] = (
    ("cost 1e308", _cost(1e308)),
    ("cost NaN", _cost(float("nan"))),
    ("cost inf", _cost(float("inf"))),
    ("cost '1e400'", _cost("1e400")),
    ("cost -1e308", _cost(-1e308)),
    ("spend and limit 1e308", _budget(1e308, 1e308)),
    ("spend and limit '1e400'", _budget("1e400", "1e400")),
    ("spend NaN, limit inf", _budget(float("nan"), float("inf"))),
    ("tokens 10**400", _tokens(10**400)),
    ("tokens of 4400 digits", _tokens(10**4400)),
    ("tokens '²'", _tokens("²")),
    ("str subclasses", _odd_strings),
    ("str-Enum model", _str_enum),
    ("timestamp() raises", _bad_times),
    ("api_base \\@secret", _api_base(f"https://api.example.com\\@sk-proj-{SECRET}/v1")),
    ("api_base userinfo secret", _api_base(f"https://user:sk-proj-{SECRET}@api.example.com/v1")),
    ("api_base query secret", _api_base(f"https://api.example.com/v1?key=sk-proj-{SECRET}")),
    ("secrets in headers and metadata", _secrets_elsewhere),
    ("raw key as the key hash", _raw_key),
    ("invalid key, 401", _invalid_key(401)),
    ("invalid key, 400", _invalid_key(400)),
    ("control characters", _control_characters),
    ("wrong types", _wrong_types),
)

#: Costly hostile payloads, spread over the run (``--heavy`` of them).
HEAVY: tuple[tuple[str, Callable[[Event], None]], ...] = (
    ("cost '1e1000000000'", _cost("1e1000000000")),
    ("10 MB custom label", _huge_value("app")),
    ("10 MB team alias", _huge_value("user_api_key_team_alias")),
    ("10 MB model", _huge_value("model")),
)


class Plan:
    """Which event is which: normal, hostile (one in HOSTILE_EVERY) or heavy."""

    def __init__(self, template: Template, events: int, heavy: int) -> None:
        self.template = template
        self.heavy = {(k + 1) * events // (heavy + 1): HEAVY[k % len(HEAVY)] for k in range(heavy)}

    def event(self, i: int) -> Event:
        event = self.template.event(i)
        planted = self.heavy.get(i)
        if planted is None and i % HOSTILE_EVERY == HOSTILE_EVERY - 1:
            planted = HOSTILE[(i // HOSTILE_EVERY) % len(HOSTILE)]
        if planted is not None:
            name, plant = planted
            # A team of its own: hostile spends never touch the shared teams' budgets.
            _set_meta(event, user_api_key_team_id=f"hostile-team-{i}")
            plant(event)
            event.kind = name
        return event
