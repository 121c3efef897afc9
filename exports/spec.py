"""What an export asks for: parsed once from query parameters (or a snapshot's stored params)
into an ``ExportSpec``, with a field-named ValidationError for every bad value."""

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError

from annotation.models import ItemStatus

FORMATS = ("jsonl", "csv", "parquet")
INCLUDES = ("ratings", "judges")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class ExportSpec:
    format: str = "jsonl"
    statuses: tuple[str, ...] = (ItemStatus.APPROVED.value,)  # empty tuple: every status
    since: datetime | None = None  # items decided at or after this instant
    include: tuple[str, ...] = ()
    reveal_raters: bool = False

    @property
    def human_ratings(self) -> bool:
        return "ratings" in self.include

    @property
    def judge_ratings(self) -> bool:
        return "judges" in self.include

    @property
    def with_ratings(self) -> bool:
        return bool(self.include)

    def as_params(self) -> dict:
        """The filters as JSON: echoed in manifests and stored on snapshots."""
        data = asdict(self)
        data["statuses"] = list(self.statuses) or ["all"]
        data["include"] = list(self.include)
        data["since"] = self.since.isoformat() if self.since else None
        return data


def _one(params, name: str):
    value = params.get(name)
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return value


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _plus_restored(raw: str) -> str:
    # An unencoded "+02:00" in a query string arrives as " 02:00".
    if "T" in raw:
        return re.sub(r" (\d\d:?\d\d)$", r"+\1", raw)
    return raw


def export_spec_parse(params) -> ExportSpec:
    """Parse ``format``, ``status``, ``since``, ``include`` and ``reveal_raters`` from a mapping
    (a QueryDict, a JSON body or stored snapshot params). Unknown keys are ignored. Raises
    ValidationError keyed by the parameter's name; callers check who may export first."""
    errors: dict[str, list[str]] = {}
    fields: dict = {}

    fmt = _one(params, "format")
    if fmt is not None:
        if fmt not in FORMATS:
            errors["format"] = [f"must be one of {', '.join(FORMATS)}, not {fmt!r}."]
        else:
            fields["format"] = fmt

    status = _one(params, "status") if "status" in params else _one(params, "statuses")
    if status is not None:
        wanted = _split(status)
        if not wanted:
            errors["status"] = ["name one or more statuses, comma-separated, or 'all'."]
        elif "all" in wanted:
            fields["statuses"] = ()
        else:
            unknown = [s for s in wanted if s not in ItemStatus.values]
            if unknown:
                known = ", ".join(ItemStatus.values)
                errors["status"] = [f"unknown status {', '.join(map(repr, unknown))}: use 'all' or some of {known}."]
            else:
                fields["statuses"] = tuple(sorted(set(wanted)))

    since = _one(params, "since")
    if since is not None and since != "":
        try:
            moment = datetime.fromisoformat(_plus_restored(since.strip()))
            # A timestamp without an offset is read as UTC (the server's time zone).
            fields["since"] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except ValueError:
            errors["since"] = [f"{since!r} is not an ISO 8601 timestamp such as 2026-01-31T12:00:00Z."]
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is in the year 0 in UTC
            errors["since"] = [f"{since!r} is out of range: in UTC it must fall within the years 1 to 9999."]

    include = _one(params, "include")
    if include is not None:
        wanted = _split(include)
        unknown = [part for part in wanted if part not in INCLUDES]
        if unknown:
            errors["include"] = [f"unknown {', '.join(map(repr, unknown))}: use ratings, judges or both."]
        else:
            fields["include"] = tuple(part for part in INCLUDES if part in wanted)

    reveal = _one(params, "reveal_raters")
    if reveal is not None:
        value = str(reveal).strip().lower()
        if value in _TRUE:
            fields["reveal_raters"] = True
        elif value not in _FALSE:
            errors["reveal_raters"] = ["must be true or false."]

    if errors:
        raise ValidationError(errors)
    return ExportSpec(**fields)
