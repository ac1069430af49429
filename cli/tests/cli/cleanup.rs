//! Nothing leaks: a SIGKILLed user of a stack is cleaned up by the stack's keeper, and a run
//! whose keeper was killed too is reaped by the next run. Counts before and after are printed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::Stack;
use test_support::{config, private_state_dir};

/// `temporal-harness up` in the background; returns it and its stack folder.
fn spawn_up(backend: &str, state: &Path) -> (Child, PathBuf) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["up", "--backend", backend, "--flavor", "dev"])
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        .env("TEMPORAL_HARNESS_LINGER", "300ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn temporal-harness up");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("endpoints line");
    let json: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    let file = PathBuf::from(json["endpoints_file"].as_str().expect("endpoints_file"));
    (child, file.parent().unwrap().to_path_buf())
}

fn label(stack_dir: &Path) -> String {
    std::fs::read_to_string(stack_dir.join("label"))
        .unwrap()
        .trim()
        .to_string()
}

fn pids(stack_dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(stack_dir.join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purposes: /proc shows its state as Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

fn kill9(pid: i32) {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

/// Polls `done` until it holds or `within` passes; returns whether it held.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

#[test]
fn keeper_removes_the_containers_of_a_sigkilled_run() {
    let private = private_state_dir("sigkill-containers");
    let state = private.path().to_path_buf();
    let (mut child, dir) = spawn_up("containers", &state);
    let label = label(&dir);
    let keeper: i32 = std::fs::read_to_string(dir.join("keeper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let before = test_support::containers_labelled(&label);
    kill9(child.id() as i32);
    child.wait().unwrap();
    // The keeper exits once its teardown is complete (containers, then the folder): wait for
    // that, not for the first of its effects (asserting on the folder right after the
    // containers were gone raced with its last step).
    let finished = eventually(Duration::from_secs(30), || !alive(keeper));
    eprintln!(
        "labelled containers: {before} before SIGKILL, {} after",
        test_support::containers_labelled(&label)
    );
    assert!(finished, "the keeper finished within 30 s");
    assert_eq!(before, 1);
    assert_eq!(
        test_support::containers_labelled(&label),
        0,
        "the keeper removed the container"
    );
    assert!(!dir.exists(), "and the stack folder");
}

#[tokio::test]
async fn next_run_reaps_what_a_killed_run_and_keeper_left() {
    let private = private_state_dir("reap");
    let state = private.path().to_path_buf();
    let (mut containers_up, containers_dir) = spawn_up("containers", &state);
    let (mut local_up, local_dir) = spawn_up("local", &state);
    let label = label(&containers_dir);
    let server_pids = pids(&local_dir);
    // Kill everything of the run, keepers first, as a CI runner's SIGKILL of a job would.
    for dir in [&containers_dir, &local_dir] {
        let keeper = std::fs::read_to_string(dir.join("keeper.pid")).unwrap();
        kill9(keeper.trim().parse().unwrap());
    }
    for child in [&mut containers_up, &mut local_up] {
        kill9(child.id() as i32);
        child.wait().unwrap();
    }
    let containers_before = test_support::containers_labelled(&label);
    let processes_before = server_pids.iter().filter(|p| alive(**p)).count();
    assert_eq!(containers_before, 1, "the killed run left its container");
    assert_eq!(processes_before, 1, "and its dev-server process");

    let mut next = config(BackendKind::Local, Flavor::Dev);
    next.state_dir = state.clone();
    let stack = Stack::acquire(&next).await.expect("the next run boots");
    let containers_after = test_support::containers_labelled(&label);
    let gone = eventually(Duration::from_secs(10), || {
        server_pids.iter().all(|p| !alive(*p))
    });
    eprintln!(
        "left by the killed run: {containers_before} container(s), {processes_before} process(es); \
         after the next run started: {containers_after} container(s), {} process(es)",
        server_pids.iter().filter(|p| alive(**p)).count()
    );
    assert_eq!(containers_after, 0);
    assert!(gone, "the dev server of the killed run was stopped");
    stack.shutdown(Duration::from_secs(30)).await.unwrap();
}

#[tokio::test]
async fn containers_whose_stack_folder_is_gone_are_removed_by_the_next_boot() {
    let private = private_state_dir("orphans");
    let state = private.path().to_path_buf();
    let mut config = config(BackendKind::Containers, Flavor::Dev);
    config.state_dir = state.clone();
    let stack = Stack::acquire(&config).await.expect("first boot");
    let dir = stack
        .endpoints_file()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let orphan = label(&dir);
    // What a teardown that removed the folder but not the container leaves behind.
    let keeper = std::fs::read_to_string(dir.join("keeper.pid")).unwrap();
    kill9(keeper.trim().parse().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    drop(stack);
    assert_eq!(
        test_support::containers_labelled(&orphan),
        1,
        "the orphan exists"
    );

    let next = Stack::acquire(&config).await.expect("the next boot");
    assert_eq!(
        test_support::containers_labelled(&orphan),
        0,
        "the next boot removed the container no stack owned"
    );
    next.shutdown(Duration::from_secs(30)).await.unwrap();
}

#[tokio::test]
async fn a_kept_stack_that_does_not_answer_is_reported_never_replaced() {
    let private = private_state_dir("kept-unhealthy");
    let state = private.path().to_path_buf();
    let mut config = config(BackendKind::Containers, Flavor::Dev);
    config.state_dir = state.clone();
    config.keep = true;
    let stack = Stack::acquire(&config).await.expect("boot a kept stack");
    let endpoints_file = stack.endpoints_file().unwrap();
    let dir = endpoints_file.parent().unwrap().to_path_buf();
    let kept_label = label(&dir);
    assert_eq!(
        stack.shutdown(Duration::from_secs(30)).await.unwrap(),
        temporal_harness::stack::Shutdown::Kept
    );
    // The server stops answering (paused, as a machine under pressure or mid-restart would).
    let paused = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=io.temporal-harness.stack={kept_label}"),
        ])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&paused.stdout).to_string();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert!(!ids.is_empty(), "the kept stack runs containers");
    Command::new("docker")
        .arg("pause")
        .args(&ids)
        .status()
        .unwrap();

    // Seen at once, not after the startup timeout (left at its default of minutes): the
    // error names the paused containers and the one fix that brings them back.
    let err = Stack::acquire(&config).await.unwrap_err().to_string();
    assert!(
        err.contains("kept stack") && err.contains("temporal-harness down"),
        "{err}"
    );
    assert!(err.contains("containers are paused"), "{err}");
    assert!(err.contains("`docker unpause "), "{err}");
    assert_eq!(err.matches("Fix:").count(), 1, "one fix: {err}");
    assert!(endpoints_file.exists(), "its folder was kept");
    assert_eq!(
        test_support::containers_labelled(&kept_label),
        ids.len(),
        "its containers were kept"
    );

    // Removed outside the harness: seen at once too, and the folder is still kept.
    Command::new("docker")
        .args(["rm", "-f"])
        .args(&ids)
        .status()
        .unwrap();
    let err = Stack::acquire(&config).await.unwrap_err().to_string();
    assert!(err.contains("containers are gone"), "{err}");
    assert!(endpoints_file.exists(), "its folder was kept");

    // Asked explicitly, it goes, and `down` says what it removed.
    let removed = temporal_harness::stack::down(&config).unwrap();
    let kept: Vec<&String> = removed
        .iter()
        .filter(|l| l.starts_with("kept stack"))
        .collect();
    assert_eq!(kept.len(), 1, "{removed:?}");
    assert!(
        kept[0].contains(&format!("labelled io.temporal-harness.stack={kept_label}")),
        "down says what it removed: {removed:?}"
    );
    assert_eq!(test_support::containers_labelled(&kept_label), 0);
    assert!(!endpoints_file.exists());
}

/// `up --once` of the dev flavour in `state` with extra env; its stderr. The backend comes
/// from the env when it names one, else containers.
fn up_once(state: &Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["up", "--once", "--flavor", "dev"])
        .env("TEMPORAL_HARNESS_BACKEND", "containers")
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        .envs(env.iter().copied())
        .output()
        .expect("run temporal-harness up");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[tokio::test]
async fn up_says_what_really_happened_to_the_stack() {
    let private = private_state_dir("up-says");
    let state = private.path().to_path_buf();
    let mut config = config(BackendKind::Containers, Flavor::Dev);
    config.state_dir = state.clone();
    // Another user holds the stack: `up` must not claim it tore it down.
    let held = Stack::acquire(&config).await.expect("boot");
    let address = held.endpoints().temporal.address.clone();
    let shared = up_once(&state, &[]);
    assert!(shared.contains("other processes still use it"), "{shared}");
    assert!(!shared.contains("torn down"), "{shared}");
    let external = up_once(
        &state,
        &[
            ("TEMPORAL_HARNESS_BACKEND", "external"),
            ("TEMPORAL_HARNESS_ADDRESS", &address),
        ],
    );
    assert!(
        external.contains("external deployment left as it was"),
        "{external}"
    );
    assert_eq!(
        held.shutdown(Duration::from_secs(30)).await.unwrap(),
        temporal_harness::stack::Shutdown::TornDown
    );
    // Alone, it does tear down.
    let alone = up_once(&state, &[]);
    assert!(alone.contains("stack torn down"), "{alone}");
}

/// What an interrupted boot had started: its containers' label and its processes.
struct BootInProgress {
    dir: PathBuf,
    label: String,
    pids: Vec<i32>,
}

/// Runs `temporal-harness ARGS` with its own state folder, waits until its boot reports
/// `starting {step}`, sends `signal`, and returns the exit code and what the boot had started.
fn interrupt_boot(args: &[&str], state: &Path, step: &str, signal: &str) -> (i32, BootInProgress) {
    interrupt_at(args, state, &format!("starting {step}"), signal)
}

/// Like [`interrupt_boot`], at the first stderr line that contains `needle`.
fn interrupt_at(args: &[&str], state: &Path, needle: &str, signal: &str) -> (i32, BootInProgress) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(args)
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn temporal-harness");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "the command ended before `{needle}`:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            break;
        }
        // Bounded: a boot that has no such step (any more) is ready without it.
        assert!(
            !line.contains("stack ready"),
            "the boot finished without `{needle}`:\n{seen}"
        );
    }
    let dir = std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("label").exists())
        .expect("the boot's stack folder");
    let boot = BootInProgress {
        label: label(&dir),
        pids: pids(&dir),
        dir,
    };
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, boot)
}

fn networks_labelled(label: &str) -> usize {
    let out = Command::new("docker")
        .args(["network", "ls", "-q", "--filter"])
        .arg(format!("label=io.temporal-harness.stack={label}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn an_interrupted_boot_removes_what_it_started_before_exiting() {
    // (command, the step to interrupt, signal): both commands that boot, both signals, both
    // backends that start things.
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["up", "--backend", "containers", "--flavor", "postgres"],
            "Temporal server",
            "INT",
        ),
        (&["validate"], "Temporal server", "TERM"),
        (
            &["up", "--backend", "local", "--flavor", "postgres"],
            "Temporal schema",
            "TERM",
        ),
        // A closed terminal.
        (
            &["up", "--backend", "containers", "--flavor", "postgres"],
            "Temporal server",
            "HUP",
        ),
    ];
    for (args, step, signal) in cases {
        let private = private_state_dir("interrupted");
        let state = private.path().to_path_buf();
        let (code, boot) = interrupt_boot(args, &state, step, signal);
        // Checked the moment the process is gone: cleanup is not left to a later run.
        let containers = test_support::containers_labelled(&boot.label);
        let networks = networks_labelled(&boot.label);
        let processes = boot.pids.iter().filter(|p| alive(**p)).count();
        eprintln!(
            "{args:?} interrupted by SIG{signal} at `{step}`: exit {code}; left {containers} \
             container(s), {networks} network(s), {processes} process(es)"
        );
        assert_eq!(code, 130, "{args:?}");
        assert_eq!(containers, 0, "{args:?} left containers");
        assert_eq!(networks, 0, "{args:?} left a network");
        assert_eq!(processes, 0, "{args:?} left processes");
        assert!(!boot.dir.exists(), "{args:?} left its stack folder");
    }
}

#[test]
fn a_boot_ended_by_sigkill_leaves_nothing_within_seconds() {
    // SIGKILL runs no handler: the keeper, started before the boot's first container or
    // process, tears down once the boot's lease is dead, without waiting for another run.
    for (args, step) in [
        (
            &["up", "--backend", "containers", "--flavor", "postgres"][..],
            "Temporal server",
        ),
        (
            &["up", "--backend", "local", "--flavor", "postgres"][..],
            "Temporal schema",
        ),
    ] {
        let private = private_state_dir("sigkilled-boot");
        let state = private.path().to_path_buf();
        let (code, boot) = interrupt_boot(args, &state, step, "KILL");
        assert_eq!(code, -1, "killed by a signal: no exit code");
        let started = Instant::now();
        let clean = eventually(Duration::from_secs(60), || {
            test_support::containers_labelled(&boot.label) == 0
                && networks_labelled(&boot.label) == 0
                && boot.pids.iter().all(|p| !alive(*p))
                && !boot.dir.exists()
        });
        eprintln!(
            "{args:?} SIGKILLed at `{step}`: {} process(es) recorded; clean after {:?}",
            boot.pids.len(),
            started.elapsed()
        );
        assert!(
            clean,
            "{args:?}: left {} container(s), {} network(s), {} process(es), folder {}",
            test_support::containers_labelled(&boot.label),
            networks_labelled(&boot.label),
            boot.pids.iter().filter(|p| alive(**p)).count(),
            boot.dir.exists()
        );
    }
}

#[test]
fn a_validation_run_ended_by_a_signal_gives_up_its_stack() {
    // After the boot, while the checks run: the run stops, its stack goes with it.
    for signal in ["INT", "TERM", "HUP"] {
        let private = private_state_dir("interrupted-run");
        let state = private.path().to_path_buf();
        let (code, boot) = interrupt_at(&["validate"], &state, "stack ready", signal);
        let clean = eventually(Duration::from_secs(60), || {
            test_support::containers_labelled(&boot.label) == 0
                && networks_labelled(&boot.label) == 0
                && boot.pids.iter().all(|p| !alive(*p))
                && !boot.dir.exists()
        });
        eprintln!("validate interrupted by SIG{signal} mid-run: exit {code}, clean {clean}");
        assert_eq!(code, 130, "SIG{signal}");
        assert!(clean, "SIG{signal}: the stack outlived the run");
    }
}

#[test]
fn a_teardown_ended_by_a_second_signal_or_sigkill_still_leaves_nothing() {
    // Ctrl-C starts the teardown; a second signal (an impatient user) is ignored while it
    // runs, and SIGKILL in the middle of it leaves the rest to the keeper.
    for second in ["TERM", "KILL"] {
        let private = private_state_dir("interrupted-teardown");
        let state = private.path().to_path_buf();
        let (mut child, dir) = spawn_up("containers", &state);
        let label = label(&dir);
        let pid = child.id().to_string();
        for signal in ["INT", second] {
            Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap();
        }
        let status = child.wait().unwrap();
        let clean = eventually(Duration::from_secs(60), || {
            test_support::containers_labelled(&label) == 0
                && networks_labelled(&label) == 0
                && !dir.exists()
        });
        eprintln!("up stopped by SIGINT then SIG{second}: {status}; clean {clean}");
        assert!(clean, "SIG{second} during teardown left the stack behind");
    }
}
