//! `ofd account key …`: issue, revoke and list the operator API keys of the account service;
//! `ofd account operator create`: the first operator login of a new installation (an operator
//! key, with where to sign in with it). These work on the database directly, so that the first
//! key can be made before anything can call the API. Operator keys act on every organisation,
//! and every request made with one is written to the audit log; organisations' own keys are
//! made by their owners through the API.

use clap::{Args, Subcommand};

use crate::store::Store;

/// Arguments of `ofd account key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Issue an operator key and print it once on stdout (it is stored only as a hash).
    Create {
        /// A label for people, unique among live operator keys (e.g. "emulator", "support").
        #[arg(long)]
        name: String,
        /// Make an operator key (acts on every organisation). The only kind made here, so this
        /// flag is implied; it is accepted so that scripts can say what they mean.
        #[arg(long)]
        operator: bool,
    },
    /// Revoke the live key with this name; requests with it get 401 from now on.
    Revoke {
        /// The key's label.
        #[arg(long)]
        name: String,
    },
    /// List every key, operator and organisation, live and revoked (never the keys).
    List {
        /// Print a JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `ofd account operator`.
#[derive(Args, Debug)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(Subcommand, Debug)]
enum OperatorCommand {
    /// Create an operator login for the cabinet's operator console: an operator key, printed
    /// once on stdout, to enter on `<cabinet>/operator/login` (or to send as a bearer token).
    Create {
        /// Who it is for, unique among live operator keys (e.g. "support-anna").
        #[arg(long, default_value = "operator")]
        name: String,
    },
}

/// Run `ofd account operator …` against `store`; `cabinet` is the cabinet's public address.
pub async fn run_operator(store: &Store, args: OperatorArgs, cabinet: &str) -> anyhow::Result<()> {
    match args.command {
        OperatorCommand::Create { name } => {
            create_operator_key(store, &name).await?;
            eprintln!("sign in to the operator console at {cabinet}/operator/login with it");
        }
    }
    Ok(())
}

/// Issue an operator key: the key alone on stdout, so that `KEY=$(ofd account … create …)`
/// works, and a word on stderr.
async fn create_operator_key(store: &Store, name: &str) -> anyhow::Result<()> {
    let issued = store.create_api_key(name).await?;
    println!("{}", issued.secret.expose());
    eprintln!(
        "operator key {:?} created; it is not shown again",
        issued.key.name
    );
    Ok(())
}

/// Run `ofd account key …` against `store`.
pub async fn run(store: &Store, args: KeyArgs) -> anyhow::Result<()> {
    match args.command {
        KeyCommand::Create { name, operator: _ } => create_operator_key(store, &name).await?,
        KeyCommand::Revoke { name } => {
            let key = store.revoke_api_key(&name).await?;
            eprintln!("API key {:?} (#{}) revoked", key.name, key.id);
        }
        KeyCommand::List { json } => {
            let keys = store.list_api_keys().await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                for key in &keys {
                    let state = if key.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    };
                    println!("#{} {} {state}", key.id, key.name);
                }
            }
        }
    }
    Ok(())
}
