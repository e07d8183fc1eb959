//! `ofd account key …`: issue, revoke and list the operator API keys of the account service.
//! These work on the database directly, so that the first key can be made before anything can
//! call the API. Operator keys act on every organisation, and every request made with one is
//! written to the audit log; organisations' own keys are made by their owners through the API.

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

/// Run `ofd account key …` against `store`.
pub async fn run(store: &Store, args: KeyArgs) -> anyhow::Result<()> {
    match args.command {
        KeyCommand::Create { name, operator: _ } => {
            let issued = store.create_api_key(&name).await?;
            // The key alone on stdout, so that `KEY=$(ofd account key create …)` works.
            println!("{}", issued.secret.expose());
            eprintln!(
                "operator API key {:?} created; it is not shown again",
                issued.key.name
            );
        }
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
