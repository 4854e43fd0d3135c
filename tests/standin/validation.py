"""Request-body validation: Discord's own OpenAPI description, plus Discord's classic limits.

The description (``discord-openapi.json``, MIT, copyright Discord) is loaded once per process.
Validators are built lazily per (path template, method) and cached. Errors are reported as
``(path, code, message)`` triples and rendered like Discord's ``Invalid Form Body`` errors.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]

from .world import IS_COMPONENTS_V2, JSON, walk_components

SPEC_PATH = Path(__file__).with_name("discord-openapi.json")

FieldError = tuple[tuple[str, ...], str, str]

SELECT_TYPES = (3, 5, 6, 7, 8)
BUTTON = 2
ACTION_ROW = 1
TEXT_INPUT = 4
LABEL = 18
TEXT_DISPLAY = 10
DISCRIMINATORS = (["type"], ["entity_type"])  # of Discord's unions, as error paths


@functools.cache
def openapi() -> JSON:
    """Discord's OpenAPI description, with the one known mismatch relaxed."""
    data: JSON = json.loads(SPEC_PATH.read_text("utf-8"))
    schemas = data["components"]["schemas"]
    # discord.py 2.7.1 sends some snowflakes as JSON integers (allowed_mentions.users/roles,
    # recipient_id, attachments[].id). Discord accepts both; the description allows only strings.
    schemas["SnowflakeType"] = {
        "anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0}]
    }
    # The description's ChannelTypes lacks GUILD_MEDIA (16), which Discord documents and accepts;
    # discord.py lists it in channel_types for options annotated discord.abc.GuildChannel.
    schemas["ChannelTypes"]["oneOf"].append({"title": "GUILD_MEDIA", "const": 16})
    return data


@functools.cache
def _validator(template: str, method: str) -> Any:
    operation = openapi()["paths"].get(template, {}).get(method.lower())
    if not operation or "requestBody" not in operation:
        return None
    content = operation["requestBody"]["content"]
    media = content.get("application/json") or content.get("multipart/form-data")
    if media is None:
        return None
    schema = {"allOf": [media["schema"]], "components": openapi()["components"]}
    return jsonschema.Draft202012Validator(schema)


def validate_body(template: str, method: str, body: Any) -> list[FieldError]:
    """Errors of ``body`` against the request schema of ``method template`` (under /api/v10)."""
    validator = _validator(template, method)
    if validator is None:
        return []
    found: list[FieldError] = []
    for error in validator.iter_errors(body):
        for leaf in _leaf_errors(error):
            path = tuple(str(part) for part in leaf.absolute_path)
            if leaf.validator == "required" and isinstance(leaf.instance, dict):
                missing = [key for key in leaf.validator_value if key not in leaf.instance]
                found += [
                    ((*path, key), "BASE_TYPE_REQUIRED", "This field is required")
                    for key in missing
                ]
            else:
                found.append((path, *_describe(leaf)))
    return found


def _leaf_errors(error: Any) -> list[Any]:
    """Descend into anyOf/oneOf failures through the branch whose ``type`` matches the body.

    Discord's unions are discriminated by a ``type`` field (``entity_type`` for scheduled events,
    or null vs object), so the branch that does not complain about it is the one the body meant;
    its errors are the real ones. A body without the discriminator gets "This field is required".
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0], []).append(sub)

    def mismatched(errors: list[Any]) -> bool:
        return any(
            (list(e.relative_path) in DISCRIMINATORS and e.validator in ("enum", "const"))
            or (e.validator == "type" and not e.relative_path)
            for e in errors
        )

    candidates = [errors for errors in branches.values() if not mismatched(errors)]
    if len(candidates) == 1:
        return [leaf for sub in candidates[0] for leaf in _leaf_errors(sub)]
    missing = [
        e
        for e in error.context
        if e.validator == "required"
        and not e.relative_path
        and any([key] in DISCRIMINATORS and key not in e.instance for key in e.validator_value)
    ]
    return missing[:1] or [jsonschema.exceptions.best_match([error])]


def _describe(error: Any) -> tuple[str, str]:
    keyword, limit = error.validator, error.validator_value
    if keyword in ("maxLength", "maxItems"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
    if keyword in ("minLength", "minItems"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length."
    if keyword == "maximum":
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {limit}."
    if keyword == "minimum":
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {limit}."
    if keyword == "enum":
        return "BASE_TYPE_CHOICES", f"Value must be one of {limit}."
    return f"SCHEMA_{str(keyword).upper()}", str(error.message)[:300]


def discord_errors(errors: Iterable[FieldError]) -> JSON:
    """Nest errors the way Discord does: ``{"components": {"0": {"_errors": [...]}}}``."""
    root: JSON = {}
    for path, code, message in errors:
        node = root
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return root


def format_errors(errors: Iterable[FieldError]) -> str:
    return "; ".join(f"{'.'.join(path) or '<body>'}: {message}" for path, _, message in errors)


# -- Discord's classic limits, which the description does not encode -------------------------------


def _too_long(path: tuple[str, ...], limit: int) -> FieldError:
    return path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list) else 0


def check_message(body: JSON, path: tuple[str, ...] = ()) -> list[FieldError]:
    """Content, embed, component and allowed_mentions limits of a message body."""
    errors: list[FieldError] = []
    if _length(body.get("content")) > 2000:
        errors.append(_too_long((*path, "content"), 2000))
    errors += check_embeds(body.get("embeds") or [], (*path, "embeds"))
    flags = body.get("flags") or 0
    components = body.get("components") or []
    if flags & IS_COMPONENTS_V2:
        if body.get("content") or body.get("embeds"):
            errors.append(
                (
                    path,
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "content and embeds cannot be used with the IS_COMPONENTS_V2 flag",
                )
            )
        if sum(1 for _ in walk_components(components)) > 40:
            errors.append(_too_long((*path, "components"), 40))
    else:
        if len(components) > 5:
            errors.append(_too_long((*path, "components"), 5))
        for index, component in enumerate(components):
            if component.get("type") != ACTION_ROW:
                errors.append(
                    (
                        (*path, "components", str(index), "type"),
                        "COMPONENT_INVALID_TYPE",
                        "Top-level components must be action rows (no IS_COMPONENTS_V2 flag)",
                    )
                )
    errors += check_components(components, (*path, "components"))
    errors += _check_allowed_mentions(body.get("allowed_mentions"), (*path, "allowed_mentions"))
    return errors


def _embed_chars(embed: JSON) -> int:
    total = _length(embed.get("title")) + _length(embed.get("description"))
    total += _length((embed.get("footer") or {}).get("text"))
    total += _length((embed.get("author") or {}).get("name"))
    for embed_field in embed.get("fields") or []:
        total += _length(embed_field.get("name")) + _length(embed_field.get("value"))
    return total


def check_embeds(embeds: Sequence[JSON], path: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(embeds) > 10:
        errors.append(_too_long(path, 10))
    limits = {"title": 256, "description": 4096}
    for index, embed in enumerate(embeds):
        here = (*path, str(index))
        errors += [
            _too_long((*here, key), n) for key, n in limits.items() if _length(embed.get(key)) > n
        ]
        if _length((embed.get("footer") or {}).get("text")) > 2048:
            errors.append(_too_long((*here, "footer", "text"), 2048))
        if _length((embed.get("author") or {}).get("name")) > 256:
            errors.append(_too_long((*here, "author", "name"), 256))
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.append(_too_long((*here, "fields"), 25))
        for number, embed_field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                if _length(embed_field.get(key)) > limit:
                    errors.append(_too_long((*here, "fields", str(number), key), limit))
    if sum(_embed_chars(embed) for embed in embeds) > 6000:
        errors.append((path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))
    return errors


def check_components(components: Sequence[JSON], path: tuple[str, ...]) -> list[FieldError]:
    """Row widths, button and select rules and custom_id uniqueness, at any depth."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for row_path, row in _with_paths(components, path):
        if row.get("type") == ACTION_ROW:
            children = row.get("components") or []
            buttons = sum(1 for child in children if child.get("type") == BUTTON)
            selects = sum(1 for child in children if child.get("type") in SELECT_TYPES)
            if buttons > 5:
                errors.append(_too_long((*row_path, "components"), 5))
            if selects and len(children) > 1:
                errors.append(
                    (
                        (*row_path, "components"),
                        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                        "The specified component exceeds the maximum width",
                    )
                )
    for component_path, component in _with_paths(components, path):
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            if len(custom_id) > 100:
                errors.append(_too_long((*component_path, "custom_id"), 100))
            if custom_id in seen:
                errors.append(
                    (
                        (*component_path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            seen.add(custom_id)
        if component.get("type") == BUTTON:
            errors += _check_button(component, component_path)
        elif component.get("type") in SELECT_TYPES:
            errors += _check_select(component, component_path)
    return errors


def _with_paths(
    components: Sequence[JSON], path: tuple[str, ...]
) -> Iterable[tuple[tuple[str, ...], JSON]]:
    for index, component in enumerate(components):
        here = (*path, str(index))
        yield here, component
        yield from _with_paths(component.get("components") or [], (*here, "components"))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield (*here, key), child
                yield from _with_paths(child.get("components") or [], (*here, key, "components"))


def _check_button(button: JSON, path: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if _length(button.get("label")) > 80:
        errors.append(_too_long((*path, "label"), 80))
    style = button.get("style")
    if style == 5:  # link
        if not button.get("url") or button.get("custom_id"):
            errors.append(
                (path, "BUTTON_COMPONENT_INVALID", "A link button needs a url and no custom_id")
            )
    elif style == 6:  # premium
        if not button.get("sku_id"):
            errors.append((path, "BUTTON_COMPONENT_INVALID", "A premium button needs a sku_id"))
    elif not button.get("custom_id") or button.get("url"):
        errors.append(
            (
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                "A custom id is required (and a url is not allowed) for this button style",
            )
        )
    if style != 6 and not button.get("label") and not button.get("emoji"):
        errors.append((path, "BUTTON_COMPONENT_INVALID", "A button needs a label or an emoji"))
    return errors


def _check_select(select: JSON, path: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if not select.get("custom_id"):
        errors.append(((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required"))
    options = select.get("options") or []
    if select.get("type") == 3:
        if not options:
            errors.append(
                ((*path, "options"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
            )
        if len(options) > 25:
            errors.append(_too_long((*path, "options"), 25))
        for index, option in enumerate(options):
            for key in ("label", "value", "description"):
                if _length(option.get(key)) > 100:
                    errors.append(_too_long((*path, "options", str(index), key), 100))
    max_values = select.get("max_values")
    if max_values is not None and select.get("type") == 3 and max_values > len(options):
        errors.append(
            (
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                "max_values cannot exceed the number of options",
            )
        )
    return errors


def _check_allowed_mentions(mentions: Any, path: tuple[str, ...]) -> list[FieldError]:
    if not isinstance(mentions, dict):
        return []
    errors: list[FieldError] = []
    parse = mentions.get("parse") or []
    for key in ("users", "roles"):
        ids = mentions.get(key) or []
        if len(ids) > 100:
            errors.append(_too_long((*path, key), 100))
        if ids and key in parse:
            errors.append(
                (
                    (*path, "parse"),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{key}"] and {key}: [ids] are mutually exclusive.',
                )
            )
    return errors


def check_modal(data: JSON, path: tuple[str, ...] = ("data",)) -> list[FieldError]:
    """At most 5 top-level components in a modal, each a row, a label or a text display."""
    errors: list[FieldError] = []
    components = data.get("components") or []
    if len(components) > 5:
        errors.append(_too_long((*path, "components"), 5))
    for index, component in enumerate(components):
        if component.get("type") not in (ACTION_ROW, LABEL, TEXT_DISPLAY):
            errors.append(
                (
                    (*path, "components", str(index), "type"),
                    "COMPONENT_INVALID_TYPE",
                    "Modals accept action rows, labels and text displays at the top level",
                )
            )
        if component.get("type") == ACTION_ROW and len(component.get("components") or []) != 1:
            errors.append(
                (
                    (*path, "components", str(index), "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "An action row in a modal holds exactly one text input",
                )
            )
    errors += check_components(components, (*path, "components"))
    for component_path, component in _with_paths(components, (*path, "components")):
        if component.get("type") == TEXT_INPUT:
            low, high = component.get("min_length"), component.get("max_length")
            if low is not None and high is not None and low > high:
                errors.append(
                    (
                        (*component_path, "min_length"),
                        "BASE_TYPE_BAD_LENGTH",
                        "min_length must not exceed max_length",
                    )
                )
    return errors


def check_choices(data: JSON, path: tuple[str, ...] = ("data",)) -> list[FieldError]:
    errors: list[FieldError] = []
    choices = data.get("choices") or []
    if len(choices) > 25:
        errors.append(_too_long((*path, "choices"), 25))
    for index, choice in enumerate(choices):
        here = (*path, "choices", str(index))
        if not 1 <= _length(choice.get("name")) <= 100:
            errors.append(
                ((*here, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
            errors.append(_too_long((*here, "value"), 100))
    return errors


_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def check_commands(commands: Any) -> list[FieldError]:
    """Naming, description and option-order rules Discord applies to application commands."""
    if not isinstance(commands, list):
        return []
    errors: list[FieldError] = []
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        here = (str(index),)
        kind = command.get("type") or 1
        name = command.get("name") or ""
        if (kind, name) in seen:
            errors.append(
                ((*here, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
            )
        seen.add((kind, name))
        if kind == 1:
            errors += check_command(command, here)
        elif command.get("description"):
            errors.append(
                (
                    (*here, "description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Context menu commands cannot have a description",
                )
            )
    return errors


def check_command(command: JSON, path: tuple[str, ...] = ()) -> list[FieldError]:
    errors: list[FieldError] = []
    name = command.get("name") or ""
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.append(
            (
                (*path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name {name!r} is invalid (1-32 lowercase letters, digits, - _ ')",
            )
        )
    if not 1 <= _length(command.get("description")) <= 100:
        errors.append(
            ((*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        )
    options = command.get("options") or []
    if len(options) > 25:
        errors.append(_too_long((*path, "options"), 25))
    optional_seen = False
    names: set[str] = set()
    for index, option in enumerate(options):
        here = (*path, "options", str(index))
        if option.get("name") in names:
            errors.append(
                (
                    (*here, "name"),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            )
        names.add(option.get("name"))
        if option.get("type") in (1, 2):
            errors += check_command(option, here)
            continue
        errors += _check_option(option, here)
        if option.get("required"):
            if optional_seen:
                errors.append(
                    (
                        (*here, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            optional_seen = True
    return errors


def _check_option(option: JSON, path: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = option.get("name") or ""
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.append(
            (
                (*path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Option name {name!r} is invalid",
            )
        )
    if not 1 <= _length(option.get("description")) <= 100:
        errors.append(
            ((*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        )
    choices = option.get("choices") or []
    if len(choices) > 25:
        errors.append(_too_long((*path, "choices"), 25))
    if choices and option.get("autocomplete"):
        errors.append(
            (
                (*path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be set on an option with choices",
            )
        )
    return errors
