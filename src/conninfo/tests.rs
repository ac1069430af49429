use super::*;

fn parse(text: &str) -> PgConnInfo {
    PgConnInfo::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn error(text: &str) -> ConnInfoErrorKind {
    PgConnInfo::parse(text).expect_err(text).kind
}

#[test]
fn both_forms_give_the_same_value() {
    let url = parse("postgres://u:p%20w@db.example:6543/temporal?sslmode=verify-full");
    let pairs = parse(
        "host=db.example port = 6543 user=u password='p w' dbname=temporal sslmode=verify-full",
    );
    assert_eq!(url, pairs);
    assert_eq!(url.server(), "db.example:6543");
    assert_eq!(url.password().unwrap().expose(), "p w");
    assert_eq!(
        url.redacted(),
        "postgres://u:***@db.example:6543/temporal?sslmode=verify-full"
    );
}

#[test]
fn libpq_defaults_apply() {
    let info = parse("postgresql://alice@h");
    assert_eq!((info.port(), info.database()), (5432, "alice"));
    assert!(info.password().is_none());
    assert_eq!(info.ssl_mode(), SslMode::Prefer);
    assert_eq!(info.redacted(), "postgres://alice@h:5432/alice");
}

#[test]
fn quoting_and_escapes_in_the_pairs_form() {
    let info = parse(r"host=h user=u password='it\'s a \\ pass&word' dbname=''");
    assert_eq!(info.password().unwrap().expose(), r"it's a \ pass&word");
    // An empty quoted dbname falls back to libpq's default, the user.
    assert_eq!(info.database(), "u");
    let unquoted = parse("host=h user=u password=Kx7&Yw2Bq9Vr dbname=temporal");
    assert_eq!(unquoted.password().unwrap().expose(), "Kx7&Yw2Bq9Vr");
    assert!(
        !unquoted.redacted().contains("Yw2"),
        "{}",
        unquoted.redacted()
    );
    // `://` inside a value is still the pairs form, as libpq reads it (found by the property
    // below: such a password was refused as "neither form").
    let scheme_like = parse("host=a port=1 user=u password=PW://");
    assert_eq!(scheme_like.password().unwrap().expose(), "PW://");
    assert!(
        !scheme_like.redacted().contains("PW"),
        "{}",
        scheme_like.redacted()
    );
}

#[test]
fn ipv6_and_socket_hosts() {
    let v6 = parse("postgres://u@[::1]:5433/db");
    assert_eq!((v6.host(), v6.server()), ("::1", "[::1]:5433".to_string()));
    assert_eq!(v6.redacted(), "postgres://u@[::1]:5433/db");
    let socket = parse("host=/var/run/postgresql user=u");
    assert_eq!(socket.host(), "/var/run/postgresql");
    assert_eq!(parse(socket.exposed_url().expose()), socket);
}

#[test]
fn urls_whose_password_parsers_disagree_about_are_refused() {
    for (text, kind) in [
        (
            "postgres://u:a@b@127.0.0.1:5432/db",
            ConnInfoErrorKind::RawInUrl('@'),
        ),
        (
            "postgres://u:a/b@0.0.0.9/db",
            ConnInfoErrorKind::RawInUrl('/'),
        ),
        ("postgres://u:a#b@h/db", ConnInfoErrorKind::RawInUrl('#')),
        ("postgres://u:a b@h/db", ConnInfoErrorKind::RawInUrl(' ')),
        (
            "postgres://u:100%@h/db",
            ConnInfoErrorKind::BadPercentEncoding,
        ),
    ] {
        assert_eq!(error(text), kind, "{text}");
    }
}

#[test]
fn what_is_not_a_connection_string_is_named() {
    use ConnInfoErrorKind::*;
    for (text, kind) in [
        ("not-a-url", UnknownForm),
        ("mysql://u@h/db", UnknownForm),
        ("mysql://u@h/db?password=p", UnknownForm),
        ("postgres://", NoHost),
        ("postgres://h/db", NoUser),
        ("host=h", NoUser),
        ("postgres://u@h:0/db", BadPort),
        ("postgres://u@h:99999/db", BadPort),
        ("postgres://u@h1,h2/db", SeveralHosts),
        ("host=h user=u sslmode=always", BadSslMode),
        ("host=h user=u sslcert=/c", HalfAClientCertificate),
        (
            "host=h user=u target_session_attrs=any",
            UnsupportedKeyword("target_session_attrs"),
        ),
        ("host=h user=u password=ab cd=ef", UnknownKeyword(4)),
        ("host=h user=u password='abc", UnclosedQuote),
        ("host=h user", NotAPair(2)),
        ("postgres://u@h/db?connect_timeout=soon", BadConnectTimeout),
    ] {
        assert_eq!(error(text), kind, "{text}");
    }
}

#[test]
fn errors_never_quote_the_string() {
    for text in [
        "host=h user=u password=Secret1 x=Secret2",
        "postgres://u:Secret1@Secret2@h/db",
        "host=h user=u password='Secret1",
        "postgres://u:Secret1@h:Secret2/db",
    ] {
        let shown = PgConnInfo::parse(text).unwrap_err().to_string();
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(shown.contains("Fix:"), "{shown}");
    }
}

#[test]
fn another_database_keeps_server_credentials_and_tls() {
    let info =
        parse("host=h user=u password=p dbname=temporal sslmode=require sslrootcert=/ca.pem");
    let visibility = info.with_database("temporal_visibility");
    assert_eq!(visibility.database(), "temporal_visibility");
    assert_eq!(
        visibility.redacted(),
        "postgres://u:***@h:5432/temporal_visibility?sslmode=require&sslrootcert=%2Fca.pem"
    );
    assert!(visibility.requires_tls());
}

#[test]
fn the_stored_form_round_trips() {
    let info = parse(
        "host=h user='a b' password='p@/#?%&=x' dbname=d sslmode=verify-ca application_name=x",
    );
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(serde_json::from_str::<PgConnInfo>(&json).unwrap(), info);
}

#[test]
fn scrub_removes_echoed_passwords_in_each_form() {
    let info = parse("postgres://u:p%40ss@h/db");
    assert_eq!(
        info.scrub("login as u with p@ss (p%40ss) failed"),
        "login as u with *** (***) failed"
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;

    /// Passwords as generators and hostile users write them: every delimiter of both forms.
    /// The `PW` mark makes an accidental match elsewhere impossible.
    fn password() -> impl Strategy<Value = String> {
        "[A-Za-z0-9@/:#?%&= !$'\"()*+,;\\[\\]~._\\\\-]{1,24}".prop_map(|p| format!("PW{p}"))
    }

    fn quoted(value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// The password in the shapes each form allows: percent-encoded or (when it holds no
    /// delimiter) raw in a URL, quoted or (when it holds no space, quote or backslash) bare
    /// in pairs.
    fn shaped(password: &str, host: &str, port: u16, shape: u8) -> String {
        let plain_for_url = !password.contains(['@', '/', '#', '?', '%', ' ', ':', '&']);
        let plain_for_pairs = !password.contains([' ', '\'', '\\']);
        match shape % 5 {
            0 => format!("postgres://u:{}@{host}:{port}/temporal", encode(password)),
            1 if plain_for_url => format!("postgresql://u:{password}@{host}:{port}/db"),
            2 => format!(
                "postgres://{host}:{port}/db?user=u&password={}",
                encode(password)
            ),
            3 if plain_for_pairs => format!("host={host} port={port} user=u password={password}"),
            _ => format!(
                "host={host} port={port} user=u password={} dbname=db",
                quoted(password)
            ),
        }
    }

    /// Every 5-character piece of `password` (ignoring the `PW` mark).
    fn pieces(password: &str) -> Vec<String> {
        let chars: Vec<char> = password.chars().skip(2).collect();
        chars.windows(5).map(|w| w.iter().collect()).collect()
    }

    proptest! {
        #[test]
        fn shown_is_connected_and_never_the_password(
            password in password(),
            host in "[a-z]{1,8}(\\.[a-z]{2,3})?",
            port in 1u16..,
            shape in any::<u8>(),
        ) {
            let text = shaped(&password, &host, port, shape);
            let info = PgConnInfo::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(info.password().map(Secret::expose), Some(password.as_str()));
            // What is connected to is what is shown.
            let options = info.connect_options();
            prop_assert_eq!((options.get_host(), options.get_port()), (host.as_str(), port));
            prop_assert_eq!(info.server(), format!("{host}:{port}"));
            let echoed = format!("FATAL: password {password} for u rejected ({})", encode(&password));
            for shown in [
                info.to_string(),
                format!("{info:?}"),
                info.redacted(),
                info.with_database("temporal_visibility").to_string(),
                info.scrub(&echoed),
            ] {
                let server = format!("{host}:{port}");
                prop_assert!(shown.contains(&server) || shown.starts_with("FATAL"));
                for piece in pieces(&password) {
                    prop_assert!(!shown.contains(&piece), "{} shows {} of {}", shown, piece, password);
                }
            }
            prop_assert_eq!(PgConnInfo::parse(info.exposed_url().expose()).unwrap(), info);
        }

        #[test]
        fn refused_strings_never_show_a_piece_of_the_password(
            password in password(),
            shape in any::<u8>(),
        ) {
            // Raw, unencoded and unquoted: often not parseable, never quoted back.
            let text = match shape % 3 {
                0 => format!("postgres://u:{password}@h:5432/db"),
                1 => format!("host=h user=u password={password} dbname=db"),
                _ => format!("host=h user=u password='{password} dbname=db"),
            };
            if let Err(e) = PgConnInfo::parse(&text) {
                let shown = e.to_string();
                for piece in pieces(&password) {
                    prop_assert!(!shown.contains(&piece), "{} shows {}", shown, piece);
                }
            }
        }
    }
}
