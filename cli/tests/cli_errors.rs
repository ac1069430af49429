//! Each bad input or fault the `temporal-harness` binary meets gets its own error naming the
//! cause and the fix, exit 2, in bounded time, and never a password. Process-wide settings
//! (DOCKER_HOST, image names) are tested through the binary so they cannot leak into other
//! tests. (Errors of the library alone are in the root crate's `tests/stack_errors.rs`.)

#[path = "../../tests/common/mod.rs"]
mod common;

use common::private_state_dir;
use std::net::TcpListener;
use std::process::{Command, Output};
use temporal_harness::exit_codes;

/// Runs `temporal-harness up --once` with its own state folder and extra env.
fn up(args: &[&str], env: &[(&str, &str)]) -> Output {
    let private = private_state_dir("errors");
    let state = private.path().to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["up", "--once"])
        .args(args)
        .env("TEMPORAL_HARNESS_STATE_DIR", &state)
        .envs(env.iter().copied())
        .output()
        .expect("run temporal-harness");
    out
}

fn assert_config_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit_codes::CONFIG_ERROR),
        "{stderr}"
    );
    assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    assert!(
        stderr.contains("Fix:"),
        "the message names the fix:\n{stderr}"
    );
}

#[test]
fn docker_unreachable() {
    let out = up(
        &["--backend", "containers", "--flavor", "dev"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_config_error(&out, "Docker is not reachable");
}

#[test]
fn image_missing_without_registry() {
    let out = up(
        &["--backend", "containers", "--flavor", "dev"],
        &[
            ("TEMPORAL_HARNESS_IMAGES", "official"),
            (
                "TEMPORAL_HARNESS_DEV_IMAGE",
                "temporal-harness/no-such-image:0",
            ),
        ],
    );
    assert_config_error(
        &out,
        "image temporal-harness/no-such-image:0 is not present",
    );
}

#[test]
fn a_named_image_is_used_or_the_boot_fails_naming_it_under_every_source() {
    // Under `auto` (and `local`) a named image that is absent used to be dropped for the
    // local default: a CI matrix over server versions would have tested one version.
    for source in ["auto", "local"] {
        let out = up(
            &["--backend", "containers", "--flavor", "postgres"],
            &[
                ("TEMPORAL_HARNESS_IMAGES", source),
                (
                    "TEMPORAL_HARNESS_SERVER_IMAGE",
                    "temporal-harness/no-such-server:9.9",
                ),
            ],
        );
        assert_config_error(
            &out,
            "image temporal-harness/no-such-server:9.9 is not present",
        );
    }
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for backend in ["local", "containers"] {
        let out = up(
            &["--backend", backend, "--flavor", "dev", "--port", &port],
            &[],
        );
        assert_config_error(&out, &format!("port {port} is already in use"));
    }
}

#[test]
fn bad_configuration_value() {
    let out = up(&[], &[("TEMPORAL_HARNESS_BACKEND", "kubernetes")]);
    assert_config_error(&out, "TEMPORAL_HARNESS_BACKEND");
}

#[test]
fn durations_too_large_or_zero_are_usage_errors_not_panics() {
    for value in ["99999999999999999999h", "0s", "-1s", "1e400"] {
        let out = up(&[], &[("TEMPORAL_HARNESS_STARTUP_TIMEOUT", value)]);
        assert_config_error(&out, "TEMPORAL_HARNESS_STARTUP_TIMEOUT");
    }
}

#[test]
fn a_boot_that_runs_out_of_time_names_the_setting_to_raise() {
    // 1 s is within bounds and far too short to boot a PostgreSQL primary, its standby (a
    // base backup: 3-4 s) and the server.
    let out = up(
        &["--backend", "local", "--flavor", "postgres"],
        &[
            ("TEMPORAL_HARNESS_STARTUP_TIMEOUT", "1s"),
            ("TEMPORAL_HARNESS_POSTGRES_STANDBY", "1"),
        ],
    );
    assert_config_error(&out, "did not become ready within 1s");
    assert_config_error(&out, "raise TEMPORAL_HARNESS_STARTUP_TIMEOUT");
}

/// `temporal-harness up --once` with the state folder at `state` (not a fresh private one).
fn up_in(state: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["up", "--once", "--flavor", "dev"])
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        .output()
        .expect("run temporal-harness")
}

#[test]
fn a_state_folder_another_user_could_tamper_with_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let private = private_state_dir("tamper");
    let base = private.path().to_path_buf();
    std::fs::create_dir_all(&base).unwrap();
    // What a second local user leaves for us: their own folder, with a script in it that
    // would run as us if the harness executed anything from it.
    let theirs = base.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("keeper.sh"), "touch /tmp/pwned-by-keeper\n").unwrap();
    let other_user = 65534; // nobody
    let owned_by_other = std::os::unix::fs::chown(&theirs, Some(other_user), Some(other_user));
    // A folder of ours that anyone may write to, and a symbolic link to a folder of ours.
    let open = base.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let target = base.join("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = base.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let mut cases = vec![
        (open.clone(), "is writable by others"),
        (link.clone(), "is a symbolic link"),
    ];
    if owned_by_other.is_ok() {
        cases.push((theirs.clone(), "is owned by uid 65534"));
    } else {
        eprintln!("not root: the other-owner case needs chown and is not run here");
    }
    for (state, reason) in cases {
        let out = up_in(&state);
        assert_config_error(&out, &format!("refusing to use {}", state.display()));
        assert_config_error(&out, reason);
    }
    assert!(!std::path::Path::new("/tmp/pwned-by-keeper").exists());
}
