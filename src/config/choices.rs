//! The settings that pick one of several: where a stack runs, what server, how it is laid
//! out, which images. Their names are parsed and printed by strum, one spelling each, for
//! configuration, the CLI and error messages.

/// Where the stack runs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum BackendKind {
    /// Containers when Docker answers, else local processes when the binaries exist.
    Auto,
    /// Docker containers through testcontainers.
    Containers,
    /// Local processes (initdb/pg_ctl, the Temporal binaries from provisioning).
    Local,
    /// An existing deployment; nothing is started or stopped.
    External,
}

/// What Temporal server runs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Flavor {
    /// The full Temporal server persisting to PostgreSQL (the default).
    Postgres,
    /// The Temporal CLI dev server alone (in-memory SQLite): the fastest.
    Dev,
}

/// How the Temporal server is laid out (PostgreSQL flavour).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Topology {
    /// One process runs every service (the default, and what the dev server is).
    #[default]
    Single,
    /// Each service its own process, as production deploys them: a frontend, two history
    /// hosts, matching and worker, sharing PostgreSQL (local backend).
    Cluster,
}

/// Which container images the containers backend uses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum ImageSource {
    /// Official images when present or pullable; the local images from provisioning when
    /// the official ones are absent and the local ones exist.
    Auto,
    /// Always the official images (pulled if missing).
    Official,
    /// Always the locally built images (`temporal-harness setup`).
    Local,
}

/// What an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageRole {
    /// PostgreSQL.
    Postgres,
    /// The Temporal server.
    Server,
    /// The schema tooling (`temporal-sql-tool`).
    AdminTools,
    /// The CLI dev server.
    Dev,
    /// The Web UI server (PostgreSQL flavour; the dev server has its own).
    Ui,
}

/// Official image references, overridable one by one. An image the user names (file or env)
/// is used whatever `images` says, or the boot fails naming it: a CI matrix over server
/// versions must never silently test the local default instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct OfficialImages {
    /// PostgreSQL (default `postgres:15`).
    pub postgres: String,
    /// Temporal server (default `temporalio/server:<pinned>`).
    pub server: String,
    /// Schema tooling (default `temporalio/admin-tools:<pinned>`).
    pub admin_tools: String,
    /// CLI dev server (default `temporalio/temporal:<pinned CLI>`).
    pub dev: String,
    /// Web UI server (default `temporalio/ui:<pinned UI>`).
    pub ui: String,
    /// The roles whose image the user named.
    named: std::collections::BTreeSet<ImageRole>,
}

impl OfficialImages {
    /// Names the image for `role` (as `TEMPORAL_HARNESS_*_IMAGE` or `[image]` do).
    pub fn name(&mut self, role: ImageRole, image: String) {
        *self.slot(role) = image;
        self.named.insert(role);
    }

    /// Whether the user named the image for `role`.
    pub fn is_named(&self, role: ImageRole) -> bool {
        self.named.contains(&role)
    }

    /// The image for `role`.
    pub fn get(&self, role: ImageRole) -> &str {
        match role {
            ImageRole::Postgres => &self.postgres,
            ImageRole::Server => &self.server,
            ImageRole::AdminTools => &self.admin_tools,
            ImageRole::Dev => &self.dev,
            ImageRole::Ui => &self.ui,
        }
    }

    fn slot(&mut self, role: ImageRole) -> &mut String {
        match role {
            ImageRole::Postgres => &mut self.postgres,
            ImageRole::Server => &mut self.server,
            ImageRole::AdminTools => &mut self.admin_tools,
            ImageRole::Dev => &mut self.dev,
            ImageRole::Ui => &mut self.ui,
        }
    }
}

impl Default for OfficialImages {
    fn default() -> Self {
        let v = crate::versions::Versions::pinned();
        OfficialImages {
            postgres: format!("postgres:{}", v.postgres_major),
            server: format!("temporalio/server:{}", v.temporal_server),
            admin_tools: format!("temporalio/admin-tools:{}", v.temporal_server),
            dev: format!("temporalio/temporal:{}", v.temporal_cli),
            ui: format!("temporalio/ui:{}", v.temporal_ui),
            named: Default::default(),
        }
    }
}

/// How a run keeps to itself on an external deployment that other runs share (a CI fleet on
/// one cluster). Both remove what the run made when its last process ends, and sweep what
/// killed runs left once it is older than the run TTL.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum RunIsolation {
    /// The configured namespace, as it is: tests keep apart by task queue and workflow ID, and
    /// nothing is removed (the default).
    #[default]
    None,
    /// A namespace of the run's own, registered with a marker saying who made it and when,
    /// and deleted at the end (self-hosted clusters where tests may register namespaces).
    Namespace,
    /// The configured namespace, with the run's ID first in every workflow ID and task
    /// queue; its open workflows are terminated at the end (Temporal Cloud, and clusters
    /// where tests may not register namespaces).
    Prefix,
}
