"""LMS download names read back into who the student is, Gradescope metadata, and rosters.

The names are built here exactly as each LMS builds them (Canvas: `ContentZipper#get_filename`;
Moodle: `assign::download_submissions`; Gradescope: `submission_<id>` beside
`submission_metadata.yml`; GitHub Classroom: `<assignment>-<username>`), then passed through
the grader's student ids (`grader.staging.student_id`) the way `grader grade` would.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader import roster
from grader.roster import (
    Identity,
    RosterError,
    identify,
    match_person,
    match_student,
    name_key,
    parse_download_name,
    parse_gradescope_metadata,
    parse_roster,
    read_gradescope_metadata,
    read_roster,
)
from grader.staging import student_id


def through_the_id(name: str) -> Identity | None:
    """What `grader export` sees: the student id, and for a shortened one the name its result
    recorded (`results/<id>.json`)."""
    student = student_id(name)
    return identify(student, recorded={student: name} if "~" in student else None)


def test_a_shortened_id_without_its_recorded_name_is_no_known_format():
    student = student_id("Александра Константиновна Петрова-Водкина_1234567_assignsubmission_file_")
    assert "~" in student and identify(student) is None


# ----------------------------------------------------------------------------- Canvas
def test_the_issue_canvas_file_is_a_canvas_user_and_not_a_login():
    found = identify(student_id("xuerin_98765_4321_conv-layer"))
    assert found == Identity("canvas", name="xuerin", user_id="98765", submission_id="4321")


def test_canvas_late_submissions_are_flagged():
    found = parse_download_name("xuerin_LATE_98765_4321_conv-layer.ipynb")
    assert found is not None and found.late and (found.user_id, found.submission_id) == ("98765", "4321")


@pytest.mark.parametrize(
    "name, user_id, original",
    [
        ("xuerin_98765_4321_conv-layer-1.ipynb", "98765", "conv-layer-1"),  # Canvas's resubmission suffix
        ("obrien_12_34_my_file_2_x", "12", "my_file_2_x"),  # underscores in the original name
        ("zoë_5_6_nb", "5", "nb"),  # Canvas keeps letters of any script
        ("_LATE_7_8_nb", "7", "nb"),  # a user without a sortable name
    ],
)
def test_canvas_names_parse_from_the_left(name, user_id, original):
    found = parse_download_name(name)
    assert found is not None and found.lms == "canvas" and found.user_id == user_id


@pytest.mark.parametrize(
    "name",
    [
        "alice@uni.example",
        "alice",
        "Xuerin_98765_4321_conv-layer",  # Canvas lower-cases the name
        "xu.erin_98765_4321_conv-layer",  # and keeps only word characters
        "s_2023_01_hw",  # ids never start with 0
        "xuerin_98765_conv-layer",  # no file id
        "conv-layer-octocat",  # a classroom name without its prefix
    ],
)
def test_names_in_no_known_format_are_none(name):
    assert parse_download_name(name) is None


canvas_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzàéëøß0123456789_", max_size=20)
ids = st.integers(min_value=1, max_value=10**15)
files = st.text(
    alphabet=st.characters(blacklist_characters='/\\:*?"<>|\x00', blacklist_categories=("Cs",)), min_size=1, max_size=30
)


@given(canvas_names, st.booleans(), ids, ids, files)
def test_every_canvas_download_name_gives_back_its_user_id_and_late_flag(name, late, user, file_id, original):
    if "_" in name and any(part.isdigit() for part in name.split("_")[1:]):
        return  # Canvas itself removes `_<digits>_` from names
    built = "_".join([name, *(["LATE"] if late else []), str(user), str(file_id), original])
    found = through_the_id(built)
    assert found is not None and found.lms == "canvas"
    assert (found.user_id, found.late) == (str(user), late)


# ----------------------------------------------------------------------------- Moodle
def test_the_issue_moodle_folder_is_a_participant_with_a_name():
    found = identify(student_id("Carol Xu_1234567_assignsubmission_file_"))
    assert found == Identity("moodle", name="Carol Xu", user_id="1234567")


@pytest.mark.parametrize(
    "name",
    [
        "Carol Xu_1234567_assignsubmission_file_",
        "Carol Xu_1234567_assignsubmission_onlinetext_",
        "Carol Xu_1234567_assignsubmission_file_conv-layer.ipynb",  # downloaded without folders
        "Carol_Xu_1234567_assignsubmission_file",  # how an older grader version named it
    ],
)
def test_moodle_names_in_every_layout(name):
    assert parse_download_name(name) == Identity("moodle", name="Carol Xu", user_id="1234567")


def test_moodle_blind_marking_hides_the_name_but_keeps_the_participant():
    assert parse_download_name("Participant_77_assignsubmission_file_") == Identity("moodle", user_id="77")


moodle_names = st.text(
    alphabet=st.characters(blacklist_characters='_/\\:*?"<>|\x00', blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and s.strip() not in ("", "Participant"))


@given(moodle_names, ids, st.sampled_from(["file", "onlinetext"]))
def test_every_moodle_folder_gives_back_its_participant_and_name(name, participant, plugin):
    found = through_the_id(f"{name}_{participant}_assignsubmission_{plugin}_")
    assert found == Identity("moodle", name=name, user_id=str(participant))


# ----------------------------------------------------------------------------- GitHub Classroom
@pytest.mark.parametrize(
    "name, expected",
    [
        ("conv-layer-octocat", "octocat"),
        ("Conv-Layer-Mona-Lisa", "Mona-Lisa"),
        ("conv-layer-a", "a"),
        ("conv-layer--x", None),
        ("conv-layer-x-", None),
        ("conv-layer-" + "x" * 40, None),
        ("other-octocat", None),
    ],
)
def test_classroom_repositories_give_the_github_username_after_the_prefix(name, expected):
    found = parse_download_name(name, classroom_prefix="conv-layer")
    assert (found.login if found else None) == expected
    if found:
        assert found.lms == "github-classroom"


# ----------------------------------------------------------------------------- Gradescope
METADATA = """\
submission_111:
  :submitters:
  - :name: Carol Xu
    :sid: '1234567'
    :email: carol@uni.example
  - :name: "Zo\\u00eb O'Neil"
    :sid: '7'
    :email: zoe@uni.example
  :created_at: 2024-03-01 12:34:56.789000000 -08:00
  :score: 10.0
  :results:
    tests:
    - name: 'corr2d: example'
      score: 1
  :history:
  - :created_at: 2024-02-01 09:00:00.000000000 -08:00
    :score: 1.0
    :submitters:
    - :name: Someone Else
submission_222:
  :submitters:
  - :name: 'Dan O''Hara'
    :sid:
    :email: dan@uni.example
  :created_at: 2024-03-02 08:00:00.000000000 +00:00
"""


@contextmanager
def pyyaml_missing():
    """Run as on an installation without PyYAML (it is only a test dependency), and make sure
    the grader's own small reader is what ran."""
    real = importlib.import_module

    def import_module(name, package=None):
        if name == "yaml":
            raise ImportError(name)
        return real(name, package)

    reader = mock.Mock(wraps=roster._read_metadata_subset)
    with (
        mock.patch.object(roster.importlib, "import_module", import_module),
        mock.patch.object(roster, "_read_metadata_subset", reader),
    ):
        yield
    assert reader.called


def test_gradescope_metadata_names_each_member_of_a_group_and_the_time():
    found = parse_gradescope_metadata(METADATA)
    group = found["submission_111"]
    assert [(p.name, p.user_id, p.email) for p in group.everyone] == [
        ("Carol Xu", "1234567", "carol@uni.example"),
        ("Zoë O'Neil", "7", "zoe@uni.example"),
    ]
    assert group.submitted_at == datetime(2024, 3, 1, 12, 34, 56, 789000, timezone(timedelta(hours=-8)))
    assert found["submission_222"] == Identity(
        "gradescope",
        name="Dan O'Hara",
        email="dan@uni.example",
        submission_id="222",
        submitted_at=datetime(2024, 3, 2, 8, tzinfo=UTC),
    )


def test_the_small_reader_agrees_with_pyyaml():
    with_yaml = parse_gradescope_metadata(METADATA)
    with pyyaml_missing():
        assert parse_gradescope_metadata(METADATA) == with_yaml


people = st.lists(
    st.tuples(
        st.text(alphabet="abcdefghijk ABC'-éß", min_size=1, max_size=12).filter(lambda s: s.strip() == s),
        st.from_regex(r"[0-9]{1,8}", fullmatch=True),
        st.from_regex(r"[a-z]{1,8}@[a-z]{1,5}\.edu", fullmatch=True),
    ),
    min_size=1,
    max_size=3,
)


@given(st.dictionaries(st.integers(1, 10**9), people, min_size=1, max_size=4))
def test_the_small_reader_agrees_with_pyyaml_on_any_submitters(submissions):
    yaml = pytest.importorskip("yaml")
    text = yaml.safe_dump(
        {
            f"submission_{n}": {":submitters": [{":name": a, ":sid": b, ":email": c} for a, b, c in group]}
            for n, group in submissions.items()
        },
        allow_unicode=True,
    )
    expected = parse_gradescope_metadata(text)
    with pyyaml_missing():
        assert parse_gradescope_metadata(text) == expected


def test_gradescope_folders_are_looked_up_in_the_metadata():
    metadata = parse_gradescope_metadata(METADATA)
    assert identify("submission_111", gradescope=metadata).email == "carol@uni.example"
    assert identify("submission_999", gradescope=metadata) == Identity("gradescope", submission_id="999")


@pytest.mark.parametrize("content", ["- just\n- a list\n", ": [\n"])
def test_unusable_metadata_is_one_line(tmp_path, content):
    path = tmp_path / "submission_metadata.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RosterError) as info:
        read_gradescope_metadata(str(path))
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- rosters
CANVAS_ROSTER = """\
Student,ID,SIS User ID,SIS Login ID,Section,6.2 Convolutions (12345)
    Points Possible,,,,,20
"Xu, Erin",98765,S-001,exu,Section A,
"Lee, Ann",98766,S-002,alee,Section B,
"""
MOODLE_ROSTER = """\
First name,Last name,ID number,Email address,Username
Carol,Xu,1001,carol@uni.example,cxu
Zoë,Brandt,1002,zoe@uni.example,zbrandt
"""


def test_a_canvas_gradebook_export_is_a_roster():
    entries = parse_roster(CANVAS_ROSTER)
    assert [(e.line, e.name, dict(e.ids)) for e in entries] == [
        (3, "Xu, Erin", {"canvas_id": "98765", "sis_user_id": "S-001", "sis_login": "exu", "section": "Section A"}),
        (4, "Lee, Ann", {"canvas_id": "98766", "sis_user_id": "S-002", "sis_login": "alee", "section": "Section B"}),
    ]


def test_a_moodle_participants_export_separated_by_semicolons_is_a_roster():
    entries = parse_roster("\ufeff" + MOODLE_ROSTER.replace(",", ";"))
    assert entries[1].display_name == "Zoë Brandt"
    assert dict(entries[1].ids) == {"idnumber": "1002", "email": "zoe@uni.example", "username": "zbrandt"}


def test_a_moodle_grading_worksheet_gives_participant_ids():
    entries = parse_roster("Identifier,Full name,Email address\nParticipant 1234567,Carol Xu,carol@uni.example\n")
    assert dict(entries[0].ids) == {"participant": "1234567", "email": "carol@uni.example"}


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("Name,Score\nalice,3\n", "no column of identifiers"),
        ("", "empty"),
        ("Email address\n\n,\n", "no students"),
    ],
)
def test_a_file_that_is_not_a_roster_is_refused_with_one_line(tmp_path, content, complaint):
    path = tmp_path / "roster.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RosterError, match=complaint):
        read_roster(str(path))


def test_a_missing_or_binary_roster_is_one_line(tmp_path):
    with pytest.raises(RosterError, match="No such file"):
        read_roster(str(tmp_path / "nope.csv"))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00x")
    with pytest.raises(RosterError, match="not UTF-8"):
        read_roster(str(tmp_path / "bin.csv"))


@pytest.mark.parametrize(
    "a, b", [("Xu, Erin", "xuerin"), ("Zoë O'Neil", "ZOE ONEIL"), ("Zoé", "zoe"), ("Anne-Marie  Lee", "annemarielee")]
)
def test_names_compare_without_case_accents_spaces_or_punctuation(a, b):
    assert name_key(a) == name_key(b)


# ----------------------------------------------------------------------------- matching
def test_a_canvas_user_is_matched_on_the_roster_id():
    entries = parse_roster(CANVAS_ROSTER)
    assert match_person(identify("xuerin_98765_4321_conv-layer"), entries).entry == entries[0]


def test_a_canvas_user_missing_from_a_roster_with_ids_is_not_matched_by_name():
    match = match_person(identify("xuerin_55555_4321_conv-layer"), parse_roster(CANVAS_ROSTER))
    assert match.entry is None and match.reason == "Canvas user 55555 is not in the roster"


def test_a_canvas_user_is_matched_by_name_when_the_roster_has_no_canvas_ids():
    entries = parse_roster(MOODLE_ROSTER.replace("Carol,Xu", "Erin,Xu"))
    assert match_person(identify("xuerin_98765_4321_conv-layer"), entries).entry == entries[0]


def test_a_moodle_folder_is_matched_by_name_ignoring_case_and_accents():
    entries = parse_roster(MOODLE_ROSTER)
    assert match_person(identify(student_id("ZOE brandt_5_assignsubmission_file_")), entries).entry == entries[1]
    missing = match_person(identify(student_id("Dan Ho_6_assignsubmission_file_")), entries)
    assert missing.entry is None and missing.reason == "no roster entry has the name 'Dan Ho'"


def test_a_name_shared_by_two_roster_entries_matches_neither():
    entries = parse_roster(MOODLE_ROSTER + "Carol,Xu,1003,carol2@uni.example,cxu2\n")
    match = match_person(identify(student_id("Carol Xu_5_assignsubmission_file_")), entries)
    assert match.entry is None
    assert match.reason == "matches several roster entries: roster line 2 (Carol Xu), roster line 4 (Carol Xu)"


def test_gradescope_submitters_match_on_email_or_sid():
    entries = parse_roster(MOODLE_ROSTER)
    carol = Identity("gradescope", name="C. Xu", email="CAROL@uni.example")
    assert match_person(carol, entries).entry == entries[0]
    by_sid = parse_roster("SID,Name\n1234567,Carol Xu\n")
    assert match_person(Identity("gradescope", user_id="1234567"), by_sid).entry == by_sid[0]


def test_classroom_users_need_a_github_username_column():
    entries = parse_roster("identifier,github_username,github_id,name\ncarol@uni.example,octocat,1,Carol Xu\n")
    assert match_person(Identity("github-classroom", login="OctoCat"), entries).entry == entries[0]
    without = match_person(Identity("github-classroom", login="octocat"), parse_roster(MOODLE_ROSTER))
    assert without.reason == "GitHub user octocat, but the roster has no 'github_username' column"


def test_ids_in_no_format_match_any_roster_identifier_or_the_name():
    entries = parse_roster(MOODLE_ROSTER)
    assert match_student("cxu", entries).entry == entries[0]
    assert match_student("zoe@uni.example", entries).entry == entries[1]
    assert match_student("Zoe Brandt", entries).entry == entries[1]
    assert match_student("nobody", entries).entry is None
