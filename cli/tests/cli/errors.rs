//! Each bad input or fault the `temporal-harness` binary meets gets its own error naming the
//! cause and the fix, exit 2, in bounded time, and never a password. Process-wide settings
//! (DOCKER_HOST, image names) are tested through the binary so they cannot leak into other
//! tests. (Errors of the library alone are in the root crate's `tests/stack/errors.rs`.)

use std::net::TcpListener;
use std::process::{Command, Output};
use temporal_harness::exit_codes;
use test_support::private_state_dir;

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

/// `temporal-harness validate` against a frontend nobody listens on, with extra env.
fn validate_unreachable(args: &[&str], env: &[(&str, &str)]) -> Output {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args([
            "validate",
            "--temporal-address",
            &format!("127.0.0.1:{port}"),
        ])
        .args(args)
        .env_remove("TEMPORAL_HARNESS_POSTGRES_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run temporal-harness")
}

#[test]
fn a_run_whose_every_check_was_skipped_has_no_verdict() {
    for format in ["human", "json", "junit"] {
        let out = validate_unreachable(&["--only", "postgres.*", "--format", format], &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(exit_codes::CONFIG_ERROR),
            "{format}: {stdout}"
        );
        let said = match format {
            "human" => "NO VERDICT",
            "json" => "\"nothing_checked\"",
            _ => "no verdict",
        };
        assert!(stdout.contains(said), "{format}: {stdout}");
    }
}

#[test]
fn connection_strings_that_do_not_parse_are_usage_errors_that_hide_the_password() {
    for text in [
        "postgres://u:Kx7/Yw2Bq9Vr@0.0.0.9/db",
        "postgres://u:Kx7@Yw2Bq9Vr@127.0.0.1:1/db",
        "host=127.0.0.1 user=u password='Kx7 Yw2Bq9Vr dbname=temporal",
        "not-a-url",
        "postgres://",
    ] {
        for (args, env) in [
            (vec!["--postgres-url", text], vec![]),
            (vec![], vec![("TEMPORAL_HARNESS_POSTGRES_URL", text)]),
        ] {
            let out = validate_unreachable(&args, &env);
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.status.code(),
                Some(exit_codes::CONFIG_ERROR),
                "{text}: {all}"
            );
            assert!(all.contains("Fix:"), "{text}: {all}");
            let from = if args.is_empty() {
                "TEMPORAL_HARNESS_POSTGRES_URL"
            } else {
                "--postgres-url"
            };
            assert!(all.contains(from), "{text} names where it came from: {all}");
            assert!(!all.contains("Yw2Bq"), "{text}: {all}");
        }
    }
}

#[test]
fn a_quoted_libpq_password_never_shows_in_any_report_format() {
    let text = "host=127.0.0.1 port=1 user=u password='Kx7&Yw2 Bq9Vr' dbname=temporal";
    for format in ["human", "json", "junit"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report");
        let out = validate_unreachable(
            &[
                "--only",
                "postgres.connection",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
            &[("TEMPORAL_HARNESS_POSTGRES_URL", text)],
        );
        let written = std::fs::read_to_string(&file).unwrap_or_default();
        let all = format!(
            "{}{}{written}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(exit_codes::CHECK_FAILED),
            "{format}: {all}"
        );
        assert!(
            written.contains("127.0.0.1:1"),
            "the host connected to is shown: {written}"
        );
        for piece in ["Kx7&Y", "Yw2 B", "Bq9Vr"] {
            assert!(!all.contains(piece), "{format} shows {piece}: {all}");
        }
    }
}

#[test]
fn output_to_a_full_disk_is_an_error_and_a_closed_pipe_ends_quietly() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["validate", "--list"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit_codes::CONFIG_ERROR),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot write to standard output") && stderr.contains("Fix:"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The reader has gone before the first write, as `| head -1` is after its line: every
    // write meets a closed pipe (EPIPE; Rust ignores SIGPIPE).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["validate", "--list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit_codes::SUCCESS), "{stderr}");
    assert!(stderr.is_empty(), "a closed pipe ends quietly: {stderr}");
}

/// Inputs that are wrong on the user's side are named as such (exit 2, the input and where it
/// came from), before anything is judged: never an "unreachable deployment".
#[test]
fn client_side_problems_are_usage_errors_naming_the_input() {
    use std::os::unix::ffi::OsStrExt;
    let not_utf8 = std::ffi::OsStr::from_bytes(b"loc\xffal");
    for key in ["TEMPORAL_HARNESS_BACKEND", "TEMPORAL_HARNESS_POSTGRES_URL"] {
        let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
            .args(["validate", "--list"])
            .env(key, not_utf8)
            .output()
            .unwrap();
        assert_config_error(&out, &format!("{key} is set to a value that is not UTF-8"));
    }
    // An argument that is not UTF-8: clap's usage error, never a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["validate", "--temporal-address"])
        .arg(not_utf8)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit_codes::CONFIG_ERROR),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["validate", "--temporal-address", "127.0.0.1:1"])
        .args(["--api-key-env", "TH_TEST_KEY_NOT_UTF8"])
        .env("TH_TEST_KEY_NOT_UTF8", not_utf8)
        .output()
        .unwrap();
    assert_config_error(
        &out,
        "--api-key-env TH_TEST_KEY_NOT_UTF8: the variable's value is not UTF-8",
    );
    let pem_dir = tempfile::tempdir().unwrap();
    let pem = pem_dir.path().join("client.pem");
    std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
    for (args, says) in [
        (
            &["--api-key-env", "TH_TEST_KEY_SURELY_UNSET"][..],
            "--api-key-env TH_TEST_KEY_SURELY_UNSET: the variable is not set",
        ),
        (
            &["--tls-ca", "/nonexistent/ca.pem"][..],
            "--tls-ca /nonexistent/ca.pem: cannot read the TLS CA file",
        ),
        (
            &["--tls-cert", pem.to_str().unwrap()][..],
            "--tls-cert and --tls-key go together",
        ),
    ] {
        let out = validate_unreachable(args, &[]);
        assert_config_error(&out, says);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The value came from a flag: the fix names the flag, not a variable never set.
        assert!(
            !stderr.contains("TEMPORAL_HARNESS_TLS"),
            "{args:?}: {stderr}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["validate", "--temporal-address", "https://127.0.0.1:7233"])
        .output()
        .unwrap();
    assert_config_error(&out, "--temporal-address");
    assert!(String::from_utf8_lossy(&out.stderr).contains("scheme https://"));
}

/// A folder on PATH that others can write to is never searched for the programs the harness
/// runs: planted `sh`, `flock`, `docker` and `sed` there never run, and the stack still boots
/// and is torn down (by the keeper, through the trusted programs).
#[test]
fn programs_planted_in_a_shared_folder_on_path_never_run() {
    use std::os::unix::fs::PermissionsExt;
    let planted = tempfile::tempdir().unwrap();
    let marker = planted.path().join("ran");
    for name in ["sh", "flock", "docker", "sed", "cut", "sleep"] {
        let fake = planted.path().join(name);
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho {name} >> {}\nexit 1\n", marker.display()),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(planted.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = format!(
        "{}:{}",
        planted.path().display(),
        std::env::var("PATH").unwrap()
    );
    let private = private_state_dir("planted");
    let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(["up", "--once", "--flavor", "dev", "--no-ui"])
        .env("TEMPORAL_HARNESS_STATE_DIR", private.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !marker.exists(),
        "planted programs ran: {}",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );
}
