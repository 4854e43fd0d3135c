"""Interactions: building INTERACTION_CREATE payloads and tracking what the bot answered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .errors import StandInError
from .world import (
    EPHEMERAL,
    JSON,
    FakeChannel,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    walk_components,
)

T = TypeVar("T")

# Interaction types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Application command types (data.type): /commands, and commands on a user's profile.
CHAT_INPUT_COMMAND, USER_COMMAND = 1, 2
# Callback types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
ALLOWED_CALLBACKS = {
    PING: {PONG},
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
    },
}

SELECT_TYPES = (3, 5, 6, 7, 8)
OptionValue = Any


class ReplyHost(Protocol):
    def wait_until(
        self, check: Callable[[], T | None], timeout: float, describe: Callable[[], str]
    ) -> Awaitable[T]: ...


@dataclass(eq=False)
class InteractionReply:
    """One interaction sent to the bot, and everything the bot did with it.

    ``type`` is the callback type of the bot's first (accepted) response. ``original`` is the
    interaction's original response message (also for ephemeral responses, and for type 6/7 the
    message the component was on); ``message`` is the same, but only when it is visible in the
    channel. content/embeds/components/... read the current state of ``original`` (so they reflect
    later edits of @original), or the callback data when there is no message (modals, autocomplete).
    """

    interaction_id: int
    token: str
    interaction_type: int
    user: FakeUser
    channel: FakeChannel | None
    payload: JSON
    host: ReplyHost
    created_at: float
    deadline: float
    source_message: FakeMessage | None = None
    type: int | None = None
    callback: JSON | None = None
    choices: list[JSON] | None = None
    modal: JSON | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    deferred: bool = False
    history: list[str] = field(default_factory=list)
    modal_submitted: bool = False
    edits_at_ack: int = 0
    _followups_seen: int = 0
    _edits_seen: int = 0
    _stage: int = 0  # 0 sent, 1 acknowledged, 2 answered
    _staged: asyncio.Event = field(default_factory=asyncio.Event)  # set when _stage rises

    def __repr__(self) -> str:
        return (
            f"<InteractionReply id={self.interaction_id} type={self.type} "
            f"content={self.content!r} ephemeral={self.ephemeral}>"
        )

    # -- what the user sees --------------------------------------------------------------------

    @property
    def message(self) -> FakeMessage | None:
        if self.original is not None and not self.original.ephemeral:
            return self.original
        return None

    @property
    def _data(self) -> JSON:
        data = (self.callback or {}).get("data")
        return data if isinstance(data, dict) else {}

    @property
    def flags(self) -> int:
        if self.original is not None:
            return self.original.flags
        return int(self._data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def content(self) -> str:
        if self.original is not None:
            return self.original.content
        return str(self._data.get("content") or "")

    @property
    def embeds(self) -> list[JSON]:
        if self.original is not None:
            return self.original.embeds
        return list(self._data.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        if self.original is not None:
            return self.original.components
        return list(self._data.get("components") or [])

    @property
    def allowed_mentions(self) -> JSON | None:
        if self.original is not None:
            return self.original.allowed_mentions
        return self._data.get("allowed_mentions")

    @property
    def attachments(self) -> list[tuple[str, bytes]]:
        return self.original.attachments if self.original is not None else []

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def acknowledged(self) -> bool:
        return self.type is not None

    @property
    def answered(self) -> bool:
        """A final answer: callback 1/4/7/8/9, or a deferral followed by an edit or a follow-up."""
        if self.type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE):
            original = self.original
            edited = original is not None and (
                original.deleted or len(original.edits) > self.edits_at_ack
            )
            return edited or bool(self.followups)
        return self.type is not None

    def describe(self) -> str:
        lines = "\n".join(f"  - {line}" for line in self.history) or "  (nothing)"
        head = f"interaction {self.interaction_id} (type {self.interaction_type})"
        return f"{head}; the bot did:\n{lines}"

    def settle(self) -> bool:
        """Called on every change: fixes what "later" means for ``wait_for_edit``.

        Returns True once the interaction is answered (nothing left to settle).
        """
        stage = 2 if self.answered else 1 if self.acknowledged else 0
        if stage > self._stage:
            self._stage = stage
            self._edits_seen = len(self.original.edits) if self.original is not None else 0
            self._staged.set()
            self._staged = asyncio.Event()
        return stage == 2

    def stage_changed(self) -> asyncio.Event:
        """Set once this interaction is acknowledged or answered (whichever comes next):
        what waiting for the bot's answer waits on, rather than every change anywhere."""
        return self._staged

    async def wait_for_followup(self, timeout: float = 5.0) -> FakeMessage:  # noqa: ASYNC109
        """The next follow-up not returned by an earlier call (it may already have arrived)."""

        def check() -> FakeMessage | None:
            if len(self.followups) > self._followups_seen:
                self._followups_seen += 1
                return self.followups[self._followups_seen - 1]
            return None

        return await self.host.wait_until(
            check, timeout, lambda: "no follow-up; " + self.describe()
        )

    async def wait_for_edit(self, timeout: float = 5.0) -> FakeMessage:  # noqa: ASYNC109
        """The original response once edited again (after the answer, or the previous call)."""

        def check() -> FakeMessage | None:
            original = self.original
            if original is not None and len(original.edits) > self._edits_seen:
                self._edits_seen = len(original.edits)
                return original
            return None

        return await self.host.wait_until(check, timeout, lambda: "no edit; " + self.describe())


# -- commands ----------------------------------------------------------------------------------


def command_paths(commands: Sequence[JSON]) -> list[str]:
    """Every invocable path, e.g. ``["ping", "setup timezone", "admin roles add"]``."""
    paths: list[str] = []

    def walk(prefix: str, node: JSON) -> None:
        subs = [o for o in node.get("options") or [] if o.get("type") in (1, 2)]
        if not subs:
            paths.append(prefix)
        for sub in subs:
            walk(f"{prefix} {sub['name']}", sub)

    for command in commands:
        if command.get("type", 1) == 1:
            walk(command["name"], command)
    return paths


def find_command(candidates: Sequence[JSON], path: str) -> tuple[JSON, list[JSON], JSON]:
    """The command, the chain of group/subcommand options, and the leaf holding the options."""
    parts = path.split()
    known = command_paths(candidates)
    if not parts:
        raise StandInError(f"empty command path; registered: {known}")
    command = next((c for c in candidates if c.get("type", 1) == 1 and c["name"] == parts[0]), None)
    if command is None:
        raise StandInError(f"no slash command /{parts[0]} is registered; registered: {known}")
    node, chain = command, []
    for part in parts[1:]:
        sub = next(
            (o for o in node.get("options") or [] if o.get("type") in (1, 2) and o["name"] == part),
            None,
        )
        if sub is None:
            raise StandInError(f"/{path} is not registered; registered: {known}")
        chain.append(sub)
        node = sub
    if any(o.get("type") in (1, 2) for o in node.get("options") or []):
        raise StandInError(f"/{path} needs a subcommand; registered: {known}")
    return command, chain, node


def nest_options(chain: Sequence[JSON], leaf_options: list[JSON]) -> list[JSON]:
    options = leaf_options
    for link in reversed(chain):
        options = [{"type": link["type"], "name": link["name"], "options": options}]
    return options


@dataclass
class Resolver:
    """Builds option/select values and the ``resolved`` block, as Discord sends them."""

    invoker: FakeMember | None
    channel: FakeChannel | None
    permissions_for: Callable[[FakeMember, FakeChannel], int]
    add_attachment: Callable[[str, bytes], JSON]
    resolved: JSON = field(default_factory=dict)

    def _bucket(self, name: str) -> JSON:
        bucket: JSON = self.resolved.setdefault(name, {})
        return bucket

    def user(self, target: FakeUser | FakeMember) -> str:
        user = target.user if isinstance(target, FakeMember) else target
        self._bucket("users")[str(user.id)] = user.payload()
        member = target if isinstance(target, FakeMember) else None
        if member is None and self.invoker is not None:
            member = self.invoker.guild.get_member(user.id)
        if member is not None and self.channel is not None:
            data = member.payload(with_user=False)
            data["permissions"] = str(self.permissions_for(member, self.channel))
            self._bucket("members")[str(user.id)] = data
        return str(user.id)

    def role(self, role: FakeRole) -> str:
        self._bucket("roles")[str(role.id)] = role.payload()
        return str(role.id)

    def channel_value(self, channel: FakeChannel) -> str:
        data = channel.payload()
        data.pop("permission_overwrites", None)
        if self.invoker is not None:
            data["permissions"] = str(self.permissions_for(self.invoker, channel))
        else:
            data["permissions"] = "0"
        self._bucket("channels")[str(channel.id)] = data
        return str(channel.id)

    def attachment(self, value: Any) -> str:
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes)):
            raise StandInError("attachment options take a (filename, bytes) tuple")
        data = self.add_attachment(value[0], value[1])
        self._bucket("attachments")[data["id"]] = data
        return str(data["id"])

    def mentionable(self, value: Any) -> str:
        if isinstance(value, FakeRole):
            return self.role(value)
        if isinstance(value, FakeUser | FakeMember):
            return self.user(value)
        raise StandInError(
            f"a mentionable must be a FakeMember, FakeUser or FakeRole, not {value!r}"
        )


def option_value(option: JSON, value: Any, resolver: Resolver) -> Any:  # noqa: PLR0911, PLR0912
    """The JSON value Discord would send for ``value`` given the registered option schema."""
    kind, name = option["type"], option["name"]
    if kind == 3:
        if not isinstance(value, str):
            raise StandInError(f"option {name!r} is a string option, got {value!r}")
        _check_length(option, value)
    elif kind == 4:
        if not isinstance(value, int) or isinstance(value, bool):
            raise StandInError(f"option {name!r} is an integer option, got {value!r}")
    elif kind == 5:
        if not isinstance(value, bool):
            raise StandInError(f"option {name!r} is a boolean option, got {value!r}")
        return value
    elif kind == 10:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise StandInError(f"option {name!r} is a number option, got {value!r}")
        value = float(value)
    elif kind == 6:
        if not isinstance(value, FakeUser | FakeMember):
            raise StandInError(f"option {name!r} takes a FakeMember or FakeUser, got {value!r}")
        return resolver.user(value)
    elif kind == 7:
        if not isinstance(value, FakeChannel):
            raise StandInError(f"option {name!r} takes a FakeChannel, got {value!r}")
        allowed = option.get("channel_types")
        if allowed and value.type not in allowed:
            raise StandInError(f"option {name!r} accepts channel types {allowed}, not {value.type}")
        return resolver.channel_value(value)
    elif kind == 8:
        if not isinstance(value, FakeRole):
            raise StandInError(f"option {name!r} takes a FakeRole, got {value!r}")
        return resolver.role(value)
    elif kind == 9:
        return resolver.mentionable(value)
    elif kind == 11:
        return resolver.attachment(value)
    else:
        raise StandInError(f"option {name!r} has an unsupported type {kind}")
    _check_choices_and_range(option, value)
    return value


def _check_length(option: JSON, value: str) -> None:
    low, high = option.get("min_length"), option.get("max_length")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        raise StandInError(f"option {option['name']!r} must be {low}..{high} characters long")


def _check_choices_and_range(option: JSON, value: Any) -> None:
    choices = option.get("choices")
    if choices and value not in [choice["value"] for choice in choices]:
        listed = [choice["value"] for choice in choices]
        raise StandInError(f"option {option['name']!r} only accepts the choices {listed}")
    low, high = option.get("min_value"), option.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        raise StandInError(f"option {option['name']!r} must be between {low} and {high}")


def build_options(
    leaf: JSON,
    values: Mapping[str, Any],
    resolver: Resolver,
    *,
    focused: str | None = None,
) -> list[JSON]:
    schema = {option["name"]: option for option in leaf.get("options") or []}
    unknown = [name for name in values if name not in schema]
    if unknown:
        raise StandInError(f"unknown option(s) {unknown}; the command has {list(schema)}")
    if focused is None:
        missing = [n for n, o in schema.items() if o.get("required") and n not in values]
        if missing:
            raise StandInError(f"required option(s) {missing} missing")
    elif focused not in values:
        raise StandInError(f"the focused option {focused!r} needs a (partial) value")
    elif not schema[focused].get("autocomplete"):
        raise StandInError(f"option {focused!r} was not registered with autocomplete")
    options: list[JSON] = []
    for name, option in schema.items():
        if name not in values:
            continue
        if name == focused:  # what the user has typed so far, always as a string
            options.append(
                {"type": option["type"], "name": name, "value": str(values[name]), "focused": True}
            )
        else:
            options.append(
                {
                    "type": option["type"],
                    "name": name,
                    "value": option_value(option, values[name], resolver),
                }
            )
    return options


# -- components --------------------------------------------------------------------------------


def find_component(components: Sequence[JSON], custom_id: str) -> JSON:
    for component in walk_components(components):
        if component.get("custom_id") == custom_id:
            return component
    ids = [c["custom_id"] for c in walk_components(components) if "custom_id" in c]
    raise StandInError(f"no component with custom_id {custom_id!r}; the message has {ids}")


def select_values(component: JSON, values: Sequence[Any] | None, resolver: Resolver) -> list[str]:
    """Validated select values; Fake objects become ids (and resolved data) for entity selects."""
    if values is None:
        raise StandInError(f"select {component.get('custom_id')!r} needs values=[...]")
    low = component.get("min_values", 1)
    high = component.get("max_values", 1)
    if not low <= len(values) <= high:
        raise StandInError(f"select {component.get('custom_id')!r} takes {low}..{high} values")
    kind = component["type"]
    if kind == 3:
        offered = [option["value"] for option in component.get("options") or []]
        strange = [value for value in values if value not in offered]
        if strange:
            raise StandInError(
                f"values {strange} are not options of the select; options: {offered}"
            )
        return [str(value) for value in values]
    converters: dict[int, Callable[[Any], str]] = {
        5: resolver.user,
        6: resolver.role,
        7: resolver.channel_value,
        8: resolver.mentionable,
    }
    convert = converters[kind]
    return [convert(value) for value in values]


def modal_submission(modal: JSON, values: Mapping[str, Any], resolver: Resolver) -> list[JSON]:
    """The ``data.components`` of a modal submit: the modal's layout with the entered values."""
    remaining = dict(values)

    def leaf(component: JSON) -> JSON:
        kind, custom_id = component["type"], str(component.get("custom_id"))
        entry: JSON = {"type": kind, "id": component.get("id"), "custom_id": custom_id}
        if kind == 4:
            value = remaining.pop(custom_id, component.get("value"))
            if not isinstance(value, str | None):
                raise StandInError(f"text input {custom_id!r} takes a string, got {value!r}")
            if not value and component.get("required", True):
                raise StandInError(f"text input {custom_id!r} is required")
            value = value or ""
            low, high = component.get("min_length"), component.get("max_length")
            if value and ((low and len(value) < low) or (high and len(value) > high)):
                raise StandInError(f"text input {custom_id!r} takes {low}..{high} characters")
            entry["value"] = value
        elif kind in SELECT_TYPES:
            chosen = remaining.pop(custom_id, [])
            entry["values"] = select_values(component, chosen, resolver) if chosen else []
        elif custom_id in remaining:
            entry["value"] = remaining.pop(custom_id)
        return entry

    submitted: list[JSON] = []
    for top in modal.get("components") or []:
        if top["type"] == 1:
            children = [leaf(child) for child in top.get("components") or []]
            submitted.append({"type": 1, "id": top.get("id"), "components": children})
        elif top["type"] == 18:
            submitted.append({"type": 18, "id": top.get("id"), "component": leaf(top["component"])})
        else:
            submitted.append({"type": top["type"], "id": top.get("id")})
    if remaining:
        ids = [
            c["custom_id"]
            for c in walk_components(modal.get("components") or [])
            if "custom_id" in c
        ]
        raise StandInError(f"the modal has no input(s) {list(remaining)}; it has {ids}")
    return submitted
