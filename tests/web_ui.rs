//! The Temporal Web UI in a real browser (Debian's headless Chromium, driven through
//! chromedriver by fantoccini): a stack booted with its UI, a failing `#[temporal_test]` run
//! against it (this binary again, in a child process, so its failure output is real), then the
//! UI's front page, the workflow link the failure printed, and the history file it wrote opened
//! in the UI's import page, each checked for the workflow's activity and saved as a screenshot
//! under `target/tmp/web-ui/`.
//!
//! Without Chromium or chromedriver the trial is reported as ignored, with the reason.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use temporal_harness::__private::{run_test, TestOptions};
use temporal_harness::runner::{Definitions, TestRunner};
use temporal_harness::{Stack, StackConfig};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

/// Set in the child: run the failing test instead of the trial.
const CHILD: &str = "TEMPORAL_HARNESS_WEB_UI_CHILD";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The activity the UI must show: a name no page shows by itself.
const ACTIVITY: &str = "Payments::charge";
/// Bound on each page showing what it must (the UI loads the history after the page).
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Payments;

#[activities]
impl Payments {
    #[activity]
    pub async fn charge(_ctx: ActivityContext, cents: u32) -> Result<String, ActivityError> {
        Ok(format!("receipt-{cents}"))
    }
}

#[workflow]
#[derive(Default)]
pub struct CheckoutWorkflow;

#[workflow_methods]
impl CheckoutWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, cents: u32) -> WorkflowResult<String> {
        let options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
        Ok(ctx
            .execute_activity(Payments::charge, cents, options)
            .await?)
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        a_failing_test();
        return;
    }
    let args = Arguments::from_args();
    let trial = Trial::test("a_failing_tests_workflow_opens_in_the_web_ui", || {
        tokio::runtime::Runtime::new()?.block_on(failing_test_in_the_browser())
    });
    let trial = match browser_missing() {
        Some(reason) => {
            eprintln!("web_ui: ignored: {reason}");
            trial.with_ignored_flag(true)
        }
        None => trial,
    };
    libtest_mimic::run(&args, vec![trial]).exit();
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| {
            format!(
                "{p} is missing. Fix: apt-get install chromium chromium-driver \
                 (scripts/provision.sh installs them)"
            )
        })
}

/// What the child runs: a test whose workflow completes and whose assertion fails.
fn a_failing_test() {
    run_test(
        TestOptions::new("checkout_charges_the_wrong_amount"),
        Definitions::new()
            .workflow::<CheckoutWorkflow>()
            .activities(Payments),
        |runner: TestRunner| {
            Box::pin(async move {
                let receipt = runner.execute(CheckoutWorkflow::run, 4200).await.unwrap();
                assert_eq!(receipt, "receipt-4300", "the deliberate failure");
            })
        },
    );
}

async fn failing_test_in_the_browser() -> Result<(), Failed> {
    let mut config = StackConfig::load()?;
    // A stack of its own (the run's shared one may have been booted without the UI), in a
    // state folder that stays: what a killed run left there, the next run reaps.
    let name = config
        .state_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    config.state_dir = config
        .state_dir
        .with_file_name(format!("{name}-web-ui-test"));
    config.ui = Some(true);
    let stack = Stack::acquire(&config).await?;
    let checked = open_in_the_browser(&stack, &config.state_dir).await;
    stack.shutdown(Duration::from_secs(30)).await?;
    checked
}

async fn open_in_the_browser(stack: &Stack, state: &Path) -> Result<(), Failed> {
    let ui_url = stack
        .endpoints()
        .ui_url
        .clone()
        .ok_or("a stack booted with ui = true has no ui_url")?;
    let failure = run_child(state)?;
    let link = line_after(&failure, "---- in the Temporal Web UI ----")
        .and_then(|l| l.split_once(": ").map(|(_, url)| url.trim().to_string()))
        .ok_or_else(|| format!("the failure printed no UI link:\n{failure}"))?;
    if !link.starts_with(&ui_url) || !failure.contains("TEMPORAL_HARNESS_KEEP=1") {
        return Err(format!(
            "expected a link on {ui_url} and how to keep the page; the failure printed:\n{failure}"
        )
        .into());
    }
    let json = history_file(&failure).ok_or_else(|| format!("no JSON file in:\n{failure}"))?;

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-ui");
    std::fs::create_dir_all(&shots)?;
    let browser = Browser::start().await?;
    let checked = async {
        let home = browser
            .show(&ui_url, "Workflows", &shots.join("ui-home.png"))
            .await?;
        let page = browser
            .show(&link, ACTIVITY, &shots.join("failing-test-workflow.png"))
            .await?;
        let import = browser
            .import(&ui_url, &json, &shots.join("imported-history.png"))
            .await?;
        eprintln!(
            "web_ui: front page {home:?}, workflow page {page:?}, imported history {import:?}; \
             screenshots in {}",
            shots.display()
        );
        Ok::<_, Failed>(())
    }
    .await;
    browser.close().await;
    checked
}

/// Runs [`a_failing_test`] in a child against the stack in `state`; its stderr, once it failed.
fn run_child(state: &Path) -> Result<String, Failed> {
    let out = Command::new(std::env::current_exe()?)
        .env(CHILD, "1")
        .env("TEMPORAL_HARNESS_STATE_DIR", state)
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() || !stderr.contains("the deliberate failure") {
        return Err(
            format!("the deliberately failing test did not fail as meant:\n{stderr}").into(),
        );
    }
    Ok(stderr)
}

fn line_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.lines().skip_while(|l| !l.contains(marker)).nth(1)
}

/// The path in `---- history of workflow <id> (JSON: <path>) ----`.
fn history_file(failure: &str) -> Option<PathBuf> {
    let start = failure.find("(JSON: ")? + "(JSON: ".len();
    let end = start + failure[start..].find(") ----")?;
    Some(PathBuf::from(&failure[start..end]))
}

/// Headless Chromium behind chromedriver on a free port; both end with [`Browser::close`]
/// (or, if that is never reached, when the driver process is dropped).
struct Browser {
    client: Client,
    driver: DriverProcess,
    _profile: tempfile::TempDir,
}

struct DriverProcess(Child);

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Browser {
    async fn start() -> Result<Browser, Failed> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = DriverProcess(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let profile = tempfile::tempdir()?;
        // The flags Debian's Chromium needs headless, as root, on a machine without network
        // (see ENVIRONMENT.md): without the background-networking ones it keeps dialling out.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ]
        .into_iter()
        .map(String::from)
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = serde_json::json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        // The driver listens a moment after it starts: retry the session until it does.
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("chromedriver at {url} gave no session: {e}").into())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Opens `url`, waits until the page's text has `expected`, saves a screenshot; returns
    /// how long the page took.
    async fn show(&self, url: &str, expected: &str, shot: &Path) -> Result<Duration, Failed> {
        let started = Instant::now();
        self.client.goto(url).await?;
        self.wait_for_text(url, expected).await?;
        std::fs::write(shot, self.client.screenshot().await?)?;
        Ok(started.elapsed())
    }

    /// Uploads `json` in the UI's history import page and waits for its events to show.
    async fn import(&self, ui_url: &str, json: &Path, shot: &Path) -> Result<Duration, Failed> {
        let started = Instant::now();
        let page = format!("{}/import/events", ui_url.trim_end_matches('/'));
        self.client.goto(&page).await?;
        let input = self
            .client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::Css("input[type=file]"))
            .await?;
        input.send_keys(&json.display().to_string()).await?;
        self.client
            .find(Locator::XPath("//button[normalize-space()='Import']"))
            .await?
            .click()
            .await?;
        self.wait_for_text(&page, ACTIVITY).await?;
        std::fs::write(shot, self.client.screenshot().await?)?;
        Ok(started.elapsed())
    }

    /// Polls the page's visible text until it contains `expected` (the UI fetches the
    /// history after the page loads), for at most [`PAGE_TIMEOUT`].
    async fn wait_for_text(&self, url: &str, expected: &str) -> Result<(), Failed> {
        let started = Instant::now();
        loop {
            let text = self
                .client
                .execute("return document.body.innerText", vec![])
                .await?;
            let text = text.as_str().unwrap_or_default().to_string();
            if text.contains(expected) {
                return Ok(());
            }
            if started.elapsed() > PAGE_TIMEOUT {
                return Err(format!(
                    "{url} did not show {expected:?} within {PAGE_TIMEOUT:?}; it shows:\n{text}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn close(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}
