"""`scripts/new-module` end to end: it generates a module into a scratch copy of this package, and the copy builds and
passes the generated tests (the router-level Swift suite and the Python end-to-end test against the copy's binary).

The copy lives at .build/scaffold-check/package (git-ignored, kept between runs) and is refreshed file by file, copying
only files whose content changed, so a second run rebuilds only what changed; the first run on a machine is a cold
build of the copy (about as long as the package's own). PARLEY_SKIP_SCAFFOLD_CHECK=1 skips it for a quick local run.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO

SCRATCH = REPO / ".build" / "scaffold-check"
PACKAGE = SCRATCH / "package"
BUILD_TIMEOUT = 45 * 60


def package_files(root: Path) -> list[str]:
    """Tracked files and new files not ignored: what a commit of the working tree would hold."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, check=True).stdout.decode()
    return [path for path in listed.split("\0") if path and (root / path).is_file()]


def sync(source: Path, target: Path) -> None:
    """Makes `target` hold exactly `source`'s files (besides .build), touching only files that differ."""
    wanted = set()
    for dirpath, dirnames, filenames in os.walk(source):
        for name in filenames:
            path = Path(dirpath, name)
            relative = path.relative_to(source)
            wanted.add(relative)
            destination = target / relative
            if not destination.exists() or not filecmp.cmp(path, destination, shallow=False):
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
    for dirpath, dirnames, filenames in os.walk(target, topdown=True):
        if Path(dirpath) == target:
            dirnames[:] = [d for d in dirnames if d != ".build"]
        for name in filenames:
            path = Path(dirpath, name)
            if path.relative_to(target) not in wanted:
                path.unlink()


def run(command: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    return done


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
@pytest.mark.skipif(os.environ.get("PARLEY_SKIP_SCAFFOLD_CHECK") == "1", reason="PARLEY_SKIP_SCAFFOLD_CHECK=1")
def test_a_generated_module_builds_and_passes_its_generated_tests():
    with tempfile.TemporaryDirectory() as staging_dir:
        staging = Path(staging_dir)
        for relative in package_files(REPO):
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / relative, destination)
        # The same dependency versions as this checkout (Package.resolved is not in git).
        if (REPO / "Package.resolved").exists():
            shutil.copy2(REPO / "Package.resolved", staging / "Package.resolved")
        assert not (staging / "Plugins" / "Polls").exists(), "the package already has a polls module"
        generated = run([sys.executable, str(staging / "scripts" / "new-module"), "polls"], cwd=staging)
        assert "Plugins/Polls/" in generated.stdout
        # The script refuses to run twice, and refuses a bad id, writing nothing.
        again = subprocess.run([sys.executable, str(staging / "scripts" / "new-module"), "polls"], cwd=staging,
                               capture_output=True, text=True)
        assert again.returncode == 2 and "already exist" in again.stderr
        bad = subprocess.run([sys.executable, str(staging / "scripts" / "new-module"), "Polls-2"], cwd=staging,
                             capture_output=True, text=True)
        assert bad.returncode == 2 and not (staging / "Plugins" / "Polls-2").exists()
        PACKAGE.mkdir(parents=True, exist_ok=True)
        sync(staging, PACKAGE)

    package_swift = (PACKAGE / "Package.swift").read_text()
    assert '("Polls", [])' in package_swift
    assert "ModuleDescriptor(PollsModule.self)" in (PACKAGE / "Sources" / "ParleyApp" / "ModuleCatalog.swift").read_text()

    run(["swift", "build", "--build-tests"], cwd=PACKAGE)
    run(["swift", "test", "--skip-build", "--filter", "PollsModuleTests"], cwd=PACKAGE)
    binary = run(["swift", "build", "--show-bin-path"], cwd=PACKAGE).stdout.strip() + "/parley"
    env = dict(os.environ, PARLEY_BINARY=binary)
    run([sys.executable, "-m", "pytest", "Tests/python/test_polls_module.py", "-q", "-p", "no:cacheprovider"], cwd=PACKAGE, env=env)
    # The sweeps of the copy cover the new module too: every route documented, bad input a 4xx.
    run(["swift", "test", "--skip-build", "--filter", "OpenAPITests|BadInputTests"], cwd=PACKAGE)
