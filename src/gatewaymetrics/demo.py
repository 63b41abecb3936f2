"""The demo: realistic LiteLLM traffic (``mock_response``, no network) through the
adapter into the configured backends, then a summary (and, with ``--serve``, ``/metrics``).

Teams, keys, users and budgets look like a LiteLLM proxy's: every call carries the
metadata a proxy passes (``core.litellm_fields.proxy_metadata``). The mix: plain
chats, streams, embeddings, rate-limited failures and router fallbacks, with
latencies drawn from a seeded generator so two runs make the same numbers.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal

from gatewaymetrics.adapters.litellm_driver import MockCall
from gatewaymetrics.core.litellm_fields import proxy_metadata

__all__ = ["TEAMS", "demo_calls"]

#: team id, alias, budget (USD), its keys (raw key, alias, key budget), its users
TEAMS: tuple[tuple[str, str, float, tuple[tuple[str, str, float], ...], tuple[str, ...]], ...] = (
    ("team-search", "search", 50.0,
     (("sk-demo-search-prod", "search-prod", 10.0), ("sk-demo-search-batch", "search-batch", 5.0)),
     ("alice", "bob")),
    ("team-support", "support", 20.0,
     (("sk-demo-support-bot", "support-bot", 10.0),), ("carol",)),
    ("team-research", "research", 0.05,
     (("sk-demo-research", "research-notebooks", 0.02),), ("dave", "erin")),
)  # fmt: skip
_MODELS = (("gpt-4o-mini", 6), ("gpt-4o", 3), ("anthropic/claude-sonnet-4-5-20250929", 2))
_KINDS = (("chat", 60), ("stream", 20), ("embedding", 8), ("fallback", 6), ("failure", 6))
_RESET_AT = "2026-12-01T00:00:00+00:00"


def demo_calls(count: int, seed: int = 7) -> list[MockCall]:
    """``count`` calls across the teams, keys, users and models above."""
    rnd = random.Random(seed)
    spend: dict[str, Decimal] = {}
    calls = []
    for _ in range(count):
        team, team_alias, team_budget, keys, users = rnd.choice(TEAMS)
        raw_key, key_alias, key_budget = rnd.choice(keys)
        user = rnd.choice(users)
        kind = rnd.choices([k for k, _ in _KINDS], [w for _, w in _KINDS])[0]
        model = rnd.choices([m for m, _ in _MODELS], [w for _, w in _MODELS])[0]
        # Spend as the proxy would have read it at auth time: it grows with traffic.
        for subject in (raw_key, team, user):
            spend[subject] = spend.get(subject, Decimal(0)) + Decimal("0.0005")
        metadata = proxy_metadata({
            "api_key": hashlib.sha256(raw_key.encode()).hexdigest(),
            "api_key_alias": key_alias,
            "team_id": team,
            "team_alias": team_alias,
            "user_id": user,
            "budget.api_key.spend": float(spend[raw_key]),
            "budget.api_key.limit": key_budget,
            "budget.api_key.reset_at": _RESET_AT,
            "budget.team.spend": float(spend[team]),
            "budget.team.limit": team_budget,
            "budget.user.spend": float(spend[user]),
            "budget.user.limit": None,
        })  # fmt: skip
        calls.append(
            MockCall(
                kind={"failure": "chat"}.get(kind, kind),
                model="text-embedding-3-small" if kind == "embedding" else model,
                metadata=metadata,
                fail=kind == "failure",
                delay_s=round(rnd.lognormvariate(-2.0, 0.6), 3),
            )
        )
    return calls
