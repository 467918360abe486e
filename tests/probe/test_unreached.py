"""``smtpfake probe -- python3 typo.py``: the interpreter is found, the script is not. Every case
failed alike ("exit 2", no connection; a case that wants a permanent failure even passed), a wall
of rows. Now one usage error quoting the client's own words, exit 2; a client that fails without
connecting in one case only, or differently in each, is judged as before (smtpfake/probe/
unreached.py has the rule)."""

from __future__ import annotations

from pathlib import Path

from tests.probe.test_command import PY, SMTPLIB_CLIENT, probe, rows

#: two cases: one that wants a delivery, one that wants a permanent failure (exit 2 "passes" it)
CASES = ("--case", "default", "--case", "550-at-mail")


def test_a_missing_script_is_one_error_quoting_the_client(tmp_path: Path) -> None:
    typo = tmp_path / "typo.py"
    done = probe(*CASES, "--json", str(tmp_path / "r.json"), "--", PY, str(typo))
    assert (done.returncode, done.stdout) == (2, ""), done
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "smtpfake probe: error: the client exited with status 2 in each of the 2 cases without "
        f"connecting: the command cannot be probed as given ({PY} {typo}); its output:"
    )
    assert lines[1].endswith(f"can't open file '{typo}': [Errno 2] No such file or directory")
    assert lines[1].startswith("    ")  # quoted, indented under the error
    assert lines[2:] == ["For more information, try 'smtpfake probe --help'."]
    assert not (tmp_path / "r.json").exists()  # a usage error writes no report
    # one case alone is judged: it may be the client's own failure in that case
    done = probe("--case", "default", "--", PY, str(typo))
    assert (done.returncode, rows(done.stdout)) == (1, {"default": "fail"}), done


def test_a_client_that_fails_one_case_only_before_connecting_is_judged(tmp_path: Path) -> None:
    """550-at-mail runs first (the cases go in name order): the client exits 2 there without
    connecting, as the typo does, then delivers in the other: both rows, judged as ever."""
    client = tmp_path / "client.py"
    client.write_text(
        "import os, runpy, sys\n"
        "if os.environ['SMTP_CASE'] == '550-at-mail':\n"
        "    sys.exit('not this one')\n"
        f"runpy.run_path({SMTPLIB_CLIENT!r}, run_name='__main__')\n"
    )
    done = probe(*CASES, "--", PY, str(client))
    assert rows(done.stdout) == {"550-at-mail": "pass", "default": "pass"}, done
    assert (done.returncode, done.stderr) == (0, "")


def test_a_client_that_fails_differently_in_each_case_is_judged(tmp_path: Path) -> None:
    """Never connecting, but not alike (its output names the case): the cases show it."""
    done = probe(*CASES, "--", PY, "-c", "import os, sys; sys.exit(os.environ['SMTP_CASE'])")
    assert rows(done.stdout) == {"550-at-mail": "pass", "default": "fail"}, done
    assert done.returncode == 1
