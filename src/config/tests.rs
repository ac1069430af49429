use super::*;

#[test]
fn env_overrides_defaults() {
    let mut c = StackConfig::default();
    c.apply_env(&[
        ("TEMPORAL_HARNESS_BACKEND", "Local"),
        ("TEMPORAL_HARNESS_FLAVOR", "dev"),
        ("TEMPORAL_HARNESS_STARTUP_TIMEOUT", "45s"),
        ("TEMPORAL_HARNESS_KEEP", "yes"),
    ])
    .unwrap();
    assert_eq!(c.backend, BackendKind::Local);
    assert_eq!(c.flavor, Flavor::Dev);
    assert_eq!(c.startup_timeout, Duration::from_secs(45));
    assert!(c.keep);
}

#[test]
fn the_ui_is_off_for_tests_unless_asked_and_an_external_ui_must_be_http() {
    let mut c = StackConfig::default();
    assert_eq!(c.ui, None);
    assert!(!c.ui_enabled());
    c.apply_env(&[("TEMPORAL_HARNESS_UI", "1")]).unwrap();
    assert!(c.ui_enabled());
    c.apply_env(&[("TEMPORAL_HARNESS_UI", "off")]).unwrap();
    assert_eq!(c.ui, Some(false));
    let mut ext = StackConfig::default();
    ext.apply_env(&[
        ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
        ("TEMPORAL_HARNESS_UI_URL", "https://ui.example.com"),
    ])
    .unwrap();
    let ui = ext.external.as_ref().and_then(|e| e.ui_url.as_deref());
    assert_eq!(ui, Some("https://ui.example.com"));
    let err = StackConfig::default()
        .apply_env(&[
            ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
            ("TEMPORAL_HARNESS_UI_URL", "ui.example.com"),
        ])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TEMPORAL_HARNESS_UI_URL") && err.contains("Fix:"),
        "{err}"
    );
}

#[test]
fn bad_values_name_the_key_and_the_choices() {
    let err = StackConfig::default()
        .apply_env(&[("TEMPORAL_HARNESS_BACKEND", "kubernetes")])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("TEMPORAL_HARNESS_BACKEND") && msg.contains("containers"),
        "{msg}"
    );
}

#[test]
fn external_needs_an_address() {
    let err = StackConfig::default()
        .apply_env(&[("TEMPORAL_HARNESS_BACKEND", "external")])
        .unwrap_err();
    assert!(matches!(err, ConfigError::ExternalWithoutAddress), "{err}");
}

#[test]
fn external_settings_come_from_env_and_the_key_stays_secret() {
    let mut c = StackConfig::default();
    c.apply_env(&[
        ("TEMPORAL_HARNESS_BACKEND", "external"),
        ("TEMPORAL_HARNESS_ADDRESS", "temporal.example:7233"),
        ("TEMPORAL_HARNESS_API_KEY", "key-123"),
        ("TEMPORAL_HARNESS_TLS_CA", "/ca.pem"),
    ])
    .unwrap();
    let ext = c.external.as_ref().unwrap();
    assert_eq!(ext.address, "temporal.example:7233");
    assert_eq!(ext.tls.ca.as_deref(), Some(std::path::Path::new("/ca.pem")));
    assert!(!format!("{c:?}").contains("key-123"));
}

#[test]
fn run_isolation_comes_from_env_and_is_refused_off_an_external_deployment() {
    let mut c = StackConfig::default();
    assert_eq!(ExternalTarget::default().isolation, RunIsolation::None);
    assert_eq!(ExternalTarget::default().run_ttl, DEFAULT_RUN_TTL);
    c.apply_env(&[
        ("TEMPORAL_HARNESS_BACKEND", "external"),
        ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
        ("TEMPORAL_HARNESS_ISOLATION", "Namespace"),
        ("TEMPORAL_HARNESS_RUN_TTL", "90m"),
    ])
    .unwrap();
    let ext = c.external.as_ref().unwrap();
    assert_eq!(ext.isolation, RunIsolation::Namespace);
    assert_eq!(ext.run_ttl, Duration::from_secs(5400));
    // Set for a run that boots a stack of its own, it would isolate nothing: refused.
    let err = StackConfig::default()
        .apply_env(&[("TEMPORAL_HARNESS_ISOLATION", "prefix")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TEMPORAL_HARNESS_ISOLATION") && err.contains("backend is auto"),
        "{err}"
    );
    for (key, value, expected) in [
        (
            "TEMPORAL_HARNESS_ISOLATION",
            "cluster",
            "none, namespace or prefix",
        ),
        ("TEMPORAL_HARNESS_RUN_TTL", "0s", "from 1s"),
    ] {
        let err = StackConfig::default()
            .apply_env(&[
                ("TEMPORAL_HARNESS_BACKEND", "external"),
                ("TEMPORAL_HARNESS_ADDRESS", "t:7233"),
                (key, value),
            ])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(expected), "{err}");
    }
}

mod property {
    use super::*;
    use proptest::prelude::*;

    /// Every variable the harness reads.
    const KEYS: [&str; 21] = [
        "TEMPORAL_HARNESS_ISOLATION",
        "TEMPORAL_HARNESS_RUN_TTL",
        "TEMPORAL_HARNESS_BACKEND",
        "TEMPORAL_HARNESS_FLAVOR",
        "TEMPORAL_HARNESS_IMAGES",
        "TEMPORAL_HARNESS_POSTGRES_IMAGE",
        "TEMPORAL_HARNESS_SERVER_IMAGE",
        "TEMPORAL_HARNESS_ADMIN_TOOLS_IMAGE",
        "TEMPORAL_HARNESS_DEV_IMAGE",
        "TEMPORAL_HARNESS_NAMESPACE",
        "TEMPORAL_HARNESS_PORT",
        "TEMPORAL_HARNESS_STARTUP_TIMEOUT",
        "TEMPORAL_HARNESS_LINGER",
        "TEMPORAL_HARNESS_KEEP",
        "TEMPORAL_HARNESS_STATE_DIR",
        "TEMPORAL_HARNESS_TOOLS_DIR",
        "TEMPORAL_HARNESS_ADDRESS",
        "TEMPORAL_HARNESS_TLS_CA",
        "TEMPORAL_HARNESS_API_KEY",
        "TEMPORAL_HARNESS_POSTGRES_URL",
        "TEMPORAL_HARNESS_TLS_SERVER_NAME",
    ];

    struct MapEnv(Vec<(String, String)>);

    impl Env for MapEnv {
        fn var(&self, key: &str) -> Result<Option<String>, ConfigError> {
            Ok(self
                .0
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone()))
        }
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("auto".to_string()),
            Just("external".to_string()),
            Just("namespace".to_string()),
            Just("prefix".to_string()),
            Just("local".to_string()),
            Just("dev".to_string()),
            Just("99999999999999999999h".to_string()),
            Just("0s".to_string()),
            Just("-1".to_string()),
            Just("65536".to_string()),
            Just("yes".to_string()),
            "[0-9]{1,22}(ms|s|m|h)?",
            "\\PC{0,20}",
        ]
    }

    proptest! {
        #[test]
        fn any_environment_applies_or_errs_naming_the_key(
            vars in proptest::collection::vec((0..KEYS.len(), value()), 0..8),
            secret in "PW[A-Za-z0-9@/:#?%]{4,16}",
        ) {
            let mut vars: Vec<(String, String)> =
                vars.into_iter().map(|(k, v)| (KEYS[k].to_string(), v)).collect();
            // Secrets arrive in their own variables, in any shape.
            vars.push(("TEMPORAL_HARNESS_API_KEY".into(), secret.clone()));
            vars.push((
                "TEMPORAL_HARNESS_POSTGRES_URL".into(),
                format!("postgres://temporal:{secret}@db:5432/temporal"),
            ));
            let mut config = StackConfig::default();
            match config.apply_env(&MapEnv(vars)) {
                Ok(()) => {}
                Err(e) => {
                    let shown = e.to_string();
                    prop_assert!(
                        shown.contains("TEMPORAL_HARNESS_") && shown.contains("Fix:")
                            || matches!(e, ConfigError::ExternalWithoutAddress),
                        "{shown}"
                    );
                    let debug = format!("{:?}", e);
                    prop_assert!(!shown.contains(&secret) && !debug.contains(&secret));
                }
            }
            let debug = format!("{:?}", config);
            prop_assert!(!debug.contains(&secret), "{}", debug);
        }
    }
}
