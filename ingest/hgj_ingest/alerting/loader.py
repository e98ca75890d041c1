"""Load an alert rule file into a :class:`RuleSet`, or say exactly where it is wrong.

Every problem is reported as ``file:line: path: message``, sorted by line. Checks run in
three passes (the file's shape; references between rules; each community's merged rules), and
a pass runs only once the one before it is clean. Community overrides are merged into the base
rule and validated as a whole rule, so an override cannot produce a rule the base file could
not (``above: 55`` with the base's ``clear_at: 58`` is refused, at the override's line).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from hgj_ingest.alerting.rules import CommunitySettings, MaintenanceWindow, Rule, RuleFile
from hgj_ingest.alerting.ruleset import CommunityRules, Maintenance, RuleSet
from hgj_ingest.alerting.yaml_source import YamlSource, YamlSourceError, read_yaml

DEFAULT_RULES = "default_rules.yaml"

Loc = tuple[str | int, ...]


class RuleFileError(Exception):
    """A rule file that cannot be used; ``problems`` are ``file:line: path: message`` lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def load_rules(path: Path | str) -> RuleSet:
    """Read and check a rule file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError([f"{path}: cannot read the rule file: {exc}"]) from None
    return parse_rules(text, str(path))


def load_default_rules() -> RuleSet:
    """The rules shipped with ingest for the pilot communities."""
    text = resources.files("hgj_ingest.alerting").joinpath(DEFAULT_RULES).read_text("utf-8")
    return parse_rules(text, DEFAULT_RULES)


def parse_rules(text: str, name: str = "<rules>") -> RuleSet:
    """Check rule file text; ``name`` is the file name used in error messages."""
    try:
        source = read_yaml(text)
    except YamlSourceError as exc:
        where = f"{name}:{exc.line}" if exc.line is not None else name
        raise RuleFileError([f"{where}: {exc.message}"]) from None
    return _Compiler(source, name).compile()


class _Compiler:
    def __init__(self, source: YamlSource, name: str) -> None:
        self._source = source
        self._name = name
        self._problems: list[tuple[int, str]] = []

    def compile(self) -> RuleSet:
        try:
            parsed = RuleFile.model_validate(self._source.data)
        except ValidationError as exc:
            self._add_validation_errors(exc, ())
            raise self._error() from None
        self._check_references(parsed)
        if self._problems:
            raise self._error()
        base_zone = ZoneInfo(parsed.timezone)
        communities: dict[str, CommunityRules] = {}
        for community, settings in parsed.communities.items():
            rules = self._community_rules(parsed, community, settings)
            zone = ZoneInfo(settings.timezone) if settings.timezone else base_zone
            windows = tuple(_maintenance(w, zone) for w in settings.maintenance)
            communities[community] = CommunityRules(tuple(rules), zone, windows)
        if self._problems:
            raise self._error()
        return RuleSet(CommunityRules(tuple(parsed.rules), base_zone), communities)

    # checks ------------------------------------------------------------------------------------

    def _check_references(self, parsed: RuleFile) -> None:
        seen: set[str] = set()
        for i, rule in enumerate(parsed.rules):
            if rule.id in seen:
                self._add(("rules", i, "id"), f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        for community, settings in parsed.communities.items():
            here: Loc = ("communities", community)
            for rule_id, changes in settings.rules.items():
                if rule_id not in seen:
                    self._add((*here, "rules", rule_id), f"no rule {rule_id!r} to change")
                if "id" in changes:
                    self._add((*here, "rules", rule_id, "id"), "a rule's id cannot be changed")
            for j, window in enumerate(settings.maintenance):
                for k, rule_id in enumerate(window.rules or ()):
                    if rule_id not in seen:
                        loc = (*here, "maintenance", j, "rules", k)
                        self._add(loc, f"no rule {rule_id!r}")

    def _community_rules(
        self, parsed: RuleFile, community: str, settings: CommunitySettings
    ) -> list[Rule]:
        raw_rules: list[dict[str, Any]] = self._source.data["rules"]
        rules = []
        for i, rule in enumerate(parsed.rules):
            changes = settings.rules.get(rule.id)
            if not changes:
                rules.append(rule)
                continue
            merged = _deep_merge(raw_rules[i], changes)
            try:
                rules.append(Rule.model_validate(merged))
            except ValidationError as exc:
                override: Loc = ("communities", community, "rules", rule.id)
                self._add_validation_errors(exc, ("rules", i), override, changes)
        return rules

    # reporting ---------------------------------------------------------------------------------

    def _add_validation_errors(
        self,
        exc: ValidationError,
        base: Loc,
        override: Loc | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if p != "[key]")
            # An error inside a block the community changed is the community's to fix.
            ours = override is not None and changes is not None and _has_path(changes, loc[:1])
            prefix = override if ours and override is not None else base
            message = str(error["msg"]).removeprefix("Value error, ")
            self._add((*prefix, *loc), message)

    def _add(self, loc: Loc, message: str) -> None:
        line = self._source.line_of(loc) or 0
        self._problems.append((line, f"{self._name}:{line}: {_format_loc(loc)}: {message}"))

    def _error(self) -> RuleFileError:
        return RuleFileError([text for _, text in sorted(self._problems, key=lambda p: p[0])])


def _maintenance(window: MaintenanceWindow, zone: ZoneInfo) -> Maintenance:
    def utc(moment: datetime) -> datetime:
        local = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
        return local.astimezone(UTC)

    return Maintenance(
        devices=tuple(window.devices),
        rules=frozenset(window.rules) if window.rules is not None else None,
        start=utc(window.start),
        end=utc(window.end),
        note=window.note,
    )


def _deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) is replaced whole."""
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def _has_path(data: object, loc: Iterable[str | int]) -> bool:
    for part in loc:
        if isinstance(data, Mapping):
            if part not in data:
                return False
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
