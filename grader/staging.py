"""Reading submissions from disk: the one place that does.

A submission is *read, never followed*. Whatever a student hands in — a notebook, a folder
of files, an archive the instructor unpacked — may hold symbolic links, hard links, FIFOs or
device nodes meant to make the grader read (and score, or copy into a kernel) something
that is not the student's: the course's reference notebook, another student's folder,
`/etc/shadow`. So everything below the submissions folder is opened component by component
relative to an open directory, with `O_NOFOLLOW`, and checked with `fstat`; only regular
files that lie inside the student's own folder are ever read:

* a symbolic link is never followed (not as a student's folder, not as a notebook, not as a
  folder or file inside a student's folder); the submissions folder itself, and the folders
  above it, are the instructor's and may be links;
* a regular file with more than one hard link (`st_nlink > 1`) is refused: its other name
  may be a course file (a hard link is indistinguishable from the original). Re-copy the
  submissions (`cp -r`, a fresh unpack) if a backup tool made them hard links;
* FIFOs, sockets and devices are refused without being opened for reading (`O_NONBLOCK`);
* hidden entries (names starting with ".": `.git`, `.ipynb_checkpoints`, `.DS_Store`) are
  skipped, links or not.

A refused *notebook* means the submission is not graded (its result says why); a refused
*other file* of a student's folder is left out of the kernel's copy, and the result says so.

The API:

* `discover(folder, notebook_name)` -> `[Submission]`: every student in a submissions folder
  (one `.ipynb` per student, or one folder per student), with a unique, stable, reversible
  id each (`student_id`); two entries with the same id raise `StudentIdCollision`;
* `read_notebook_bytes(path, below=None)` -> bytes: a notebook opened without following
  links (and, with `below`, reached from that folder without crossing any), or
  `SubmissionRefused` with the one-line reason;
* `stage(notebook, own_files, scratch)`: copy the notebook and the student's own regular
  files into a kernel's scratch folder; returns what was left out, and why;
* `student_id(name)` / `name_from_id(id)`: the id scheme and its inverse;
* `submission_student_id(name)`: the id `discover` gives an entry (`student_id` of its name,
  except for a Canvas download name: see there).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # roster imports this module
    from .roster import Identity

NOTEBOOK_SUFFIX = ".ipynb"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024  # as grader.notebook: larger notebooks are refused there too
MAX_OWN_FILES_BYTES = 50 * 1024 * 1024  # a student's other files, all together
MAX_OWN_FILES = 2000  # entries looked at in one student's folder
MAX_DEPTH = 16  # folder nesting inside a student's folder
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class SubmissionRefused(ValueError):
    """A submission (or its notebook) is not read; str() is the one-line reason."""


class StudentIdCollision(ValueError):
    """Two entries of a submissions folder would be the same student; str() names both."""


# ----------------------------------------------------------------------------- student ids
# Readable where that is safe, reversible and collision-free everywhere:
#
# * a name of ASCII letters, digits and `. _ @ -` is its own id (`alice`, `a.b@uni.edu`);
# * every other byte of the name's UTF-8 (file-system) encoding is written `%XX`, upper-case
#   hex, `%` included, so `Zoë` -> `Zo%C3%AB`, `Zoé` -> `Zo%C3%A9`, `carol x` -> `carol%20x`,
#   `bob!` -> `bob%21`: different names never give the same id, and `name_from_id` undoes it;
# * a leading or trailing `.` is escaped too (no hidden results files, none Windows strips),
#   and so is the first letter of a name Windows reserves for a device (`con` -> `%63on`);
# * an id longer than 160 characters keeps its first 140 and ends in `~` and 16 hex digits of
#   the name's SHA-256 (`~` never appears otherwise): still unique; the full name is in the
#   result's `submission.name`.
#
# Ids are pure ASCII, so `results/<id>.json` is a valid file name on Linux, macOS and Windows.
# Those file systems may ignore case, so two ids that differ only in case collide (an error,
# naming both entries, never an overwrite).
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-")
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)
MAX_ID_LENGTH = 160
_HASHED_PREFIX = 140


def student_id(name: str) -> str:
    """The id of a student whose file (without `.ipynb`) or folder is called `name`."""
    raw = os.fsencode(name)
    if not raw:
        raise ValueError("a student's name cannot be empty")
    out = []
    last = len(raw) - 1
    for i, byte in enumerate(raw):
        if byte in _SAFE and not (byte == ord(".") and i in (0, last)):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    text = "".join(out)
    stem = text.split(".", 1)[0].lower()
    if stem in _WINDOWS_DEVICES:
        text = f"%{ord(text[0]):02X}" + text[1:]
    if len(text) > MAX_ID_LENGTH:
        cut = text[:_HASHED_PREFIX]
        if "%" in cut[-2:]:  # never split an escape
            cut = cut[: cut.rindex("%")]
        text = cut + "~" + hashlib.sha256(raw).hexdigest()[:16]
    return text


def name_from_id(student: str) -> str:
    """The name `student_id` was made from (ValueError for a shortened, hashed id)."""
    if "~" in student:
        raise ValueError(f"{student!r} is a shortened id: the full name is in its result's submission.name")
    raw = bytearray()
    i = 0
    while i < len(student):
        char = student[i]
        if char == "%":
            raw.append(int(student[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(ord(char))
            i += 1
    return os.fsdecode(bytes(raw))


def submission_student_id(name: str, gradescope: Mapping[str, Identity] | None = None) -> str:
    """The id `discover` gives the submission whose file (without `.ipynb`) or folder is `name`.

    `student_id(name)`, except for a Canvas download name (`grader.roster`): Canvas names each
    file after the submission (`xuerin_98765_4321_conv-layer`, and a resubmission
    `xuerin_LATE_98765_4400_conv-layer-1`), so that id would change with every resubmission and
    lose the student's earlier result (`--resume`), their `--student` id and their marks in
    `manual.json`. Its id is `<name>_<user id>` (`xuerin_98765`) instead: Canvas's user id is the
    student's for good. Such an id does not decode to the name (`name_from_id`): the name is
    the one the result records (`submission.name`), where exports and the late policy read it.
    A Gradescope export's folders are named after the submission too (`submission_123456`);
    with its `submission_metadata.yml` (`gradescope`: folder name -> who submitted it), the id
    is `gradescope_<SID>` (or `gradescope_<email>` without a SID) of the first submitter.
    Moodle's folder names (one per participant), GitHub Classroom's (one per login) and plain
    names already stay the same across resubmissions and keep `student_id(name)`.
    """
    from .roster import CANVAS, parse_download_name  # roster reads ids with this module's name_from_id

    identity = parse_download_name(name, gradescope=gradescope)
    if identity is not None and identity.lms == CANVAS:
        return student_id(f"{identity.name}_{identity.user_id}")
    if identity is not None and gradescope and name in gradescope and (identity.user_id or identity.email):
        return student_id(f"gradescope_{identity.user_id or identity.email}")
    return student_id(name)


GRADESCOPE_METADATA = "submission_metadata.yml"


def _gradescope_submitters(root_fd: int, entries: dict[str, os.stat_result]) -> dict[str, Identity]:
    """A Gradescope export's `submission_metadata.yml` (a regular file at the top of the
    submissions folder), read; {} when there is none or it cannot be read: ids then stay the
    folder names, unique and resumable all the same."""
    st = entries.get(GRADESCOPE_METADATA)
    if st is None or file_problem(GRADESCOPE_METADATA, st):
        return {}
    from .roster import RosterError, parse_gradescope_metadata

    try:
        fd = os.open(GRADESCOPE_METADATA, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=root_fd)
        with os.fdopen(fd, "rb") as f:
            text = f.read(MAX_NOTEBOOK_BYTES).decode("utf-8")
        return parse_gradescope_metadata(text)
    except (OSError, UnicodeDecodeError, RosterError):
        return {}


# ----------------------------------------------------------------------------- discovery
@dataclass(frozen=True)
class Submission:
    """One student's submission, as found (nothing in it is trusted)."""

    student: str  # the id: unique, stable, safe as a file name
    name: str  # the entry's name in the submissions folder (file or folder), as found
    path: str  # that entry
    notebook: str | None  # the notebook to grade; None: not graded, `problem` says why
    own_files: str | None  # the student's folder (folder layout), whose regular files the kernel gets
    problem: str = ""
    notes: tuple[str, ...] = field(default=())  # entries of the folder left out of the kernel's copy, and why

    @property
    def label(self) -> str:
        """How messages name the entry: `alice/` for a folder, `bob.ipynb` for a file."""
        return self.name + ("/" if self.own_files is not None else "")


def discover(folder: str, notebook_name: str) -> list[Submission]:
    """Every submission in `folder`, sorted by id.

    A `.ipynb` file is a student (id from the file name without `.ipynb`), a folder is a
    student (id from the folder name; its notebook is `notebook_name`, or its only notebook),
    ids as `submission_student_id` gives them;
    other regular files (a roster, a README) are not submissions; hidden entries are skipped;
    a link, FIFO, socket or device is a student whose submission is refused. Raises
    FileNotFoundError when `folder` is not a folder and StudentIdCollision when two entries
    would be the same student.
    """
    try:
        root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise FileNotFoundError(f"{folder}: no such folder") from None
    try:
        found = []
        listing = _listing(root)
        gradescope = _gradescope_submitters(root, dict(listing))
        for name, st in listing:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            is_notebook_name = name.endswith(NOTEBOOK_SUFFIX) and len(name) > len(NOTEBOOK_SUFFIX)
            base = name[: -len(NOTEBOOK_SUFFIX)] if is_notebook_name else name
            if stat.S_ISDIR(st.st_mode):
                found.append(_folder_submission(root, folder, name, notebook_name, gradescope))
            elif stat.S_ISREG(st.st_mode):
                if not is_notebook_name:
                    continue  # a roster, a README: not a submission
                problem = file_problem(name, st)
                student = submission_student_id(base, gradescope)
                found.append(Submission(student, name, path, None if problem else path, None, problem))
            else:
                student = submission_student_id(base, gradescope)
                found.append(Submission(student, name, path, None, None, file_problem(name, st)))
    finally:
        os.close(root)
    _check_collisions(found)
    return sorted(found, key=lambda s: s.student)


def _check_collisions(found: list[Submission]) -> None:
    by_id: dict[str, list[Submission]] = {}
    for sub in found:
        by_id.setdefault(sub.student.lower(), []).append(sub)
    clashes = []
    for subs in by_id.values():
        if len(subs) > 1:
            names = " and ".join(repr(s.label) for s in sorted(subs, key=lambda s: s.name))
            ids = sorted({s.student for s in subs})
            clashes.append(f"{names} would both be student {' / '.join(ids)}")
    if clashes:
        raise StudentIdCollision(
            "student ids collide (ids ignore case, so results can live on any file system): "
            + "; ".join(clashes)
            + "; rename or remove one of each"
        )


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def file_problem(label: str, st: os.stat_result) -> str:
    """Why a would-be notebook or own file is refused ("" when it is a plain regular file)."""
    if stat.S_ISLNK(st.st_mode):
        return f"{label} is a symbolic link: the grader never follows links; submit the file or folder itself"
    if not stat.S_ISREG(st.st_mode):
        return f"{label} is {_kind(st)}, not a regular file"
    if st.st_nlink > 1:
        return (
            f"{label} has {st.st_nlink} hard links: the grader only reads files that are their data's "
            "only name (copy the file instead of linking it)"
        )
    return ""


def _listing(dir_fd: int) -> list[tuple[str, os.stat_result]]:
    """An open folder's entries with their own (never a link target's) status, by name."""
    listed = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            try:
                listed.append((entry.name, entry.stat(follow_symlinks=False)))
            except OSError:
                continue  # gone meanwhile
    return sorted(listed, key=lambda item: item[0])


@dataclass
class _Entry:
    rel: str  # path below the student's folder, "/"-separated
    st: os.stat_result


def _walk(dir_fd: int, prefix: str = "", depth: int = 0, budget: list[int] | None = None) -> Iterator[_Entry]:
    """Every non-hidden entry below an open folder, never following a link; folders are
    entered through file descriptors opened with O_NOFOLLOW, so nothing can be swapped
    for a link between looking and reading."""
    budget = budget if budget is not None else [MAX_OWN_FILES]
    for name, st in _listing(dir_fd):
        if name.startswith("."):
            continue
        budget[0] -= 1
        if budget[0] < 0:
            return
        rel = prefix + name
        yield _Entry(rel, st)
        if stat.S_ISDIR(st.st_mode) and depth < MAX_DEPTH:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # swapped for a link, or gone: not entered
            try:
                yield from _walk(child, rel + "/", depth + 1, budget)
            finally:
                os.close(child)


def _folder_submission(
    root_fd: int, folder: str, name: str, notebook_name: str, gradescope: Mapping[str, Identity]
) -> Submission:
    path = os.path.join(folder, name)
    student = submission_student_id(name, gradescope)
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
    except OSError as exc:
        return Submission(student, name, path, None, path, f"{name}/ cannot be read ({exc.strerror})")
    try:
        budget = [MAX_OWN_FILES]
        entries = list(_walk(fd, budget=budget))
    finally:
        os.close(fd)
    notes = [f"{name}/ holds more than {MAX_OWN_FILES} entries: only the first were looked at"] if budget[0] < 0 else []
    candidates = [e for e in entries if e.rel.endswith(NOTEBOOK_SUFFIX)]
    chosen: _Entry | None = None
    problem = ""
    if not candidates:
        problem = "no .ipynb notebook in the submission folder"
    elif len(candidates) == 1:
        chosen = candidates[0]
    else:
        named = [e for e in candidates if os.path.basename(e.rel) == notebook_name]
        if len(named) == 1:
            chosen = named[0]
        else:
            problem = f"several notebooks in the submission folder and none is named {notebook_name}: " + ", ".join(
                e.rel for e in candidates
            )
    if chosen is not None:
        problem = file_problem(f"{name}/{chosen.rel}", chosen.st)
    for entry in entries:
        if entry is chosen or stat.S_ISDIR(entry.st.st_mode):
            continue
        why = file_problem(f"{name}/{entry.rel}", entry.st)
        if why:
            notes.append(why + " (it was not given to the notebook)")
    notebook = os.path.join(path, *chosen.rel.split("/")) if chosen is not None and not problem else None
    return Submission(student, name, path, notebook, path, problem, tuple(notes))


# ----------------------------------------------------------------------------- reading
def _refusal(label: str, exc: OSError, dir_fd: int | None, name: str) -> SubmissionRefused:
    """The reason an O_NOFOLLOW open failed, in words."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        return SubmissionRefused(file_problem(label, st))
    if exc.errno == errno.ENOENT:
        return SubmissionRefused(f"{label}: no such file")
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return SubmissionRefused(
            f"{label} lies in a folder that is a symbolic link (or not a folder): the grader never follows links"
        )
    return SubmissionRefused(f"{label} cannot be read ({exc.strerror or exc})")


def _open_folder(folder: str, path: str) -> int:
    """An O_NOFOLLOW descriptor of the student's folder, or SubmissionRefused naming `path`."""
    try:
        return os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        try:
            is_link = stat.S_ISLNK(os.lstat(folder).st_mode)
        except OSError:
            is_link = False
        if is_link:
            raise SubmissionRefused(f"{folder} is a symbolic link: the grader never follows links") from None
        raise SubmissionRefused(f"{path}: the student's folder cannot be read ({exc.strerror or exc})") from None


def _split_below(path: str, below: str) -> list[str]:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(below))
    parts = rel.split(os.sep)
    if rel == "." or parts[0] == os.pardir:
        raise SubmissionRefused(f"{path} is not inside the student's folder")
    return parts


def read_notebook_bytes(path: str, below: str | None = None, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of the notebook at `path`, read without following any link.

    Without `below`, only `path`'s last component must not be a link (the folders above it
    are the caller's). With `below` (the student's folder), `path` must lie inside it and no
    folder between the two may be a link either. Refuses (SubmissionRefused, with the
    one-line reason) links, FIFOs and other special files, files with several hard links,
    and files larger than `limit`.
    """
    dir_fd = None
    name = path
    try:
        if below is not None:
            parts = _split_below(path, below)
            dir_fd = _open_folder(below, path)
            try:
                inner = _open_dir(dir_fd, "/".join(parts[:-1]))
            except OSError:
                raise SubmissionRefused(
                    f"{path} lies in a folder that is a symbolic link (or not a folder): the grader never follows links"
                ) from None
            os.close(dir_fd)
            dir_fd, name = inner, parts[-1]
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise _refusal(path, exc, dir_fd, name) from None
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    try:
        st = os.fstat(fd)
        problem = file_problem(path, st)
    except BaseException:
        os.close(fd)
        raise
    if problem:
        os.close(fd)
        raise SubmissionRefused(problem)
    with os.fdopen(fd, "rb") as f:
        if st.st_size > limit:
            raise SubmissionRefused(
                f"{path}: the notebook is {st.st_size // 2**20} MiB, larger than the {limit // 2**20} MiB limit "
                "(clear its outputs and try again)"
            )
        data = f.read(limit + 1)
    if len(data) > limit:
        raise SubmissionRefused(f"{path}: the notebook is larger than the {limit // 2**20} MiB limit")
    return data


def check_notebook(path: str, below: str | None = None) -> None:
    """Refuse (SubmissionRefused) what `read_notebook_bytes` would refuse, without keeping the bytes."""
    read_notebook_bytes(path, below)


def notebook_sha256(path: str | None, below: str | None = None) -> str:
    """SHA-256 of a notebook's bytes read as `read_notebook_bytes` reads them ("" for None)."""
    if path is None:
        return ""
    return hashlib.sha256(read_notebook_bytes(path, below)).hexdigest()


def own_files_sha256(own_files: str | None) -> str:
    """A digest of what `stage` would give a kernel of the student's folder: every regular,
    singly-linked file's path and content, and every refused entry's path (so a changed data
    file regrades the notebook)."""
    if own_files is None:
        return ""
    digest = hashlib.sha256()
    try:
        fd = os.open(own_files, _DIR_FLAGS)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    try:
        for entry in _walk(fd):
            if stat.S_ISDIR(entry.st.st_mode):
                continue
            rel = os.fsencode(entry.rel)
            if file_problem(entry.rel, entry.st):
                digest.update(b"refused\0" + rel + b"\0")
                continue
            digest.update(b"file\0" + rel + b"\0")
            try:
                file_fd = _open_file(fd, entry.rel)
            except OSError:
                digest.update(b"unreadable\0")
                continue
            with os.fdopen(file_fd, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _open_dir(base_fd: int, rel: str) -> int:
    """A new O_NOFOLLOW descriptor of the folder `rel` ("/"-separated, "" for the folder itself)."""
    fd = os.dup(base_fd)
    try:
        for part in rel.split("/") if rel else []:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_file(base_fd: int, rel: str) -> int:
    """Open `rel` ("/"-separated, below the open folder `base_fd`) with O_NOFOLLOW at every step;
    OSError unless it is a regular file with a single link."""
    parent, _, name = rel.rpartition("/")
    dir_fd = _open_dir(base_fd, parent)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        problem = file_problem(rel, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    if problem:  # swapped since it was listed
        os.close(fd)
        raise OSError(errno.EINVAL, problem)
    return fd


# ----------------------------------------------------------------------------- staging
def stage(
    notebook: str,
    own_files: str | None,
    scratch: str,
    *,
    notebook_data: bytes | None = None,
    max_bytes: int = MAX_OWN_FILES_BYTES,
) -> list[str]:
    """Copy a submission into a kernel's scratch folder; return what was left out, and why.

    The notebook goes to `scratch/<its file name>` (its bytes: `notebook_data` when the
    caller already read them with `read_notebook_bytes`, else read here the same way). With
    `own_files` (the student's folder), every regular, singly-linked, non-hidden file of that
    folder's tree is copied to the same relative place (folders recreated, never a link
    followed), up to `max_bytes` in all; links, special files and hard-linked files are left
    out and listed in the returned notes. Raises SubmissionRefused when the notebook itself
    cannot be read safely (nothing useful can run then).
    """
    if notebook_data is None:
        notebook_data = read_notebook_bytes(notebook, own_files)
    notes: list[str] = []
    scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        if own_files is not None:
            skip = "/".join(_split_below(notebook, own_files))
            notes = _copy_tree(own_files, scratch_fd, skip, max_bytes)
        _write(scratch_fd, os.path.basename(notebook), notebook_data, replace=True)
    finally:
        os.close(scratch_fd)
    return notes


def _copy_tree(own_files: str, scratch_fd: int, skip: str, max_bytes: int) -> list[str]:
    notes: list[str] = []
    label = os.path.basename(os.path.normpath(own_files))
    try:
        src = os.open(own_files, _DIR_FLAGS)
    except OSError as exc:
        return [f"{label}/ cannot be read ({exc.strerror}): none of its files were given to the notebook"]
    total = 0
    made = {""}  # folders recreated in the scratch folder
    try:
        for entry in _walk(src):
            parent, _, name = entry.rel.rpartition("/")
            if parent not in made:
                continue  # below a folder that could not be made
            if stat.S_ISDIR(entry.st.st_mode):
                try:
                    target = _open_dir(scratch_fd, parent)
                    try:
                        os.mkdir(name, 0o755, dir_fd=target)
                    finally:
                        os.close(target)
                    made.add(entry.rel)
                except OSError:
                    pass
                continue
            if entry.rel == skip:
                continue
            why = file_problem(f"{label}/{entry.rel}", entry.st)
            if why:
                notes.append(why + " (it was not given to the notebook)")
                continue
            if total + entry.st.st_size > max_bytes:
                notes.append(
                    f"{label}/{entry.rel} was not given to the notebook: the student's files exceed "
                    f"{max_bytes // 2**20} MiB in all"
                )
                continue
            try:
                fd = _open_file(src, entry.rel)
            except OSError:
                notes.append(f"{label}/{entry.rel} was not given to the notebook: it could not be read safely")
                continue
            with os.fdopen(fd, "rb") as f:
                if total + os.fstat(f.fileno()).st_size > max_bytes:
                    notes.append(f"{label}/{entry.rel} changed while it was copied: it was not given to the notebook")
                    continue
                data = f.read(max_bytes - total + 1)
            total += len(data)
            try:
                target = _open_dir(scratch_fd, parent)
                try:
                    _write(target, name, data, replace=False)
                finally:
                    os.close(target)
            except OSError:
                notes.append(f"{label}/{entry.rel} could not be copied for the notebook")
    finally:
        os.close(src)
    return notes


def _write(dir_fd: int, name: str, data: bytes, replace: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_TRUNC if replace else os.O_EXCL
    if replace:
        try:  # whatever stands there (say, a link) is replaced, never written through
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
    fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
