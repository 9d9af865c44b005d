import subprocess

from lnet.tracking.run import git_info


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_git_info_reports_the_code_the_process_started_with(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one")
    _git(tmp_path, "add", "a.txt")
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    _git(tmp_path, *env, "commit", "-qm", "first")
    first = git_info(tmp_path)
    assert len(first["git.commit"]) == 40 and first["git.dirty"] == "false"
    # the checkout moves on while the process runs: later jobs still report the first state
    (tmp_path / "a.txt").write_text("two")
    _git(tmp_path, *env, "commit", "-qam", "second")
    assert git_info(tmp_path) == first
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert head != first["git.commit"]


def test_git_info_outside_a_repository_is_unknown(tmp_path):
    assert git_info(tmp_path / "nowhere") == {"git.commit": "unknown", "git.dirty": "unknown"}
