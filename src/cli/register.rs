//! `ofd register`: provision registers and change their status.
//!
//! A KZ register gets its system id and first token here; the operator enters both into the
//! register (`--json` prints them machine-readably for provisioning scripts). The token is a
//! shared secret: it is printed once, at creation, and never listed afterwards.

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::config_file::ConfigArg;
use crate::store::config::{DatabaseArgs, StoreOptions};
use crate::store::{Dialect, NewRegister, Register, RegisterStatus, Store};

/// Arguments of `ofd register`.
#[derive(Args, Debug)]
pub struct RegisterArgs {
    #[command(subcommand)]
    command: RegisterCommand,
    /// `--config` (its `[store] database`).
    #[command(flatten)]
    file: ConfigArg,
    /// `--database`.
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
enum RegisterCommand {
    /// Provision a register (RU: by FN number; KZ: allocates a system id and first token).
    Add(AddArgs),
    /// List every register (tokens are never shown).
    List(ListArgs),
    /// Refuse the register's documents until it is activated again.
    Block(SelectArgs),
    /// Take the register out of service for good.
    Deregister(SelectArgs),
    /// Accept the register's documents again (not possible once deregistered).
    Activate(SelectArgs),
    /// KZ: issue a fresh token after INVALID_TOKEN (prints it once, to enter into the register).
    ResetToken(ResetTokenArgs),
}

#[derive(Args, Debug)]
struct AddArgs {
    /// Protocol family of the register.
    #[arg(long)]
    dialect: Dialect,
    /// RU: the 16-digit fiscal drive (ФН) number. Required for RU, refused for KZ.
    #[arg(long = "fn")]
    fn_number: Option<String>,
    /// Manufacturer serial number.
    #[arg(long)]
    serial: Option<String>,
    /// Model name.
    #[arg(long)]
    model: Option<String>,
    /// Registration number issued by the tax authority.
    #[arg(long)]
    reg_number: Option<String>,
    /// Taxpayer number of the owner (ИНН / БИН).
    #[arg(long)]
    inn: Option<String>,
    /// Print JSON on stdout (KZ: {"system_id", "token", …}; RU: the register row).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Print a JSON array on stdout.
    #[arg(long)]
    json: bool,
}

/// Which register: exactly one of the identities.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct SelectArgs {
    /// Row id (as shown by `list`).
    #[arg(long)]
    id: Option<i64>,
    /// RU fiscal drive number.
    #[arg(long = "fn")]
    fn_number: Option<String>,
    /// KZ system id.
    #[arg(long)]
    system_id: Option<i64>,
}

#[derive(Args, Debug)]
struct ResetTokenArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Print {"system_id", "token", …} as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Run `ofd register …`.
pub async fn run(args: RegisterArgs) -> anyhow::Result<()> {
    let store_file: StoreOptions = args.file.load()?.table("store")?;
    let store = Store::open(&args.database.resolve(store_file.database)).await?;
    let result = match args.command {
        RegisterCommand::Add(add) => add_register(&store, add).await,
        RegisterCommand::List(list) => list_registers(&store, list).await,
        RegisterCommand::Block(select) => set_status(&store, select, RegisterStatus::Blocked).await,
        RegisterCommand::Deregister(select) => {
            set_status(&store, select, RegisterStatus::Deregistered).await
        }
        RegisterCommand::Activate(select) => {
            set_status(&store, select, RegisterStatus::Active).await
        }
        RegisterCommand::ResetToken(reset) => reset_token(&store, reset).await,
    };
    store.close().await;
    result
}

async fn add_register(store: &Store, add: AddArgs) -> anyhow::Result<()> {
    let dialect = add.dialect;
    let new = NewRegister {
        fn_number: add.fn_number,
        serial: add.serial,
        model: add.model,
        reg_number: add.reg_number,
        org_inn: add.inn,
    };
    let register = store.add_register(dialect, new).await?;
    match (dialect, add.json) {
        (Dialect::Kz, true) => println!("{}", kz_credentials(&register)),
        (Dialect::Ru, true) => println!("{}", serde_json::to_string(&register)?),
        (Dialect::Kz, false) => {
            println!("{}", describe(&register));
            println!(
                "token {} (enter it into the register now; it is not shown again)",
                register.kz_token.context("a KZ register without a token")?
            );
        }
        (Dialect::Ru, false) => println!("{}", describe(&register)),
    }
    Ok(())
}

async fn list_registers(store: &Store, list: ListArgs) -> anyhow::Result<()> {
    let registers = store.list_registers().await?;
    if list.json {
        println!("{}", serde_json::to_string(&registers)?);
    } else {
        for register in &registers {
            println!("{}", describe(register));
        }
    }
    Ok(())
}

async fn set_status(
    store: &Store,
    select: SelectArgs,
    status: RegisterStatus,
) -> anyhow::Result<()> {
    let id = selected_id(store, select).await?;
    let updated = store.set_register_status(id, status).await?;
    println!("{}", describe(&updated));
    Ok(())
}

async fn reset_token(store: &Store, reset: ResetTokenArgs) -> anyhow::Result<()> {
    let id = selected_id(store, reset.select).await?;
    let register = store.reset_kz_token(id).await?;
    let token = register.kz_token.context("a KZ register without a token")?;
    if reset.json {
        println!("{}", kz_credentials(&register));
    } else {
        println!("{}", describe(&register));
        println!("token {token} (enter it into the register now; it is not shown again)");
    }
    Ok(())
}

/// The row id of the register named on the command line.
async fn selected_id(store: &Store, select: SelectArgs) -> anyhow::Result<i64> {
    let register = match (select.id, select.fn_number, select.system_id) {
        (Some(id), _, _) => Some(id),
        (None, Some(fn_number), _) => store.register_by_fn(&fn_number).await?.map(|r| r.id),
        (None, None, Some(system_id)) => {
            store.register_by_system_id(system_id).await?.map(|r| r.id)
        }
        (None, None, None) => anyhow::bail!("name the register with --id, --fn or --system-id"),
    };
    register.context("no such register")
}

/// What a KZ register must be configured with, for provisioning scripts.
fn kz_credentials(register: &Register) -> serde_json::Value {
    serde_json::json!({
        "id": register.id,
        "dialect": register.dialect,
        "system_id": register.system_id,
        "token": register.kz_token,
        "status": register.status,
    })
}

/// One line per register for people.
fn describe(register: &Register) -> String {
    let identity = match (&register.fn_number, register.system_id) {
        (Some(fn_number), _) => format!("fn {fn_number}"),
        (None, Some(system_id)) => format!("system id {system_id}"),
        (None, None) => "no identity".to_owned(),
    };
    let mut line = format!(
        "#{} {} {} {}",
        register.id,
        register.dialect,
        identity,
        register.status.as_str()
    );
    for (label, value) in [
        ("serial", &register.serial),
        ("model", &register.model),
        ("reg", &register.reg_number),
        ("inn", &register.org_inn),
    ] {
        if let Some(value) = value {
            line.push_str(&format!(" {label} {value}"));
        }
    }
    line
}
