"""The three tests every assignment gets, made from its own tables.

Each assignment's test file lists its alternative correct answers and its plausible wrong
answers (text replacements in the solved notebook, with the exact points each wrong answer
must lose), then calls `standard_tests(...)` and binds the returned tests at module level,
where pytest collects them.
"""

from __future__ import annotations

import pytest
from nbfactory import from_cells, lost, variant


def standard_tests(
    rubric_id: str,
    notebook: str,
    max_score: float,
    answered: list[str],
    alternatives: dict[str, dict[str, str]],
    wrong: dict[str, tuple[dict[str, str], dict[str, float]]],
    diagnosed: dict[str, dict[str, str]] | None = None,
):
    """Return (grade, reference test, alternatives test, wrong-answers test, diagnoses test)
    for one assignment. `diagnosed`: for a wrong answer whose misconception the rubric knows,
    the words its failed checks' messages must contain, by check id."""
    known = diagnosed or {}
    assert set(known) <= set(wrong), set(known) - set(wrong)

    def grade(grader, rubrics, path):
        return grader.grade(path, rubrics[rubric_id])

    def test_reference_scores_full_marks(grader, rubrics, tmp_path):
        result = grade(grader, rubrics, variant(notebook, tmp_path))
        assert result.errors == [], result.errors
        assert result.score == result.max_score == max_score
        assert [m.id for m in result.manual if m.answer] == answered

    @pytest.mark.parametrize("name", sorted(alternatives))
    def test_alternative_correct_answers_pass(grader, rubrics, tmp_path, name):
        result = grade(grader, rubrics, variant(notebook, tmp_path, alternatives[name]))
        assert result.errors == [], result.errors
        assert lost(result) == {}, [(c.id, c.message) for c in result.checks if c.status != "passed"]

    @pytest.mark.parametrize("name", sorted(wrong))
    def test_plausible_wrong_answer_loses_exactly_its_points(grader, rubrics, tmp_path, name):
        replace, expected_loss = wrong[name]
        result = grade(grader, rubrics, variant(notebook, tmp_path, replace))
        assert lost(result) == expected_loss, (
            result.errors,
            [(c.id, c.message) for c in result.checks if c.status != "passed"],
        )
        messages = {c.id: c.message for c in result.checks}
        for check_id, words in known.get(name, {}).items():  # the misconception is named
            assert words in messages[check_id], (check_id, messages[check_id])

    def test_every_public_diagnosis_is_met_by_a_wrong_answer(rubrics):
        """No diagnosis of a public check is dead text: some plausible wrong answer triggers it."""
        rubric = rubrics[rubric_id]
        declared = {(c.id, d.message) for c in rubric.checks if not c.hidden for d in getattr(c, "diagnoses", [])}
        met = {
            (check_id, message)
            for check_id, message in declared
            if any(words.get(check_id) is not None and words[check_id] in message for words in known.values())
        }
        assert declared == met, declared - met

    return (
        grade,
        test_reference_scores_full_marks,
        test_alternative_correct_answers_pass,
        test_plausible_wrong_answer_loses_exactly_its_points,
        test_every_public_diagnosis_is_met_by_a_wrong_answer,
    )


def missing_names_test(rubric_id: str, missing: dict[str, str], all_errors: bool = True):
    """A test that a notebook defining none of the assignment's names scores 0 and that each
    check in `missing` (by id) names the name it could not find, hidden checks included (a
    missing name reveals nothing about hidden inputs). `all_errors`: every check is an error,
    not a failure (an assignment whose checks judge a literal can fail instead)."""

    def test_missing_names_are_reported_not_crashed(grader, rubrics, tmp_path):
        notebook = from_cells(tmp_path, ["import torch"], assignment=rubric_id)
        result = grader.grade(notebook, rubrics[rubric_id])
        assert result.score == 0
        if all_errors:
            assert {c.status for c in result.checks} == {"error"}
        messages = {c.id: c.message for c in result.checks}
        for check_id, name in missing.items():
            assert f"`{name}` is not defined in your notebook" in messages[check_id], (check_id, messages[check_id])

    return test_missing_names_are_reported_not_crashed
