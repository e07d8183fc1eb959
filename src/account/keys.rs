//! `ofd account key …`: issue, revoke and list the API keys of the account service. These work
//! on the database directly, so that the first key can be made before anything can call the API.

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
    /// Issue a key and print it once on stdout (it is stored only as a hash).
    Create {
        /// A label for people, unique among live keys (e.g. "emulator", "cabinet").
        #[arg(long)]
        name: String,
    },
    /// Revoke the live key with this name; requests with it get 401 from now on.
    Revoke {
        /// The key's label.
        #[arg(long)]
        name: String,
    },
    /// List every key, live and revoked (names and dates, never the keys).
    List {
        /// Print a JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Run `ofd account key …` against `store`.
pub async fn run(store: &Store, args: KeyArgs) -> anyhow::Result<()> {
    match args.command {
        KeyCommand::Create { name } => {
            let issued = store.create_api_key(&name).await?;
            // The key alone on stdout, so that `KEY=$(ofd account key create …)` works.
            println!("{}", issued.secret.expose());
            eprintln!(
                "API key {:?} created; it is not shown again",
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
