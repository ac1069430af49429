//! The `temporal-harness` binary under generated hostile input: random subcommands, flags and
//! values (garbage, huge numbers, bad globs, URLs with passwords, unreadable files). Every run
//! must end within its bound with a documented exit code (0, 1, 2; never a panic's 101),
//! never show the marked secret, and leave nothing running. The config-file, environment,
//! duration and URL properties are unit tests next to their parsers (`cargo test --lib
//! property`); this one runs the real binary.

use proptest::prelude::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A password, in the shapes a secret arrives in (a URL's password, the API key variable): it
/// must never be printed. (A bare word given to a plain flag, `--namespace hunter2`, is not a
/// secret and is quoted back in errors on purpose.)
const SECRET: &str = "PWr0bust-S3cret";

/// Bound on one run: nothing here boots a stack that can succeed (see `env` below).
const RUN_LIMIT: Duration = Duration::from_secs(90);

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("99999999999999999999h".into()),
        Just("0s".into()),
        Just("-1".into()),
        Just("65536".into()),
        Just("[".into()),
        Just("*".into()),
        Just("nomatch*".into()),
        Just("postgres.*".into()),
        Just("xml".into()),
        Just("json".into()),
        Just("127.0.0.1:1".into()),
        Just("not an address".into()),
        Just("http://127.0.0.1:1".into()),
        Just("[::1]:1".into()),
        Just("::1:1".into()),
        Just("ROBUSTNESS_KEY".into()),
        Just("Name=NOTATYPE".into()),
        Just("bad name=Keyword".into()),
        Just("frontend=1,history=0".into()),
        Just("\u{1b}[2J\u{7}".into()),
        Just("/nonexistent/file.pem".into()),
        Just(format!("postgres://temporal:{SECRET}@127.0.0.1:1/temporal")),
        Just(format!("postgres://u:{SECRET}/x@h/db")),
        Just(format!("postgres://u:{SECRET}' \"x@h/db")),
        Just(format!("host=h password={SECRET}")),
        Just(format!(
            "host=127.0.0.1 port=1 user=u password='{SECRET} x&y' dbname=t"
        )),
        Just(format!(
            "host=127.0.0.1 port=1 user=u password={SECRET}&x dbname=t"
        )),
        Just(format!("postgres://u:{SECRET}@x@127.0.0.1:1/db")),
        Just(format!("postgres://u:{SECRET}#x@127.0.0.1:1/db")),
        "\\PC{0,12}",
    ]
}

fn flag() -> impl Strategy<Value = Vec<String>> {
    let with_value = prop_oneof![
        Just("--backend"),
        Just("--flavor"),
        Just("--port"),
        Just("--temporal-address"),
        Just("--namespace"),
        Just("--postgres-url"),
        Just("--tls-ca"),
        Just("--tls-cert"),
        Just("--tls-key"),
        Just("--tls-server-name"),
        Just("--api-key-env"),
        Just("--http-url"),
        Just("--expect-shards"),
        Just("--retry-interval"),
        Just("--format"),
        Just("--only"),
        Just("--skip"),
        Just("--search-attribute"),
        Just("--metrics-url"),
        Just("--ui-url"),
        Just("--hosts"),
        Just("--no-such-flag"),
    ];
    let bare = prop_oneof![Just("--keep"), Just("--list"), Just("--help"), Just("-x")];
    prop_oneof![
        (with_value, value()).prop_map(|(f, v)| vec![f.to_string(), v]),
        (
            prop_oneof![Just("--backend"), Just("--flavor")],
            prop_oneof![
                Just("local"),
                Just("containers"),
                Just("external"),
                Just("dev"),
                Just("postgres")
            ]
        )
            .prop_map(|(f, v)| vec![f.to_string(), v.to_string()]),
        bare.prop_map(|f| vec![f.to_string()]),
        value().prop_map(|v| vec![v]),
    ]
}

fn command_line() -> impl Strategy<Value = Vec<String>> {
    // `setup` is left out: it provisions the machine (tested by the rehearsal instead).
    let sub = prop_oneof![Just("up"), Just("validate"), Just("down"), Just("bogus")];
    (sub, proptest::collection::vec(flag(), 0..5)).prop_map(|(sub, flags)| {
        let mut args = vec![sub.to_string()];
        if sub == "up" {
            // Without --once a successful `up` would wait for Ctrl-C.
            args.push("--once".into());
        }
        args.extend(flags.into_iter().flatten());
        args
    })
}

/// Runs the binary; (exit code, stdout + stderr), killing it past `RUN_LIMIT`.
fn run(args: &[String], state: &Path) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
        .args(args)
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        // Whatever the flags say, a boot fails fast: an external target nobody listens on,
        // and 1 s for anything that boots (containers and local processes are then torn
        // down: part of what this checks).
        .env("TEMPORAL_HARNESS_BACKEND", "external")
        .env("TEMPORAL_HARNESS_ADDRESS", "127.0.0.1:1")
        .env("TEMPORAL_HARNESS_STARTUP_TIMEOUT", "1s")
        .env("TEMPORAL_HARNESS_API_KEY", SECRET)
        .env("ROBUSTNESS_KEY", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn temporal-harness");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let readers = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        let _ = err.read_to_string(&mut text);
        text
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, readers.join().unwrap(), started.elapsed())
}

/// Each case runs the binary; 48 cover every flag several times (`PROPTEST_CASES` for more).
fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn any_command_line_ends_cleanly_with_a_documented_code_and_no_secret(
        args in command_line()
    ) {
        let private = test_support::private_state_dir("robustness");
        let state = private.path();
        let (code, output, took) = run(&args, state);
        prop_assert!(code.is_some(), "{args:?} did not end within {RUN_LIMIT:?}:\n{output}");
        prop_assert!(
            matches!(code, Some(0..=2)),
            "{args:?} exited {code:?} in {took:?}:\n{output}"
        );
        prop_assert!(!output.contains("panicked"), "{args:?} panicked:\n{output}");
        prop_assert!(!output.contains(SECRET), "{args:?} showed the secret:\n{output}");
        if code == Some(2) {
            prop_assert!(
                output.contains("error") || output.contains("Usage"),
                "{args:?}: exit 2 says why:\n{output}"
            );
        }
        // Nothing left running: no stack folder, and no container of this state folder.
        let leftovers: Vec<_> = std::fs::read_dir(state)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()).collect())
            .unwrap_or_default();
        prop_assert!(leftovers.is_empty(), "{args:?} left {leftovers:?}");
    }
}

/// Every variable the harness reads, for the environment property.
const VARIABLES: [&str; 12] = [
    "TEMPORAL_HARNESS_BACKEND",
    "TEMPORAL_HARNESS_FLAVOR",
    "TEMPORAL_HARNESS_PORT",
    "TEMPORAL_HARNESS_STARTUP_TIMEOUT",
    "TEMPORAL_HARNESS_KEEP",
    "TEMPORAL_HARNESS_ADDRESS",
    "TEMPORAL_HARNESS_TLS_CA",
    "TEMPORAL_HARNESS_API_KEY",
    "TEMPORAL_HARNESS_POSTGRES_URL",
    "TEMPORAL_HARNESS_UI_URL",
    "TEMPORAL_HARNESS_NAMESPACE",
    "TEMPORAL_HARNESS_LINGER",
];

proptest! {
    #![proptest_config(cases())]

    /// Any bytes in any variable (not UTF-8, control characters, a secret): a documented
    /// exit code, never a panic or the secret; bytes that are not text name the variable.
    #[test]
    fn any_environment_value_ends_cleanly_and_names_what_is_not_text(
        key in proptest::sample::select(&VARIABLES[..]),
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 1..24),
            Just(format!("postgres://u:{SECRET}\u{7}@h:1/db").into_bytes()),
            Just(b"\xff\xfelocal".to_vec()),
        ],
    ) {
        use std::os::unix::ffi::OsStrExt;
        let value = std::ffi::OsStr::from_bytes(&bytes);
        let private = test_support::private_state_dir("robustness-env");
        let out = Command::new(env!("CARGO_BIN_EXE_temporal-harness"))
            .args(["validate", "--list"])
            .env("TEMPORAL_HARNESS_STATE_DIR", private.path())
            .env(key, value)
            .output()
            .expect("run temporal-harness");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = out.status.code();
        prop_assert!(matches!(code, Some(0 | 2)), "{key}={bytes:?}: exit {code:?}\n{text}");
        prop_assert!(!text.contains("panicked"), "{key}={bytes:?}:\n{text}");
        prop_assert!(!text.contains(SECRET), "{key}: showed the secret:\n{text}");
        if std::str::from_utf8(&bytes).is_err() {
            prop_assert_eq!(code, Some(2), "{}: {}", key, text);
            prop_assert!(text.contains(key), "{key} not named:\n{text}");
        }
    }
}
