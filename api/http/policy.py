"""The recording policy over HTTP: admins change it, every version stays readable."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta

from api.http.context import Caller, provide
from api.http.guards import may
from api.http.schemas import Body, Id, RequiredReason, TagKey, TagValue, Text
from api.services.policy import PolicyVersion, RecordingPolicies
from domain.permissions import Action
from domain.recording_policy import DEFAULT_PLAYBACK_REASONS, MAX_PLAYBACK_REASONS, PolicyTerms, RetentionRule

Percent = Annotated[float, Meta(ge=0, le=100)]
Days = Annotated[int, Meta(ge=0, le=36_600)]


class RetentionRuleIn(Body, kw_only=True):
    """Matches recordings of `queue` and/or with tag `tag_key=tag_value`; neither: all recordings."""

    archive_after_days: Days | None = None
    purge_after_days: Days | None = None
    queue: Text | None = None
    tag_key: TagKey | None = None
    tag_value: TagValue | None = None


class PolicyIn(Body, kw_only=True):
    sampling_percent: Percent = 100.0
    sampling_by_queue: Annotated[dict[Text, Percent], Meta(max_length=1000)] = {}
    retention: Annotated[list[RetentionRuleIn], Meta(max_length=1000)] = []
    acw_timeout_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 120
    # Why someone may open the player (every viewing cites one), and whether agents may play their own calls.
    playback_reasons: Annotated[list[Id], Meta(min_length=1, max_length=MAX_PLAYBACK_REASONS)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_PLAYBACK_REASONS)
    )
    agents_play_own_calls: bool = False
    reason: RequiredReason

    def terms(self) -> PolicyTerms:
        return PolicyTerms(
            sampling_percent=self.sampling_percent,
            sampling_by_queue=dict(self.sampling_by_queue),
            retention=tuple(RetentionRule(**msgspec.structs.asdict(r)) for r in self.retention),
            acw_timeout_seconds=self.acw_timeout_seconds,
            playback_reasons=tuple(self.playback_reasons),
            agents_play_own_calls=self.agents_play_own_calls,
        )


class PolicyVersions(msgspec.Struct):
    current: int
    versions: list[PolicyVersion]


class RecordingPolicyRoutes(Controller):
    path = "/v1/policy"
    tags = ["policy"]
    dependencies = provide("policy")

    @get("/", guards=[may(Action.POLICY_READ)], sync_to_thread=True, summary="The recording policy in force")
    def current(self, principal: Caller, policy: NamedDependency[RecordingPolicies]) -> PolicyVersion:
        return policy.versions(principal)[-1]

    @get(
        "/versions",
        guards=[may(Action.POLICY_READ)],
        sync_to_thread=True,
        summary="Every policy version: when, by whom, why",
    )
    def versions(self, principal: Caller, policy: NamedDependency[RecordingPolicies]) -> PolicyVersions:
        versions = policy.versions(principal)
        return PolicyVersions(current=versions[-1].version, versions=versions)

    @put(
        "/",
        guards=[may(Action.POLICY_CHANGE)],
        sync_to_thread=True,
        summary="Change the policy (admin); the new version applies to new recordings",
    )
    def change(
        self, data: JSONBody[PolicyIn], principal: Caller, policy: NamedDependency[RecordingPolicies]
    ) -> PolicyVersion:
        return policy.change(principal, data.terms(), data.reason)
