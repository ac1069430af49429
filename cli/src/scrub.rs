//! What the command shows of its own command line: an error that quotes an argument (clap's
//! "unexpected argument '...'") must not show a password it carried.

/// `text` with every credential that `inputs` (e.g. the command line, a `--flag=value` or a
/// value alone) carry replaced by `***`: a connection string that parses loses its password in
/// every form; one that does not parse, or another input that looks like it holds a
/// credential, is replaced whole. Then `redact_text` for anything else that looks like one.
pub(crate) fn scrub_inputs<'a>(text: &str, inputs: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = text.to_string();
    for input in inputs {
        let value = match input.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => value,
            _ => input,
        };
        if !(value.contains('@') || value.to_ascii_lowercase().contains("password")) {
            continue;
        }
        text = match temporal_harness::conninfo::PgConnInfo::parse(value) {
            Ok(info) => info.scrub(&text.replace(value, &info.redacted())),
            Err(_) => text.replace(value, "***"),
        };
    }
    temporal_harness::secret::redact_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod property {
        use super::*;
        use proptest::prelude::*;
        use temporal_harness::secret::redact_url;

        /// Passwords as generated credentials and hostile users write them: every URL
        /// delimiter included. The `PW` mark makes an accidental match elsewhere impossible.
        fn password() -> impl Strategy<Value = String> {
            "[A-Za-z0-9@/:#?%&= !$'()*+,;\\[\\]~._-]{1,24}".prop_map(|p| format!("PW{p}"))
        }

        /// The shapes a secret-bearing input arrives in, parseable or not.
        fn shaped(user: &str, password: &str, host: &str, shape: u8) -> String {
            match shape % 5 {
                0 => format!("postgres://{user}:{password}@{host}:5432/temporal"),
                1 => format!("postgresql://{user}:{password}@{host}/db?sslmode=disable"),
                2 => format!("{user}:{password}@{host}"),
                3 => format!("postgres://{host}/db?user={user}&password={password}"),
                _ => format!(
                    "host={host} user={user} password='{}'",
                    password.replace('\'', "\\'")
                ),
            }
        }

        proptest! {
            #[test]
            fn no_output_path_shows_the_password(
                user in "[a-z]{1,8}",
                password in password(),
                host in "[a-z]{1,8}(\\.[a-z]{2,3})?",
                shape in any::<u8>(),
            ) {
                // The query form cannot carry spaces or `#` unencoded: they end the value.
                prop_assume!(shape % 5 != 3 || !password.contains([' ', '#']));
                let raw = shaped(&user, &password, &host, shape);
                let flag = format!("--postgres-url={raw}");
                for shown in [
                    redact_url(&raw),
                    scrub_inputs(&format!("error: unexpected argument '{raw}' found"), [raw.as_str()]),
                    scrub_inputs(&format!("error: invalid value '{raw}' for --x"), [flag.as_str()]),
                ] {
                    prop_assert!(!shown.contains(&password), "{shown} shows {password}");
                    // Nor a tail of it (a parser that split the password at a delimiter
                    // would show what follows), unless that text is elsewhere in the input.
                    let tail: String = password.chars().rev().take(5).collect::<Vec<_>>()
                        .into_iter().rev().collect();
                    if password.len() >= 8 && !raw.replace(&password, "").contains(&tail) {
                        prop_assert!(!shown.contains(&tail), "{shown} shows {tail} of {password}");
                    }
                }
            }
        }
    }
}
