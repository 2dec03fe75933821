"""Who a submission belongs to: LMS download names, Gradescope metadata, class rosters.

An LMS names the files of a bulk download after the student, in its own format, and that name
becomes the grader's student id (`grader.staging.student_id`, reversibly; a Canvas file name or
a Gradescope folder, which change with each resubmission, give `<name>_<user id>` or
`gradescope_<SID>` instead, and the result records the name:
`grader.staging.submission_student_id`). The id is not what
the LMS's grade import matches on, so `grader export` reads the name back:

* Canvas: `<name>_<user id>_<file id>_<original file name>`, with `_LATE` after the name for a
  late submission. `<name>` is the sortable name ("Xu, Erin") lower-cased with everything but
  letters, digits and `_` removed (`xuerin`): it is *not* the login (Canvas's own
  `ContentZipper#get_filename`). The user id is Canvas's `ID` column.
* Moodle: `<Full Name>_<participant id>_assignsubmission_<plugin>_` (a folder per plugin, the
  default) or the same prefix before the original file name. Moodle turns `_` in names into
  spaces, so the name never holds one. The participant id belongs to the assignment ("Participant
  1234567" in its grading worksheet); Moodle's gradebook import knows no such field.
* Gradescope: `submission_<id>` folders beside a `submission_metadata.yml` that names the
  submitters (`:name:`, `:sid:`, `:email:`) and the submission time (`:created_at:`).
* GitHub Classroom: `<assignment>-<username>` repositories, given the assignment prefix.

A roster (a gradebook export from Canvas, a participants export from Moodle, a GitHub Classroom
roster) then maps the student to the identifiers the grade import needs. Names are compared
without case, accents, spaces or punctuation, so "Xu, Erin", "Erin Xu" and `xuerin` agree.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .staging import name_from_id

CANVAS, MOODLE, GRADESCOPE, CLASSROOM = "canvas", "moodle", "gradescope", "github-classroom"
GRADESCOPE_METADATA = "submission_metadata.yml"


@dataclass(frozen=True)
class Identity:
    """The student a download name stands for, as far as the name (or its metadata) says."""

    lms: str
    name: str = ""  # as the download gives it: Canvas `xuerin`, Moodle/Gradescope "Carol Xu"
    login: str = ""  # GitHub username
    user_id: str = ""  # Canvas user id, Moodle participant id, Gradescope SID
    email: str = ""  # Gradescope
    late: bool = False  # Canvas marked the submission LATE
    submission_id: str = ""  # Canvas file id, Gradescope submission id
    submitted_at: datetime | None = None  # Gradescope's :created_at:
    others: tuple[Identity, ...] = ()  # the other members of a Gradescope group submission

    @property
    def everyone(self) -> tuple[Identity, ...]:
        """Each person the submission counts for (a group's grade goes to all of them)."""
        return (replace(self, others=()), *self.others)


# ----------------------------------------------------------------------------- download names
# Canvas and Moodle ids are database ids: never with a leading zero.
_CANVAS = re.compile(r"(?P<name>.*?)_(?:(?P<late>LATE)_)?(?P<uid>[1-9]\d*)_(?P<fid>[1-9]\d*)_(?P<file>.+)", re.S)
_MOODLE = re.compile(r"(?P<name>.+?)_(?P<pid>[1-9]\d*)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<file>.*))?", re.S)
_GRADESCOPE = re.compile(r"submission_(?P<id>\d+)")
_GITHUB_USER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")


def parse_download_name(
    name: str, *, classroom_prefix: str | None = None, gradescope: Mapping[str, Identity] | None = None
) -> Identity | None:
    """The student an LMS download file or folder name stands for; None for no known format.

    `name` is the name as downloaded (`.ipynb` or not). Gradescope folders are looked up in
    `gradescope` (from `read_gradescope_metadata`); GitHub Classroom names need the assignment's
    repository prefix, because `<prefix>-<username>` cannot be told apart from any hyphenated
    name otherwise.
    """
    if name.endswith(".ipynb"):
        name = name[: -len(".ipynb")]
    found = _GRADESCOPE.fullmatch(name)
    if found:
        return (gradescope or {}).get(name) or Identity(GRADESCOPE, submission_id=found["id"])
    found = _MOODLE.fullmatch(name)
    if found:
        # Moodle writes `_` in names as spaces, so an `_` here came from a later renaming.
        full_name = found["name"].replace("_", " ").strip()
        if full_name == "Participant":  # blind marking: the name is hidden
            full_name = ""
        return Identity(MOODLE, name=full_name, user_id=found["pid"])
    if classroom_prefix:
        head, rest = name[: len(classroom_prefix) + 1], name[len(classroom_prefix) + 1 :]
        if head.casefold() == f"{classroom_prefix}-".casefold() and _GITHUB_USER.fullmatch(rest):
            return Identity(CLASSROOM, login=rest)
    found = _CANVAS.fullmatch(name)
    # Canvas lower-cases the name and keeps only word characters; anything else is not Canvas's.
    if found and re.fullmatch(r"\w*", found["name"]) and found["name"] == found["name"].lower():
        return Identity(
            CANVAS, name=found["name"], user_id=found["uid"], late=bool(found["late"]), submission_id=found["fid"]
        )
    return None


def original_name(student: str, recorded: Mapping[str, str] | None = None) -> str:
    """The file or folder name a grader student id was made from.

    The name its result recorded (`recorded`, from `results/<id>.json`) when given: a shortened
    id (a long name, `~` and a hash) cannot be decoded, and a Canvas submission's id
    (`grader.staging.submission_student_id`) decodes to its student, not its file. Otherwise the
    id decoded, else the id itself.
    """
    if recorded and recorded.get(student):
        return recorded[student]
    try:
        return name_from_id(student)
    except ValueError:
        return student


def identify(
    student: str,
    *,
    classroom_prefix: str | None = None,
    gradescope: Mapping[str, Identity] | None = None,
    recorded: Mapping[str, str] | None = None,
) -> Identity | None:
    """`parse_download_name` for a grader student id (from `grades.csv`)."""
    name = original_name(student, recorded)
    return parse_download_name(name, classroom_prefix=classroom_prefix, gradescope=gradescope)


# ----------------------------------------------------------------------------- Gradescope metadata
class RosterError(ValueError):
    """A roster or metadata file that cannot be used; str() is the one-line reason."""


def read_gradescope_metadata(path: str) -> dict[str, Identity]:
    """`submission_metadata.yml` of a Gradescope export: folder name -> who submitted it."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise RosterError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text") from None
    try:
        return parse_gradescope_metadata(text)
    except RosterError as exc:
        raise RosterError(f"{path}: {exc}") from None


def parse_gradescope_metadata(text: str) -> dict[str, Identity]:
    """Parse the metadata with PyYAML's safe loader when it is installed, else a small reader of
    just the fields used (PyYAML is only a test dependency of the grader)."""
    try:
        yaml: Any = importlib.import_module("yaml")  # untyped, optional
    except ImportError:
        return _identities(_read_metadata_subset(text))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RosterError(f"not YAML ({str(exc).splitlines()[0]})") from None
    return _identities(data)


def _identities(data: Any) -> dict[str, Identity]:
    if not isinstance(data, dict):
        raise RosterError("not a Gradescope submission_metadata.yml (no submissions)")
    found = {}
    for folder, meta in data.items():
        if not isinstance(meta, dict):
            continue
        people = [
            Identity(
                GRADESCOPE,
                name=_text(person.get(":name")),
                user_id=_text(person.get(":sid")),
                email=_text(person.get(":email")),
                submission_id=str(folder).removeprefix("submission_"),
                submitted_at=_timestamp(meta.get(":created_at")),
            )
            for person in meta.get(":submitters") or []
            if isinstance(person, dict)
        ]
        if people:
            found[str(folder)] = replace(people[0], others=tuple(people[1:]))
    return found


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?")


def _timestamp(value: Any) -> datetime | None:
    """Gradescope writes Ruby times (`2024-03-01 12:34:56.789000000 -08:00`)."""
    if isinstance(value, datetime):
        return value
    found = _TIME.fullmatch(_text(value))
    if not found:
        return None
    date, time, fraction, zone = found.groups()
    iso = f"{date}T{time}" + (f".{fraction[:6].ljust(6, '0')}" if fraction else "") + (zone or "")
    from .lateness import from_iso  # (lateness imports this module)

    return from_iso(iso)


_ENTRY = re.compile(r"(?P<indent> *)(?P<dash>- +)?(?P<key>:?[^\s:'\"][^:]*?|'[^']*'|\"[^\"]*\"):(?: +(?P<value>.*))?")


def _read_metadata_subset(text: str) -> dict[str, Any]:
    """The submissions, their `:submitters:` and `:created_at:`, read line by line.

    Enough for what Gradescope writes (block mappings and sequences, plain or quoted scalars);
    everything else in the file (results, history) is skipped, never interpreted.
    """
    data: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    key_indent: int | None = None  # indentation of the current submission's own keys
    submitters: list[dict[str, str]] | None = None  # set while inside its :submitters:
    person: dict[str, str] | None = None
    person_indent = -1
    for line in text.splitlines():
        entry = _ENTRY.fullmatch(line.rstrip())
        if entry is None or line.lstrip().startswith("#"):
            continue  # blank, a comment, or the continuation of a scalar we do not use
        indent = len(entry["indent"])
        key, value = _scalar(entry["key"]), _scalar(entry["value"] or "")
        if indent == 0 and not entry["dash"]:
            current, key_indent, submitters, person = data.setdefault(key, {}), None, None, None
        elif current is None:
            continue
        elif entry["dash"]:
            if submitters is not None and key_indent is not None and indent >= key_indent:
                person = {key: value}
                submitters.append(person)
                person_indent = indent + len(entry["dash"])
        elif key_indent is None or indent == key_indent:
            key_indent, person = indent, None
            submitters = current.setdefault(key, []) if key == ":submitters" else None
            if key == ":created_at":
                current[key] = value
        elif person is not None and indent == person_indent:
            person[key] = value
    return data


def _scalar(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]
    return raw.split(" #", 1)[0].strip()


# ----------------------------------------------------------------------------- rosters
# A roster's columns, by what they hold. Header names are compared without case or extra spaces.
ROSTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("student", "name", "full name", "fullname", "student name"),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "canvas_id": ("id",),  # Canvas's user id, as in its gradebook export
    "sis_user_id": ("sis user id",),
    "sis_login": ("sis login id", "login id", "login"),
    "section": ("section", "sections"),
    "idnumber": ("id number", "idnumber"),
    "email": ("email address", "email", "e-mail"),
    "username": ("username", "user name"),
    "github": ("github_username", "github username"),
    "sid": ("sid", "student id", "student number"),
    # Moodle's grading worksheet ("Participant 1234567"); GitHub Classroom's roster (anything)
    "identifier": ("identifier",),
}
IDENTIFIERS = ("canvas_id", "sis_user_id", "sis_login", "idnumber", "email", "username", "github", "sid", "identifier")
_ALIASES = {alias: kind for kind, aliases in ROSTER_COLUMNS.items() for alias in aliases}
_PARTICIPANT = re.compile(r"Participant\s*(\d+)", re.I)


@dataclass(frozen=True)
class RosterEntry:
    """One student of a roster: the identifiers it has (by kind, plus `participant` and
    `section`) and the name."""

    line: int
    name: str
    ids: Mapping[str, str] = field(default_factory=dict)
    first_name: str = ""
    last_name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def label(self) -> str:
        return f"roster line {self.line}" + (f" ({self.display_name})" if self.display_name else "")

    def name_keys(self) -> set[str]:
        keys = set(_name_keys(self.name))
        if self.first_name or self.last_name:
            keys |= {name_key(self.first_name + self.last_name), name_key(self.last_name + self.first_name)}
        return keys - {""}


def read_roster(path: str) -> list[RosterEntry]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except OSError as exc:
        raise RosterError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not a roster (the file is not UTF-8 text)") from None
    try:
        return parse_roster(text)
    except RosterError as exc:
        raise RosterError(f"{path}: {exc}") from None


def parse_roster(text: str) -> list[RosterEntry]:
    """A roster CSV (comma, semicolon or tab separated) whose first row names its columns."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise RosterError(f"not a roster ({exc})") from None
    if not table:
        raise RosterError("the roster is empty")
    columns: dict[str, int] = {}
    for index, header in enumerate(table[0]):
        kind = _ALIASES.get(" ".join(header.casefold().split()))
        if kind and kind not in columns:
            columns[kind] = index
    if not any(kind in columns for kind in IDENTIFIERS):
        raise RosterError(
            "not a roster: no column of identifiers (such as ID, SIS Login ID, Email address, Username, ID number)"
        )
    entries = []
    for line, cells in enumerate(table[1:], start=2):
        values = {kind: cells[i].strip() for kind, i in columns.items() if i < len(cells) and cells[i].strip()}
        ids = {kind: values[kind] for kind in (*IDENTIFIERS, "section") if kind in values}
        participant = _PARTICIPANT.fullmatch(ids.get("identifier", ""))
        if participant:
            ids["participant"] = participant[1]
            del ids["identifier"]
        name = values.get("name", "")
        if not any(kind in ids for kind in (*IDENTIFIERS, "participant")):
            continue  # a blank or summary row
        if name.casefold() == "points possible" and "canvas_id" not in ids:
            continue  # the second row of a Canvas gradebook export
        entries.append(RosterEntry(line, name, ids, values.get("first_name", ""), values.get("last_name", "")))
    if not entries:
        raise RosterError("the roster has no students")
    return entries


def name_key(text: str) -> str:
    """A name without case, accents, spaces or punctuation ("Zoë O'Neil" -> "zoeoneil")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum()).casefold()


def _name_keys(name: str) -> Iterable[str]:
    """The name as written, and in the other order when it is "Last, First"."""
    yield name_key(name)
    last, comma, first = name.partition(",")
    if comma:
        yield name_key(first + last)


# ----------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class Match:
    """The roster entry a student is, or why none could be chosen."""

    entry: RosterEntry | None
    reason: str = ""


# What of a parsed download name is compared with which roster columns, and how to say it.
_STRONG: dict[str, tuple[tuple[str, tuple[str, ...], str], ...]] = {
    CANVAS: (("user_id", ("canvas_id",), "Canvas user"),),
    MOODLE: (("user_id", ("participant",), "Moodle participant"),),
    GRADESCOPE: (
        ("email", ("email", "sis_login", "username"), "email"),
        ("user_id", ("sid", "sis_user_id", "idnumber"), "SID"),
    ),
    CLASSROOM: (("login", ("github",), "GitHub user"),),
}


def match_person(identity: Identity, roster: list[RosterEntry]) -> Match:
    """The roster entry of one person of a parsed download name.

    Identifiers decide when the roster has a column for them (a Canvas user id against `ID`): a
    student they do not find is then not matched by name, since the two disagree. Otherwise the
    name decides, if exactly one roster entry has it.
    """
    held = {kind for entry in roster for kind in entry.ids}
    wanted = [
        (getattr(identity, attr), kinds, said)
        for attr, kinds, said in _STRONG.get(identity.lms, ())
        if getattr(identity, attr) and held.intersection(kinds)
    ]
    if wanted:
        found = _find(roster, [(value, kinds) for value, kinds, _ in wanted])
        return _one(found, " / ".join(f"{said} {value}" for value, _, said in wanted) + " is not in the roster")
    if identity.name:
        return _by_name(identity.name, roster)
    missing = [
        f"{said} {getattr(identity, attr)}, but the roster has no {ROSTER_COLUMNS[kinds[0]][0]!r} column"
        for attr, kinds, said in _STRONG.get(identity.lms, ())
        if getattr(identity, attr)
    ]
    return Match(None, "; ".join(missing) or "the download name does not say who the student is")


def match_student(name: str, roster: list[RosterEntry]) -> Match:
    """The roster entry of a student whose name is in no download format: a roster identifier
    equal to the name (an email, a login, a student number), else the name itself."""
    found = _find(roster, [(name, IDENTIFIERS)])
    return _one(found, "") if found else _by_name(name, roster)


def _find(roster: list[RosterEntry], wanted: list[tuple[str, tuple[str, ...]]]) -> list[RosterEntry]:
    return [
        entry
        for entry in roster
        if any(entry.ids.get(kind, "").casefold() == value.casefold() for value, kinds in wanted for kind in kinds)
    ]


def _by_name(name: str, roster: list[RosterEntry]) -> Match:
    keys = set(_name_keys(name)) - {""}
    found = [entry for entry in roster if keys & entry.name_keys()]
    return _one(found, f"no roster entry has the name {name!r}")


def _one(found: list[RosterEntry], missing: str) -> Match:
    if len(found) == 1:
        return Match(found[0])
    if not found:
        return Match(None, missing)
    return Match(None, "matches several roster entries: " + ", ".join(entry.label for entry in found))
