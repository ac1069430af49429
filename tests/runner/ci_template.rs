//! The CI template users copy (`.github/workflows/temporal-tests.yml`) passes actionlint (which
//! also runs shellcheck over its `run:` scripts), builds the tests once and runs them in nextest
//! partitions, each shard with a stack of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use temporal_harness::StackConfig;

fn actionlint() -> PathBuf {
    let path = StackConfig::load()
        .expect("configuration")
        .tools_dir
        .join("actionlint");
    assert!(
        path.is_file(),
        "{} is missing. Fix: ./scripts/provision.sh (or `temporal-harness setup`) installs it",
        path.display()
    );
    path
}

fn lint(file: &Path) -> (bool, String) {
    let out = Command::new(actionlint())
        .arg("-no-color")
        .arg(file)
        .output()
        .expect("actionlint runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_ci_template_passes_actionlint_and_runs_in_shards() {
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/temporal-tests.yml");
    let (clean, findings) = lint(&template);
    assert!(
        clean,
        "actionlint finds problems in the CI template:\n{findings}"
    );
    let text = std::fs::read_to_string(&template).unwrap();
    for needed in [
        "cargo nextest archive",
        "--archive-file nextest-archive.tar.zst",
        "--partition hash:${{ matrix.shard }}/3",
        "shard: [1, 2, 3]",
        "TEMPORAL_HARNESS_REPLAY_PRESSURE: \"1\"",
        "TEMPORAL_HARNESS_BACKEND: external",
        "TEMPORAL_HARNESS_ISOLATION: ${{ vars.TEMPORAL_SHARED_ISOLATION || 'namespace' }}",
        "--partition hash:${{ matrix.shard }}/4",
    ] {
        assert!(text.contains(needed), "the template lacks {needed:?}");
    }
}

#[test]
fn actionlint_does_find_a_broken_workflow() {
    // So a clean result above means a checked file, not a linter that checks nothing.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n",
    )
    .unwrap();
    let (clean, findings) = lint(&broken);
    assert!(!clean && findings.contains("nope"), "{findings}");
}
