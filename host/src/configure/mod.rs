//! `init`, `setup`, `install-skill` and `doctor`: configuring AI clients.
//! The component renders and checks config text (its `config` interface,
//! run with no network at all); this module does every side effect: the
//! terminal, the files and git. Loading the component here also warms the
//! compiled-code cache, so the client's first `serve` starts fast.

pub mod doctor;
pub mod git;
pub mod init;
pub mod lock;
pub mod paths;
pub mod private_file;
pub mod skill;
pub mod terminal;

use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::egress::Policy;
use crate::runtime::config::{Client, Location, Scope, ServerEntry};
use crate::runtime::{CallContext, ConfigInstance, Runtime, TokenState};

/// The component's `config` interface, called synchronously.
pub struct Component {
    tokio: tokio::runtime::Runtime,
    instance: ConfigInstance,
    _runtime: Runtime,
}

impl Component {
    /// Loads the embedded component with an egress policy that admits
    /// nothing: what it renders may hold a token.
    pub fn load() -> Result<Component> {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let context = CallContext {
            gateway_origin: None,
            token: TokenState::Missing,
            timeout_ms: 1_000,
        };
        let policy = Policy::new(None, None, Duration::from_secs(1));
        let runtime = tokio.block_on(Runtime::new(policy, context))?;
        let instance = tokio.block_on(runtime.config_instance())?;
        Ok(Component {
            tokio,
            instance,
            _runtime: runtime,
        })
    }

    /// Every client, in menu order.
    pub fn clients(&mut self) -> Result<Vec<Client>> {
        self.tokio
            .block_on(self.instance.run(async |g, s| g.call_clients(s).await))
    }

    /// A client by id, label or alias; `Unknown provider: …` otherwise.
    pub fn find_client(&mut self, query: &str) -> Result<Client> {
        let found = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_find_client(s, query).await),
        )?;
        found.ok_or_else(|| anyhow!("Unknown provider: {}", query.trim()))
    }

    pub fn mcp_location(&mut self, client: &Client, scope: Scope) -> Result<Location> {
        let id = client.id.as_str();
        let found = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_mcp_location(s, id, scope).await),
        )?;
        found.map_err(|message| anyhow!(message))
    }

    pub fn server_name(&mut self, raw: &str) -> Result<String> {
        let name = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_server_name(s, raw).await),
        )?;
        name.map_err(|message| anyhow!(message))
    }

    pub fn render(
        &mut self,
        client: &Client,
        existing: &str,
        name: &str,
        entry: &ServerEntry,
    ) -> Result<String> {
        let id = client.id.as_str();
        let text = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_render_config(s, id, existing, name, entry).await),
        )?;
        text.map_err(|message| anyhow!(message))
    }

    pub fn preview(
        &mut self,
        client: &Client,
        name: &str,
        command: &str,
        url: &str,
    ) -> Result<String> {
        let id = client.id.as_str();
        let text = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_preview_config(s, id, name, command, url).await),
        )?;
        text.map_err(|message| anyhow!(message))
    }

    /// The doctor's check of a config's text; the error is one report line.
    pub fn inspect(
        &mut self,
        client: &Client,
        text: &str,
        name: &str,
    ) -> Result<Result<ServerEntry, String>> {
        let id = client.id.as_str();
        self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_inspect_config(s, id, text, name).await),
        )
    }

    pub fn bundled_skill(&mut self) -> Result<String> {
        self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_bundled_skill(s).await),
        )
    }

    /// A skill text, checked; the error says which rule it breaks.
    pub fn validate_skill(&mut self, text: &str) -> Result<String> {
        let checked = self.tokio.block_on(
            self.instance
                .run(async |g, s| g.call_validate_skill(s, text).await),
        )?;
        checked.map_err(|message| anyhow!(message))
    }
}

/// Reads `user` or `project`.
pub fn parse_scope(raw: &str) -> Result<Scope> {
    use aipermission_core::config::Scope as Parsed;
    match Parsed::parse(raw).map_err(|message| anyhow!(message))? {
        Parsed::User => Ok(Scope::User),
        Parsed::Project => Ok(Scope::Project),
    }
}

/// The running executable's absolute path, as config entries launch it.
pub fn this_program() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.canonicalize().unwrap_or(exe))
}
