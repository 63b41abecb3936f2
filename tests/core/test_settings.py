from __future__ import annotations

from typing import Any

import pytest

from gatewaymetrics import GatewayMetricsError, LabelSettings, Settings
from gatewaymetrics.core.catalog import DURATION_BUCKETS, build_catalog


def test_defaults_need_no_configuration() -> None:
    settings = Settings()
    assert settings.prefix == "llm_"
    assert settings.series_cap == 10_000
    assert settings.duration_buckets is None  # the naming's: native 0.01 doubling
    assert build_catalog()["request_duration"].buckets == DURATION_BUCKETS
    assert settings.labels.call_labels == (
        "provider", "requested_model", "model", "operation", "team", "team_alias",
        "api_key", "api_key_alias", "user",
    )  # fmt: skip


def test_mappings_and_lists_are_frozen_into_tuples() -> None:
    labels = LabelSettings(
        opt_in=["end_user"],  # type: ignore[arg-type]
        custom={"app": "requester_metadata.app"},  # type: ignore[arg-type]
        exclude={"requests": ["error_type"]},  # type: ignore[arg-type]
    )
    assert labels.opt_in == ("end_user",)
    assert labels.custom == (("app", "requester_metadata.app"),)
    assert labels.exclude == (("requests", ("error_type",)),)
    assert Settings(duration_buckets=[1, 2.5]).duration_buckets == (1.0, 2.5)  # type: ignore[arg-type]


def test_drop_api_key_removes_the_label() -> None:
    assert "api_key" not in LabelSettings(api_key="drop").call_labels


LABEL_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"identity": ("model", "colour")}, "labels.identity", "api_base, api_key, api_key_alias"),
    ({"identity": ("model", "model")}, "labels.identity", "each label once"),
    ({"opt_in": ("end_users",)}, "labels.opt_in", "end_user"),
    ({"custom": {"model": "x"}}, "labels.custom", "not one of the built-in labels"),
    ({"custom": {"bad-name": "x"}}, "labels.custom", "[a-zA-Z_]"),
    ({"custom": {"__x": "x"}}, "labels.custom", "not starting with __"),
    ({"custom": {"app": "a..b"}}, "labels.custom.app", "dotted path"),
    ({"custom": {"app": "headers.authorization"}}, "labels.custom.app", "cannot hold credentials"),
    ({"custom": {"k": "user_api_key"}}, "labels.custom.k", "cannot hold credentials"),
    ({"api_key": "plain"}, "labels.api_key", "alias, drop, fingerprint"),
    ({"max_value_length": 0}, "labels.max_value_length", "1 to 4096"),
    ({"max_value_length": True}, "labels.max_value_length", "1 to 4096"),
]


@pytest.mark.parametrize(("fields", "key", "allowed"), LABEL_ERRORS)
def test_label_settings_errors_name_the_key(fields: dict[str, Any], key: str, allowed: str) -> None:
    with pytest.raises(GatewayMetricsError) as info:
        LabelSettings(**fields)
    assert info.value.key == key
    assert allowed in info.value.allowed
    assert str(info.value).startswith(f"invalid {key}: ")


SETTINGS_ERRORS: list[tuple[dict[str, Any], str, str]] = [
    ({"series_cap": 0}, "series_cap", "an int >= 1"),
    ({"series_cap": 1.5}, "series_cap", "an int >= 1"),
    ({"prefix": "a b"}, "prefix", "metric name prefix"),
    ({"naming": "litellm2"}, "naming", "native"),
    ({"duration_buckets": ()}, "duration_buckets", "strictly increasing"),
    ({"duration_buckets": (1.0, 1.0)}, "duration_buckets", "strictly increasing"),
    ({"duration_buckets": (0.0, 1.0)}, "duration_buckets", "positive"),
    ({"duration_buckets": (1.0, float("inf"))}, "duration_buckets", "finite"),
    ({"duration_buckets": ("1",)}, "duration_buckets", "numbers"),
    ({"labels": {"identity": ()}}, "labels", "a LabelSettings"),
    ({"labels": LabelSettings(include={"requestz": ["end_user"]})}, "labels.include", "requests"),
    ({"labels": LabelSettings(include={"budget_spend": ["end_user"]})},
     "labels.include.budget_spend", "carries call labels"),
    ({"labels": LabelSettings(include={"requests": ["nope"]})},
     "labels.include.requests", "end_user"),
    ({"labels": LabelSettings(exclude={"requests": ["end_user"]})}, "labels.exclude.requests",
     "error_type"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "key", "allowed"), SETTINGS_ERRORS)
def test_settings_errors_name_the_key(fields: dict[str, Any], key: str, allowed: str) -> None:
    with pytest.raises(GatewayMetricsError) as info:
        Settings(**fields)
    assert info.value.key == key
    assert allowed in info.value.allowed


def test_error_is_a_value_error_with_repr_of_the_value() -> None:
    with pytest.raises(ValueError, match=r"invalid series_cap: -1; allowed: an int >= 1"):
        Settings(series_cap=-1)
