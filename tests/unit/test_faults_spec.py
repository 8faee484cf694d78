"""The fault-injection spec and plan (pure: no client, no network)."""

from __future__ import annotations

import pytest

from imgpipe.config import Config, use_config
from imgpipe_tools.testing.faults import (
    CALL_KINDS,
    HTTP_KINDS,
    FaultPlan,
    FaultRule,
    FaultSpecError,
    parse_spec,
    plan_from_env,
)


def test_parse_spec_reads_targets_probabilities_and_kinds() -> None:
    rules = parse_spec("s3.get_object:0.3, events.put_events:0.25 ,sns.*:0.2:throttle,*:0.1:internal/timeout")
    assert rules == [
        FaultRule("s3", "get_object", 0.3),
        FaultRule("events", "put_events", 0.25),
        FaultRule("sns", "*", 0.2, ("throttle",)),
        FaultRule("*", "*", 0.1, ("internal", "timeout")),
    ]


@pytest.mark.parametrize("bad", ["s3.get_object", "s3.get_object:lots", "s3.get_object:1.5", "s3.get:0.1:explode"])
def test_parse_spec_rejects_nonsense_with_the_entry_named(bad: str) -> None:
    with pytest.raises(FaultSpecError, match=r"s3\.get"):
        parse_spec(bad)


def test_most_specific_rule_wins() -> None:
    plan = FaultPlan(parse_spec("*:0.9,s3.*:0.5,s3.get_object:0.1"))
    assert plan.rule_for("s3", "get_object").probability == 0.1  # type: ignore[union-attr]
    assert plan.rule_for("s3", "put_object").probability == 0.5  # type: ignore[union-attr]
    assert plan.rule_for("sns", "publish").probability == 0.9  # type: ignore[union-attr]
    assert FaultPlan(parse_spec("s3.get_object:1")).rule_for("sns", "publish") is None


def test_plan_from_env_is_off_without_the_variable() -> None:
    assert plan_from_env({}) is None
    assert plan_from_env({"IMGPIPE_FAULTS": "  "}) is None
    plan = plan_from_env(
        {"IMGPIPE_FAULTS": "s3.*:0.3", "IMGPIPE_FAULTS_SEED": "7", "IMGPIPE_FAULTS_ONLY": "resize, notify"}
    )
    assert plan is not None
    assert plan.seed == 7
    assert plan.only == {"resize", "notify"}


def _draws(plan: FaultPlan, n: int) -> list[str | None]:
    return [plan.draw("s3", "get_object", HTTP_KINDS) for _ in range(n)]


def test_a_seed_makes_the_draws_reproducible_and_the_rate_is_the_one_asked() -> None:
    spec = "s3.get_object:0.3:slowdown/internal/timeout"
    first, second = FaultPlan(parse_spec(spec), seed=3), FaultPlan(parse_spec(spec), seed=3)
    assert _draws(first, 2000) == _draws(second, 2000)
    assert first.injected == second.injected
    assert 0.26 < first.total / 2000 < 0.34
    assert set(k for _, k in first.injected) == {"slowdown", "internal", "timeout"}


def test_probability_is_shared_between_http_and_per_call_kinds() -> None:
    # get_object's defaults: three HTTP kinds and body_timeout; together they make p, not 2p.
    plan = FaultPlan(parse_spec("s3.get_object:0.4"), seed=1)
    n = 4000
    for _ in range(n):
        plan.draw("s3", "get_object", CALL_KINDS)
        plan.draw("s3", "get_object", HTTP_KINDS)
    assert 0.36 < plan.total / n < 0.44


def test_disabled_plan_and_out_of_scope_calls_get_no_fault() -> None:
    # One explicit HTTP-stage kind: with the defaults, get_object's probability is shared with the
    # body-stall kind (another stage), so a single draw would fire only 3 times in 4.
    plan = FaultPlan(parse_spec("s3.*:1:slowdown"), only=frozenset({"resize"}))
    assert plan.draw("s3", "get_object", HTTP_KINDS) is None  # no processor: the stack's own calls
    with use_config(Config(processor="thumbnail")):
        assert plan.draw("s3", "get_object", HTTP_KINDS) is None
    with use_config(Config(processor="resize")):
        assert plan.draw("s3", "get_object", HTTP_KINDS) is not None
        plan.enabled = False
        assert plan.draw("s3", "get_object", HTTP_KINDS) is None


def test_partial_failure_drops_at_least_one_entry_and_never_all_of_a_big_batch() -> None:
    plan = FaultPlan([], seed=5)
    for n in range(1, 11):
        for _ in range(50):
            failed = plan.choose_failed(n)
            assert 1 <= len(failed) <= max(1, n // 2)
            assert failed == sorted(set(failed))
            assert all(0 <= i < n for i in failed)
