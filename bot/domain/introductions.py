"""Rules for introductions and the member directory: field limits, skill tags, search
criteria, and "people you should meet"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import BadInput

# Limits chosen so the escaped text always fits the embed: escaping markdown at most
# doubles a text, and an embed field holds 1024 characters, a title 256.
NAME_MAX = 64
ROLE_MAX = 100
ORGANISATION_MAX = 100
FREE_TEXT_MAX = 500  # "happy to help with" and "looking for"
SKILLS_TEXT_MAX = 1000  # what the modal accepts before it is split into tags
TAG_MAX = 40
TAGS_MAX = 20
# Skills are shown as inline code (no escaping needed): 20 x (40 + 2) plus separators.
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 365
SEARCH_MAX = 100  # a directory search term

# Bidirectional overrides and isolates can flip how the rest of an embed reads.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C], None
)


def _tidy(text: str | None) -> str:
    return (text or "").translate(_BIDI_CONTROLS).strip()


def check_line(text: str | None, label: str, limit: int, *, required: bool = False) -> str | None:
    """A one-line field: whitespace (newlines included) collapsed, length checked."""
    value = " ".join(_tidy(text).split())
    if not value:
        if required:
            raise BadInput(f"{label} can't be empty.")
        return None
    if len(value) > limit:
        raise BadInput(f"{label} is {len(value)} characters; the limit is {limit}.")
    return value


def check_free_text(text: str | None, label: str) -> str | None:
    """A paragraph ("happy to help with", "looking for"): runs of blank lines collapsed."""
    value = re.sub(r"\n\s*\n+", "\n\n", _tidy(text).replace("\r\n", "\n"))
    if not value:
        return None
    if len(value) > FREE_TEXT_MAX:
        raise BadInput(f"{label} is {len(value)} characters; the limit is {FREE_TEXT_MAX}.")
    return value


def normalise_tag(text: str) -> str:
    """One skill as stored and searched: trimmed, single-spaced, case-folded.

    Backticks are dropped (tags are shown as inline code) and a leading `#` too, so
    `#Moodle` and `moodle` are one skill while `C#` keeps its meaning.
    """
    value = " ".join(_tidy(text).replace("`", "").split()).casefold()
    return value.lstrip("#").strip()


def parse_skills(text: str | None) -> tuple[str, ...]:
    """Comma-, semicolon- or line-separated skills -> normalised, de-duplicated tags."""
    tags: list[str] = []
    for raw in re.split(r"[,;\n]", text or ""):
        tag = normalise_tag(raw)
        if not tag or tag in tags:
            continue
        if len(tag) > TAG_MAX:
            raise BadInput(
                f"Each skill can be at most {TAG_MAX} characters; `{tag[:TAG_MAX]}…` is "
                f"{len(tag)}. Separate skills with commas."
            )
        tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise BadInput(f"List at most {TAGS_MAX} skills; you gave {len(tags)}.")
    return tuple(tags)


def check_retention(days: int) -> int:
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise BadInput(f"Keep leavers' introductions for 1 to {MAX_RETENTION_DAYS} days.")
    return days


def search_key(text: str | None) -> str:
    """How text is compared in the directory: case-folded, accents and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", _tidy(text).casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.split())


def search_text(*parts: str | None) -> str:
    """Everything a free-text search looks through, as one key."""
    return "\n".join(search_key(part) for part in parts if part)


@dataclass(frozen=True)
class Criteria:
    """A directory search, as keys: each given criterion adds one to a member's rank."""

    skill: str | None = None
    region: str | None = None
    organisation: str | None = None
    role: str | None = None
    text: str | None = None

    @classmethod
    def of(
        cls,
        *,
        skill: str | None = None,
        region: str | None = None,
        organisation: str | None = None,
        role: str | None = None,
        text: str | None = None,
    ) -> Criteria:
        for label, value in (
            ("skill", skill),
            ("region", region),
            ("organisation", organisation),
            ("role", role),
            ("text", text),
        ):
            if value and len(value) > SEARCH_MAX:
                raise BadInput(f"Keep the {label} to search for under {SEARCH_MAX} characters.")
        criteria = cls(
            skill=normalise_tag(skill or "") or None,
            region=search_key(region) or None,
            organisation=search_key(organisation) or None,
            role=search_key(role) or None,
            text=search_key(text) or None,
        )
        if criteria.count == 0:
            raise BadInput(
                "Say what to look for: a skill, region, organisation, role or any text, "
                "e.g. `skill: moodle region: South West`."
            )
        return criteria

    @property
    def count(self) -> int:
        return sum(
            value is not None
            for value in (self.skill, self.region, self.organisation, self.role, self.text)
        )


def like_pattern(key: str) -> str:
    """`key` anywhere in a column, with LIKE's wildcards taken literally (escape `\\`)."""
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- people you should meet ------------------------------------------------------------

# Words that say nothing about what someone knows or needs.
_STOPWORDS = frozenset(
    {"about", "and", "any", "anyone", "are", "but", "can", "else", "for", "from", "get"}
    | {"have", "help", "how", "into", "its", "more", "our", "out", "some", "someone", "that"}
    | {"the", "their", "them", "they", "this", "use", "using", "want", "what", "when"}
    | {"where", "which", "who", "with", "would", "you", "your", "looking", "happy"}
)
# Letters and digits, with a trailing + or # kept: C++ and C# are not C.
_WORD = re.compile(r"[^\W_]+[+#]*")


def keywords(text: str | None) -> frozenset[str]:
    """The words of a free-text answer worth matching: no stopwords, at least 3 characters."""
    words = _WORD.findall(search_key(text))
    return frozenset(word for word in words if len(word) >= 3 and word not in _STOPWORDS)


@dataclass(frozen=True)
class Profile:
    """What suggestions compare: one member's introduction."""

    user_id: int
    organisation: str | None
    region: str | None
    skills: frozenset[str]
    happy_to_help: str | None = None
    looking_for: str | None = None


@dataclass(frozen=True)
class Suggestion:
    user_id: int
    reason: str  # one line: "also works with moodle, intune; in the South West"
    score: int


def _offers(profile: Profile) -> frozenset[str]:
    words = keywords(profile.happy_to_help)
    return words | profile.skills | {word for tag in profile.skills for word in keywords(tag)}


def _wanted_by(seeker: Profile, helper: Profile) -> list[str]:
    """What `helper` offers that `seeker` is looking for, in the helper's words."""
    wanted = keywords(seeker.looking_for)
    return sorted(term for term in _offers(helper) if term in wanted)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and search_key(a) == search_key(b)


def _listing(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def suggest(me: Profile, others: Sequence[Profile], *, limit: int = 5) -> list[Suggestion]:
    """Members worth meeting: shared skills, or help offered for what one of you is looking
    for; among those, other organisations and other regions come first."""
    found: list[Suggestion] = []
    for other in others:
        if other.user_id == me.user_id:
            continue
        shared = sorted(me.skills & other.skills)
        they_help = _wanted_by(me, other)
        i_help = _wanted_by(other, me)
        common = 3 * len(shared) + 4 * len(they_help) + 2 * len(i_help)
        if common == 0:
            continue
        # Stretching beyond one's own college and region is the point of the community.
        elsewhere = 2 * (not _same(me.organisation, other.organisation)) + (
            not _same(me.region, other.region)
        )
        parts = []
        if they_help:
            parts.append(f"can help with {_listing(they_help)}")
        if shared:
            parts.append(f"also works with {_listing(shared)}")
        if i_help:
            parts.append(f"is looking for {_listing(i_help)}, which you know")
        if other.region and not _same(me.region, other.region):
            parts.append(f"in {other.region}")
        elif other.organisation and not _same(me.organisation, other.organisation):
            parts.append(f"at {other.organisation}")
        found.append(Suggestion(other.user_id, "; ".join(parts), common + elsewhere))
    found.sort(key=lambda s: (-s.score, s.user_id))
    return found[:limit]
