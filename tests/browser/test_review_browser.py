"""`grader review` and `grader feedback` as an instructor uses them, in a real browser.

The command runs as it would from a terminal (a subprocess, --no-browser, any free port); the
test reads the address it prints, marks two students' answers by typing (Enter, Tab, Esc, the
j/n/p keys), reloads the page to see the marks kept, stops the server with Ctrl-C, checks
grades.csv, then opens a student's feedback page in the same browser and takes a screenshot.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys

from grader.batch import BatchRecord
from grader.course import load_course
from grader.results import PASSED, CheckResult, GradeResult, ManualItem

HOSTILE = "</textarea><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"> 'q'"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WAIT = 20  # seconds for the page to react (a loaded 2-core machine)


def course_with_points(root) -> str:
    """A copy of the course whose conv-layer free-text items are worth 2 points each (the shipped
    course gives them 0, which allows comments only)."""
    source = load_course().root
    for folder in ("rubrics", "reference"):
        shutil.copytree(os.path.join(source, folder), os.path.join(root, folder))
    path = os.path.join(root, "rubrics", "conv-layer.toml")
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"(\[\[manual\]\]\n(?:[a-z]+ = .*\n)*)", r"\1points = 2\n", f.read())
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(root)


def graded_folder(out, rubric) -> None:
    """Two students' results, as `grader grade` leaves them: alice plainly, bob with hostile text."""
    answers = {"alice": "K responds to the diagonal edges.", "bob": HOSTILE}
    os.makedirs(out / "results")
    for student, answer in answers.items():
        checks = [CheckResult(c.id, c.exercise, c.points, c.points, PASSED, c.hidden) for c in rubric.checks]
        manual = [ManualItem(m.id, m.exercise, m.prompt, answer, m.points) for m in rubric.manual]
        result = GradeResult(rubric.id, f"{student}.ipynb", rubric.max_score, checks=checks, manual=manual)
        (out / "results" / f"{student}.json").write_text(BatchRecord(student, result, "", "").to_json(), "utf-8")


def start_review(out, env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "review", str(out), "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for _ in range(5):
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/[\w-]+/", line)
        if match:
            return proc, match.group(0)
    proc.kill()
    raise AssertionError(f"no address printed: {proc.communicate()}")


def test_marks_typed_in_the_review_page_are_kept_and_reach_the_gradebook_and_feedback(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    root = course_with_points(tmp_path / "course")
    rubric = load_course(root).get("conv-layer")
    out = tmp_path / "graded"
    graded_folder(out, rubric)
    env = {**os.environ, "D2L_GRADER_COURSE": root, "PYTHONUNBUFFERED": "1"}
    proc, url = start_review(out, env)
    try:
        wait = WebDriverWait(browser, WAIT)

        def keys(*sequence: str) -> None:
            ActionChains(browser).send_keys(*sequence).perform()

        def cards():
            return browser.find_elements(By.CSS_SELECTOR, "section.card")

        def saved(count: int) -> None:
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".state.saved")) == count)

        browser.get(url)
        wait.until(lambda d: len(cards()) == 2)
        assert browser.find_element(By.ID, "prompt").text.endswith(rubric.manual[0].prompt)
        assert cards()[1].find_element(By.CLASS_NAME, "answer").text == HOSTILE  # shown as text, not run
        assert browser.title != "pwned" and browser.execute_script("return document.images.length") == 0

        keys(Keys.ENTER, "1.5", Keys.TAB, "Clear and right.", Keys.TAB)  # alice, then Tab on to bob
        keys("2", Keys.TAB, 'Careful: </textarea> "quotes"', Keys.ESCAPE)
        saved(2)
        assert browser.find_element(By.ID, "progress").text == "marked 2 of 2"
        keys("n", "j", Keys.ENTER, "0.5", Keys.TAB, "Second item.", Keys.ESCAPE)  # next item, bob
        saved(1)
        keys("k", Keys.ENTER, "7", Keys.ESCAPE)  # alice: more than the item is worth
        wait.until(lambda d: "between 0 and 2" in d.find_element(By.ID, "status").text)

        browser.refresh()  # resumable: the same item and student, the marks as saved
        wait.until(lambda d: len(cards()) == 2 and d.find_element(By.ID, "item").get_attribute("value") == "1")
        points = [c.find_element(By.CSS_SELECTOR, "input.points").get_attribute("value") for c in cards()]
        assert points == ["", "0.5"]
        keys("p")
        wait.until(lambda d: d.find_element(By.ID, "item").get_attribute("value") == "0")
        fields = [
            (
                c.find_element(By.CSS_SELECTOR, "input.points").get_attribute("value"),
                c.find_element(By.CSS_SELECTOR, "textarea").get_attribute("value"),
            )
            for c in cards()
        ]
        assert fields == [("1.5", "Clear and right."), ("2", 'Careful: </textarea> "quotes"')]
        browser.save_screenshot(str(tmp_path / "review.png"))
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, (stdout, stderr)
    assert stderr.strip().splitlines() == [f"grader: review stopped; the marks are in {out / 'manual.json'}"]

    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["alice"]["manual:ex1-observations"] == "1.5" and rows["alice"]["manual:ex2-explanation"] == ""
    assert rows["bob"]["manual:ex1-observations"] == "2" and rows["bob"]["manual:ex2-explanation"] == "0.5"
    # every check passed (rubric.max_score) plus the marks typed; max: the checks and 2 points per item
    alice, bob = f"{rubric.max_score + 1.5:g}", f"{rubric.max_score + 2 + 0.5:g}"
    most = rubric.max_score + sum(m.points for m in rubric.manual)
    assert (rows["alice"]["total"], rows["bob"]["total"], rows["bob"]["max"]) == (alice, bob, f"{most:g}")

    done = subprocess.run(
        [sys.executable, "-m", "grader", "feedback", str(out)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    browser.set_window_size(390, 844)  # a phone
    browser.get((out / "feedback" / "bob.html").as_uri())
    body = browser.find_element(By.TAG_NAME, "body").text
    assert (
        f"Score: {bob}/{most:g} ({100 * (rubric.max_score + 2.5) / most:.1f}%)" in body
        and 'Careful: </textarea> "quotes"' in body
    )
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shot = tmp_path / "feedback-bob.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(PNG_MAGIC)

    # the marks reach the LMS: Canvas and Moodle files made with a roster carry the totals above
    (tmp_path / "canvas-roster.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\nAlice Lee,101,S101,alice,A\nBob Ray,102,S102,bob,A\n",
        encoding="utf-8",
    )
    (tmp_path / "moodle-roster.csv").write_text(
        "First name,Last name,ID number,Email address,Username\n"
        "Alice,Lee,S101,alice@uni.edu,alice\nBob,Ray,S102,bob@uni.edu,bob\n",
        encoding="utf-8",
    )
    for lms in ("canvas", "moodle"):
        exported = subprocess.run(
            [
                *(sys.executable, "-m", "grader", "export", lms, str(out), "--assignment-name", "6.2"),
                *("--roster", str(tmp_path / f"{lms}-roster.csv"), "-o", str(tmp_path / f"{lms}.csv")),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "canvas.csv", encoding="utf-8") as f:
        canvas = {r["SIS Login ID"]: r for r in csv.DictReader(f) if r["Student"] != "Points Possible"}
    assert (canvas["alice"]["ID"], canvas["alice"]["6.2"], canvas["bob"]["6.2"]) == ("101", alice, bob)
    with open(tmp_path / "moodle.csv", encoding="utf-8") as f:
        moodle = {r["Email address"]: r for r in csv.DictReader(f)}
    assert (moodle["alice@uni.edu"]["6.2"], moodle["bob@uni.edu"]["6.2"]) == (alice, bob)
