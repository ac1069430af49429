//! Stacks in a private state folder (a test's own cluster, a fault case's stack) leave nothing:
//! not when the test owning them panics, not when its process is killed (the next run reaps
//! the folder and what was booted in it).

use std::path::PathBuf;
use temporal_harness::config::{BackendKind, Flavor};
use temporal_harness::stack::PrivateStateDir;
use temporal_harness::Stack;

/// Boots the local dev flavour (the quickest stack) in `private`; returns its processes.
async fn boot_in(private: &PrivateStateDir) -> (Stack, Vec<i32>) {
    let mut config = test_support::config(BackendKind::Local, Flavor::Dev);
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    let stack = Stack::acquire(&config)
        .await
        .expect("stack in a private folder");
    let pids = test_support::registered_pids(private.path());
    assert!(!pids.is_empty(), "the stack registered no process");
    (stack, pids)
}

#[test]
fn a_panicking_owner_leaves_no_stack_and_no_folder() {
    let (tx, rx) = std::sync::mpsc::channel::<(PathBuf, Vec<i32>)>();
    let owner = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let private = test_support::private_state_dir("panics");
            let (_stack, pids) = boot_in(&private).await;
            tx.send((private.path().to_path_buf(), pids)).unwrap();
            panic!("the test fails with its stack running");
        })
    });
    assert!(owner.join().is_err(), "the owner was meant to panic");
    let (path, pids) = rx.recv().expect("the owner booted its stack");
    assert!(!path.exists(), "{} is left", path.display());
    test_support::no_process_left(&pids);
}

#[tokio::test]
async fn a_killed_owners_folder_and_stack_are_reaped_by_the_next_run() {
    let private = test_support::private_state_dir("killed");
    let (stack, pids) = boot_in(&private).await;
    let path = private.path().to_path_buf();
    // As if this process had been SIGKILLed: no drop runs, and the owner is a dead process.
    std::mem::forget(stack);
    std::mem::forget(private);
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    std::fs::write(path.join("owner"), dead.id().to_string()).unwrap();

    // The next run's first private folder (or stack acquisition) reaps it.
    let _next = test_support::private_state_dir("next-run");
    assert!(!path.exists(), "{} is left", path.display());
    test_support::no_process_left(&pids);
}

/// Handles of one process taking and giving up one stack at the same time, each on a thread
/// and runtime of its own (as the tests of one binary do): no handle loses its stack to
/// another's shutdown. Each use runs a workflow; a teardown under a holder fails it. (The
/// narrow race of a handle taken between another's release and its teardown lock is covered
/// by `StackDir::in_use`'s unit test; this run did not hit it without the fix.)
#[test]
fn concurrent_handles_of_one_process_never_lose_their_stack() {
    let private = test_support::private_state_dir("handles");
    let mut config = test_support::config(BackendKind::Local, Flavor::Dev);
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    std::thread::scope(|threads| {
        for user in 0..4 {
            let config = &config;
            threads.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    for round in 0..5 {
                        let stack = Stack::acquire(config).await.expect("stack");
                        let (id, greeting) = test_support::run_greeting(stack.endpoints()).await;
                        assert_eq!(
                            greeting, "Hello, stack!",
                            "user {user}, round {round}: {id}"
                        );
                        stack
                            .shutdown(std::time::Duration::from_secs(60))
                            .await
                            .expect("shutdown");
                    }
                })
            });
        }
    });
}

/// A stack whose state folder is deleted while it runs (a CI step that wipes the temp folder,
/// a script's `rm -rf` during the linger time) has no folder left to name its containers: its
/// keeper removes them by the label it read at the boot.
#[tokio::test]
async fn a_stack_whose_folder_is_deleted_while_it_runs_leaves_no_container() {
    let private = test_support::private_state_dir("deleted-folder");
    let mut config = test_support::config(BackendKind::Containers, Flavor::Dev);
    config.ui = Some(false);
    config.state_dir = private.path().to_path_buf();
    let stack = Stack::acquire(&config).await.expect("containers stack");
    let folder = std::fs::read_dir(private.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("label").is_file())
        .expect("the stack's folder");
    let label = std::fs::read_to_string(folder.join("label")).unwrap();
    let label = label.trim();
    assert!(
        test_support::containers_labelled(label) > 0,
        "no container of {label}"
    );
    std::fs::remove_dir_all(&folder).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while test_support::containers_labelled(label) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the containers of {label} outlived their folder by a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(stack);
}
