//! One stack per run, shared across threads, test binaries and the processes of
//! `cargo nextest run`.
//!
//! A stack is keyed by its configuration and lives in `<state_dir>/<key>/`. Processes find or
//! create it under an exclusive file lock (`<key>.lock`) and take a *lease*: a file named by
//! their pid. A detached keeper (`keeper.sh watch`) tears the stack down once no lease has
//! had a live process for the linger time. Leases are never released explicitly: a dead pid
//! is a free lease, so a panic, a SIGKILL or Ctrl-C frees it like a normal exit does. What a
//! killed keeper left is reaped by the next run (`reap_stale`).
//!
//! `files` names what a stack folder holds, `dir` reads and writes it, `lease` is who uses
//! it, `keeper` who tears it down, `root` the folder of all stacks.

mod dir;
mod files;
mod keeper;
mod lease;
mod root;

pub(crate) use dir::StackDir;
pub(crate) use root::{ensure_private_root, kept_stacks, reap_stale, stacks};

#[cfg(test)]
mod tests {
    use super::dir::BOOT_LOG_LIMIT;
    use super::files::{self, BOOT_LOG, RECORDS};
    use super::*;
    use crate::stack::process::{process_alive, reap_in_background};
    use crate::stack::{StackError, StateError, ToolsError};
    use std::fs::{self, File};
    use std::path::PathBuf;
    use std::process::Command;
    use std::time::{Duration, Instant};

    #[test]
    fn the_keeper_script_reads_the_records_the_harness_writes() {
        // keeper.sh spells the names itself (it is plain sh); a rename on one side only
        // would leave stacks no teardown removes.
        for name in [
            files::PIDS,
            files::DIRS,
            files::LABEL,
            files::KEEP,
            files::LEASES,
        ] {
            let script = keeper::KEEPER_SCRIPT;
            assert!(
                ["$1/", "\"$1\"/", "$dir/"]
                    .iter()
                    .any(|folder| script.contains(&format!("{folder}{name}"))),
                "keeper.sh never reads {name}"
            );
            assert!(RECORDS.contains(&name), "{name} is not checked for links");
        }
    }

    fn temp_root() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("th-shared-test-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_boot_log_gains_a_line_a_boot_and_starts_again_past_its_limit() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k0");
        let log = root.join(BOOT_LOG);
        stack.record_boot(Duration::from_millis(1500));
        stack.record_boot(Duration::from_millis(20));
        let text = fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.contains("k0 pid=") && text.contains("took=1.500s"),
            "{text}"
        );
        fs::write(&log, vec![b'x'; BOOT_LOG_LIMIT as usize + 1]).unwrap();
        stack.record_boot(Duration::from_millis(1));
        let text = fs::read_to_string(&log).unwrap();
        assert!(text.len() < 200, "not started again: {} bytes", text.len());
        assert!(text.starts_with(char::is_numeric) && text.contains("took=0.001s"));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn lock_is_exclusive_and_times_out_with_the_lock_named() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k1");
        let _held = stack.lock(Duration::from_secs(1)).await.unwrap();
        // flock is per open file description, so a second open in this process contends.
        let err = stack.lock(Duration::from_millis(100)).await.err().unwrap();
        assert!(
            matches!(err, StackError::State(StateError::LockTimeout { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("k1.lock"));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn leases_of_dead_processes_do_not_count() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k2");
        stack.create().unwrap();
        stack.lease().unwrap();
        assert!(stack.in_use(), "a handle of this process holds it");
        assert!(stack.release());
        assert!(!stack.in_use(), "given up, and no other process holds it");
        let mut child = Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        File::create(stack.path().join(files::LEASES).join(dead.to_string())).unwrap();
        assert!(!stack.in_use(), "a dead pid holds no lease");
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn teardown_stops_registered_processes_and_removes_dirs() {
        let root = temp_root();
        let stack = StackDir::new(&root, "k3");
        stack.create().unwrap();
        let scratch = root.join("scratch");
        fs::create_dir_all(&scratch).unwrap();
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = child.id();
        reap_in_background(child);
        stack.register_pid(pid, "TERM").unwrap();
        stack.register_dir(&scratch).unwrap();
        stack.teardown().unwrap();
        assert!(!scratch.exists());
        assert!(!stack.path().exists());
        // The reaper thread collects it; poll its state rather than sleeping blind.
        let deadline = Instant::now() + Duration::from_secs(5);
        while process_alive(pid as i32) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(!process_alive(pid as i32));
        fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn a_symlinked_stack_folder_or_record_is_never_followed() {
        let root = temp_root();
        // A folder elsewhere that looks like a stack: a live process to kill, a folder to
        // remove. Linked into the root as a stack folder, then as a stack's record.
        let elsewhere = temp_root();
        let victim = elsewhere.join("victim");
        fs::create_dir_all(&victim).unwrap();
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = child.id();
        reap_in_background(child);
        fs::write(elsewhere.join(files::PIDS), format!("{pid} KILL\n")).unwrap();
        fs::write(
            elsewhere.join(files::DIRS),
            format!("{}\n", victim.display()),
        )
        .unwrap();
        fs::create_dir_all(elsewhere.join(files::LEASES)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("planted")).unwrap();
        let planted = StackDir::new(&root, "planted");
        let err = planted.teardown().unwrap_err();
        assert!(
            matches!(err, StackError::Tools(ToolsError::UntrustedPath { .. })),
            "{err}"
        );
        assert!(planted.lock(Duration::from_secs(1)).await.is_err());
        assert!(stacks(&root).is_empty(), "a link is not a stack");
        assert_eq!(reap_stale(&root), 0);

        let real = StackDir::new(&root, "real");
        real.create().unwrap();
        std::os::unix::fs::symlink(elsewhere.join(files::PIDS), real.path().join(files::PIDS))
            .unwrap();
        let err = real.teardown().unwrap_err().to_string();
        assert!(
            err.contains("pids") && err.contains("symbolic link"),
            "{err}"
        );
        assert!(stacks(&root).is_empty(), "{:?}", stacks(&root).len());

        assert!(process_alive(pid as i32), "a planted pid was signalled");
        assert!(victim.exists(), "a planted folder was removed");
        // SAFETY: kill(2) on the child this test started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        fs::remove_dir_all(root).unwrap();
        fs::remove_dir_all(elsewhere).unwrap();
    }

    #[tokio::test]
    async fn untended_stacks_are_reaped_and_kept_ones_are_not() {
        let root = temp_root();
        let orphan = StackDir::new(&root, "orphan");
        orphan.create().unwrap();
        orphan.lock(Duration::from_secs(1)).await.map(drop).unwrap();
        let kept = StackDir::new(&root, "kept");
        kept.create().unwrap();
        kept.mark_kept().unwrap();
        kept.lock(Duration::from_secs(1)).await.map(drop).unwrap();
        assert_eq!(reap_stale(&root), 1);
        assert!(!orphan.path().exists());
        assert!(kept.path().exists());
        assert_eq!(kept_stacks(&root).len(), 1);
        fs::remove_dir_all(root).unwrap();
    }
}
