"""Storage files as a user meets them: journals are named ``journal:PATH`` or ``PATH.journal``
(``.jsonl``, the measurements suffix, is refused); only Optuna's own storage is written to (any
other existing file is refused before it is touched: one line, exit 2, the file byte for byte the
same); lock files stay in one hidden ``.locks/`` folder; ``front.json`` keeps the storage path
relative to the results folder; no private Optuna API is used where a public one serves."""

import hashlib
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import optuna
import pytest
from support import REPO, run_cli
from support.pg import pg_url, postgres  # noqa: F401 - fixtures
from support.tiny import MEASURED, costs, row, space  # noqa: F401 - fixtures

from stitchnas.errors import StorageError
from stitchnas.fronts import load_front
from stitchnas.measure import write_measurements
from stitchnas.storage import open_storage


@pytest.fixture(scope="module")
def mfile(space, costs, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.jsonl"
    write_measurements(path, [row(space, costs, i) for i in MEASURED])
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_search(capsys, mfile, out, *extra):
    return run_cli(capsys, "search", "tiny_test", "--target", "flops_budget", "--measurements", mfile,
                   "--predictor", "flops", "--sampler", "nsga2", "--trials", "6", "--out", out, *extra)


def one_line_refusal(code, out, err):
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    return err


# ---- journals ---------------------------------------------------------------------------------
def test_a_jsonl_storage_is_refused_saying_how_to_name_a_journal(mfile, tmp_path, capsys):
    before = digest(mfile)
    for spec in (str(mfile), f"journal:{mfile}", str(tmp_path / "new.jsonl")):
        err = one_line_refusal(*cli_search(capsys, mfile, tmp_path / "out", "--storage", spec))
        assert ".jsonl" in err and "journal:PATH" in err and ".journal" in err
    assert digest(mfile) == before
    assert not (tmp_path / "new.jsonl").exists() and not (tmp_path / "out").exists()
    with pytest.raises(StorageError, match="suffix of measurements files"):
        open_storage(tmp_path / "x.jsonl")


@pytest.mark.parametrize("spec", ["{d}/s.journal", "journal:{d}/s.txt", "journal:{d}/sub/s",
                                  "journal://{d}/s2.txt"])
def test_journals_are_named_by_prefix_or_suffix(spec, tmp_path):
    opened = open_storage(spec.format(d=tmp_path))
    study = optuna.create_study(storage=opened.storage, study_name="j")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert opened.label.startswith("journal:") and opened.file.is_file()
    plain = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(opened.file)))
    assert len(optuna.load_study(study_name="j", storage=plain).trials) == 2


def test_an_old_dot_log_journal_still_opens_with_a_warning(tmp_path, caplog):
    path = tmp_path / "old.log"
    with caplog.at_level("WARNING", logger="stitchnas"):
        opened = open_storage(path)
    optuna.create_study(storage=opened.storage, study_name="old")
    assert "journal" in caplog.text and "old.journal" in caplog.text


# ---- only Optuna's own storage is written to --------------------------------------------------
def _foreign_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT, salary REAL)")
    con.execute("INSERT INTO people VALUES ('ada', 1.0)")
    con.commit()
    con.close()
    return path


def _foreign(tmp_path: Path, mfile: Path) -> dict:
    files = {
        "sqlite-of-another-program.db": lambda p: _foreign_sqlite(p),
        "random-bytes.db": lambda p: p.write_bytes(os.urandom(4096)),
        "text.sqlite": lambda p: p.write_text("not a database\n"),
        "measurements.journal": lambda p: shutil.copyfile(mfile, p),
        "notes.journal": lambda p: p.write_text("dear diary\n"),
        "binary.journal": lambda p: p.write_bytes(b"\x00\xff" * 100),
        "torn-json.journal": lambda p: p.write_text('{"id": 3, "acc1"'),
    }
    out = {}
    for name, make in files.items():
        make(tmp_path / name)
        out[name] = tmp_path / name
    return out


def test_an_existing_file_that_is_not_optuna_storage_is_refused_untouched(mfile, tmp_path, capsys):
    for name, path in _foreign(tmp_path, mfile).items():
        before = digest(path)
        specs = [str(path)] + ([f"sqlite:///{path}"] if ".journal" not in name else [f"journal:{path}"])
        for spec in specs:
            err = one_line_refusal(*cli_search(capsys, mfile, tmp_path / "out", "--storage", spec))
            assert "not an Optuna storage" in err or "not a SQLite database" in err, (name, err)
            assert "untouched" in err or "left it" in err, err
        assert digest(path) == before, name
        siblings = sorted(p.name for p in tmp_path.iterdir())
        assert not [s for s in siblings if s.startswith(path.name + "-") or s == ".locks"], siblings
    assert not (tmp_path / "out").exists()


def test_a_fifo_or_a_folder_as_storage_is_refused(mfile, tmp_path, capsys):
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    (tmp_path / "dir.journal").mkdir()
    for spec, words in ((fifo, "not a regular file"), (tmp_path / "dir.journal", "is a folder")):
        err = one_line_refusal(*cli_search(capsys, mfile, tmp_path / "out", "--storage", spec))
        assert words in err


def test_new_empty_and_optuna_files_are_fine(mfile, tmp_path, capsys):
    empty_db, empty_journal = tmp_path / "empty.db", tmp_path / "empty.journal"
    empty_db.touch()
    empty_journal.touch()
    no_tables = tmp_path / "no_tables.db"
    sqlite3.connect(no_tables).close()
    theirs = tmp_path / "theirs.db"  # an Optuna database with another study in it
    optuna.create_study(storage=f"sqlite:///{theirs}", study_name="keep").optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    for k, spec in enumerate([tmp_path / "new.db", empty_db, no_tables, theirs, empty_journal,
                              f"journal:{tmp_path}/new.txt"]):
        code, out, err = cli_search(capsys, mfile, tmp_path / f"out{k}", "--storage", spec)
        assert code == 0, (spec, err)
    assert len(optuna.load_study(study_name="keep", storage=f"sqlite:///{theirs}").trials) == 3


# ---- lock files -------------------------------------------------------------------------------
LOCKISH = re.compile(r"\.(mutex|lock|flock)$|-(wal|shm|journal)$")


@pytest.mark.parametrize("storage", [None, "s.journal", "s.db"])
def test_a_search_leaves_no_lock_files_beside_its_database(mfile, tmp_path, capsys, storage):
    out = tmp_path / "results"
    extra = () if storage is None else ("--storage", tmp_path / storage)
    for sampler in ("nsga2", "exhaustive"):
        code, _, err = run_cli(capsys, "search", "tiny_test", "--target", "flops_budget",
                               "--measurements", mfile, "--predictor", "flops", "--sampler", sampler,
                               "--out", out, *extra)
        assert code == 0, err
    folder = out / "tiny_test" if storage is None else tmp_path
    db = folder / ("search.db" if storage is None else storage)
    assert db.is_file()
    beside = sorted(p.name for p in folder.iterdir())
    assert not [n for n in beside if LOCKISH.search(n)], beside
    locks = sorted(p.name for p in (folder / ".locks").iterdir())
    assert locks and all(n.startswith(db.name + ".") for n in locks), locks


# ---- front.json keeps the storage relative to the results folder ------------------------------
def test_front_json_keeps_the_storage_relative_to_the_results_folder(mfile, tmp_path, capsys):
    out = tmp_path / "here" / "results"
    code, _, err = cli_search(capsys, mfile, out)
    assert code == 0, err
    doc_path = out / "tiny_test" / "flops_budget" / "front.json"
    text = doc_path.read_text()
    assert json.loads(text)["study"]["storage"] == "sqlite:///${results}/tiny_test/search.db"
    assert str(tmp_path) not in text  # no absolute path of the machine that searched
    # the results folder copied elsewhere: the front points at the copy's database
    moved = tmp_path / "elsewhere" / "res"
    shutil.copytree(out, moved)
    shutil.rmtree(tmp_path / "here")
    front = load_front("tiny_test", "flops_budget", path=moved / "tiny_test" / "flops_budget" / "front.json")
    url = front.study["storage"]
    assert url == f"sqlite:///{moved.resolve()}/tiny_test/search.db"
    study = optuna.load_study(study_name=front.study["study_name"], storage=url)
    assert study.metric_names == ["acc1", "flops"]
    assert len(study.trials) == front.study["n_trials"]
    # re-saved through the library: relative again
    from stitchnas.fronts import save_front

    save_front(front, moved / "tiny_test" / "flops_budget")
    assert "${results}" in (moved / "tiny_test" / "flops_budget" / "front.json").read_text()


def test_front_json_keeps_its_measurements_relative_to_the_results_folder(mfile, tmp_path, capsys,
                                                                         monkeypatch):
    """Measurements under the results folder (as `stitchnas run` writes them) are saved as
    ``${results}/...``: after the folder is moved, and from any working folder, the front finds
    them, so whether they changed since the search can still be told; a file outside the results
    folder keeps its path as given."""
    from stitchnas.fronts import stale_front_note

    out = tmp_path / "here" / "results"
    inside = out / "tiny_test" / "run" / "measurements.jsonl"
    inside.parent.mkdir(parents=True)
    shutil.copy(mfile, inside)
    monkeypatch.chdir(tmp_path / "here")
    assert cli_search(capsys, "results/tiny_test/run/measurements.jsonl", "results")[0] == 0
    doc = json.loads((out / "tiny_test" / "flops_budget" / "front.json").read_text())
    assert doc["measurements"] == "${results}/tiny_test/run/measurements.jsonl"
    moved = tmp_path / "elsewhere" / "res"
    shutil.copytree(out, moved)
    shutil.rmtree(tmp_path / "here")
    monkeypatch.chdir(tmp_path)
    front = load_front("tiny_test", "flops_budget", path=moved / "tiny_test" / "flops_budget" / "front.json")
    assert front.measurements == str(moved.resolve() / "tiny_test" / "run" / "measurements.jsonl")
    assert stale_front_note(front) is None
    with open(front.measurements, "a") as f:
        f.write(open(mfile).readline())  # a repeated row: same stitches, another file
    assert stale_front_note(front).startswith(f"{front.measurements} has changed since")
    assert cli_search(capsys, mfile, tmp_path / "out2")[0] == 0  # outside: as given
    assert json.loads((tmp_path / "out2" / "tiny_test" / "flops_budget" / "front.json").read_text())[
        "measurements"] == str(mfile)


def test_old_fronts_with_absolute_paths_and_server_urls_still_load(mfile, tmp_path, capsys):
    out = tmp_path / "results"
    assert cli_search(capsys, mfile, out)[0] == 0
    doc_path = out / "tiny_test" / "flops_budget" / "front.json"
    doc = json.loads(doc_path.read_text())
    for storage, expect in (("sqlite:////old/machine/results/tiny_test/search.db",
                             "sqlite:////old/machine/results/tiny_test/search.db"),
                            ("postgresql://nas:s3cr/t#x@db/optuna", "postgresql://nas:***@db/optuna")):
        doc["study"]["storage"] = storage
        doc_path.write_text(json.dumps(doc))
        front = load_front("tiny_test", "flops_budget", path=doc_path)
        assert front.study["storage"] == expect
        from stitchnas.fronts import save_front

        save_front(front, doc_path.parent)
        saved = json.loads(doc_path.read_text())["study"]["storage"]
        assert saved == expect and "s3cr" not in doc_path.read_text()


def test_a_storage_outside_the_results_folder_is_kept_as_given(mfile, tmp_path, capsys):
    db = tmp_path / "shared" / "x.db"
    assert cli_search(capsys, mfile, tmp_path / "results", "--storage", db)[0] == 0
    doc = json.loads((tmp_path / "results" / "tiny_test" / "flops_budget" / "front.json").read_text())
    assert doc["study"]["storage"] == f"sqlite:///{db.resolve()}"


# ---- public Optuna API only -------------------------------------------------------------------
PRIVATE = re.compile(r"\._storage\b|\._study_id\b|\._trial_id\b|_populate_tree|"
                     r"optuna\.storages\.journal\._|optuna\.storages\._|optuna\.samplers\._")


def test_no_private_optuna_api_in_storage_and_search():
    hits = []
    for folder in ("storage", "optimize"):
        for path in sorted((REPO / "stitchnas" / folder).glob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if PRIVATE.search(code) and "self._storage" not in code:
                    hits.append(f"{path.name}:{n}: {line.strip()}")
    assert not hits, hits


def test_a_server_database_of_something_else_is_refused_untouched(pg_url, mfile, tmp_path, capsys):  # noqa: F811
    """PostgreSQL: a database holding other tables is refused before Optuna creates its own."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(pg_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE invoices (id int primary key, total numeric)"))
            conn.execute(sqlalchemy.text("INSERT INTO invoices VALUES (1, 9.5)"))
        url = "postgresql://" + pg_url.split("://", 1)[1]
        err = one_line_refusal(*cli_search(capsys, mfile, tmp_path / "out", "--storage", url))
        assert "is a database of something else (tables invoices)" in err
        with engine.connect() as conn:
            assert set(sqlalchemy.inspect(conn).get_table_names()) == {"invoices"}
    finally:
        engine.dispose()


def test_search_without_a_target_searches_flops_and_says_so(mfile, tmp_path, capsys):
    """`stitchnas search SPACE` alone: the FLOPs target, which needs no device or latency table,
    with a note naming it; `query SPACE` then reads that front without a target either."""
    code, out, err = run_cli(capsys, "search", "tiny_test", "--measurements", mfile, "--out", tmp_path)
    assert code == 0, err
    assert "no --target: searching `flops`" in err and err.count("no --target") == 1
    assert "tiny_test on flops:" in out
    assert (tmp_path / "tiny_test" / "flops" / "front.json").is_file()
    assert sorted(p.parent.name for p in (tmp_path / "tiny_test").glob("*/front.json")) == ["flops"]
    code, out, err = run_cli(capsys, "query", "tiny_test", "--front",
                             tmp_path / "tiny_test" / "flops" / "front.json", "--max-flops", "1e12")
    assert code == 0 and json.loads(out)["target"] == "flops"
