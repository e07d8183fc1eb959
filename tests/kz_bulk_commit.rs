//! The KZ exchanges of one writer batch are committed in a few multi-row statements
//! (`KzCommit::apply_all`); each must end exactly as if committed alone: a moved version is
//! `StateChanged` and a taken ticket number `TicketNumberTaken`, both writing nothing, and the
//! rest commit state, token, ticket and document. On a real SQLite file and PostgreSQL.

mod common;

use common::{count_rows, on_each_backend};
use ofd::ingest::kz::commit::{CommitOutcome, KzCommit};
use ofd::ingest::kz::engine::NewTicket;
use ofd::ingest::kz::state::{Exchange, KzState};
use ofd::store::{Dialect, NewDocument, NewRegister, Store, TxWork};

async fn kz_register(store: &Store, serial: &str) -> (u32, u32) {
    let register = store
        .add_register(
            Dialect::Kz,
            NewRegister {
                serial: Some(serial.into()),
                ..Default::default()
            },
        )
        .await
        .expect("register");
    (
        register.system_id.expect("system id") as u32,
        register.kz_token.expect("token") as u32,
    )
}

fn commit(system_id: u32, version: i64, token: u32, ticket: &str) -> KzCommit {
    let state = KzState {
        version,
        last: Some(Exchange {
            reqnum: 1,
            token,
            command: 1,
            response: vec![1, 2, 3],
        }),
        ..KzState::default()
    };
    KzCommit {
        system_id,
        state: state.into(),
        rotate: Some((token, token.wrapping_add(1).max(1))),
        ticket: Some(NewTicket {
            ticket_number: ticket.into(),
            shift_number: 1,
            shift_seq: 1,
            offline_sign: None,
            offline_period: None,
            qr_code: b"qr".to_vec(),
        }),
        document: Some(NewDocument {
            dialect: Dialect::Kz,
            doc_key: format!("{system_id}/{ticket}"),
            fn_number: None,
            fd_number: None,
            system_id: Some(i64::from(system_id)),
            form_code: 1,
            ffd_version: Some(203),
            doc_time: None,
            received_at: 1,
            raw: vec![0xA2, 0x81],
            json: "{}".into(),
            ack: vec![1, 2, 3],
            flk_errors: None,
            sign_verdict: "unverified".into(),
            unregistered: false,
            peer: None,
        }),
        quarantine: None,
        now_ms: 1_000,
    }
}

async fn token_of(store: &Store, system_id: u32) -> i64 {
    store
        .register_by_system_id(i64::from(system_id))
        .await
        .expect("query")
        .and_then(|r| r.kz_token)
        .expect("token")
}

#[tokio::test]
async fn a_batch_commits_in_bulk_with_each_item_ending_as_alone() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let (a, token_a) = kz_register(&store, "BULK-A").await;
        let (b, token_b) = kz_register(&store, "BULK-B").await;
        let (c, token_c) = kz_register(&store, "BULK-C").await;
        let (d, token_d) = kz_register(&store, "BULK-D").await;

        // D takes ticket number 900 first.
        let first = commit(d, 1, token_d, "900");
        let mut tx = store.pool().begin().await.expect("begin");
        let outcome = KzCommit::apply_all(vec![&first], &mut tx)
            .await
            .expect("bulk");
        tx.commit().await.expect("commit");
        assert_eq!(outcome, vec![CommitOutcome::Committed]);

        let items = [
            commit(a, 1, token_a, "100"), // fine
            commit(b, 3, token_b, "200"), // read version 2, stored none: moved
            commit(c, 1, token_c, "900"), // number taken by D
        ];
        let mut tx = store.pool().begin().await.expect("begin");
        let outcomes = KzCommit::apply_all(items.iter().collect(), &mut tx)
            .await
            .expect("bulk");
        tx.commit().await.expect("commit");
        assert_eq!(
            outcomes,
            vec![
                CommitOutcome::Committed,
                CommitOutcome::StateChanged,
                CommitOutcome::TicketNumberTaken
            ]
        );
        assert_eq!(count_rows(&db.url, "kz_state").await, 2, "D and A only");
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 2, "900 and 100");
        assert_eq!(count_rows(&db.url, "documents").await, 2);
        assert_eq!(
            token_of(&store, a).await,
            i64::from(token_a.wrapping_add(1).max(1))
        );
        assert_eq!(token_of(&store, b).await, i64::from(token_b), "untouched");
        assert_eq!(token_of(&store, c).await, i64::from(token_c), "untouched");

        // The next exchange of A in bulk replaces version 1 with 2; a stale one is refused.
        let token_a2 = token_a.wrapping_add(1).max(1);
        let next = commit(a, 2, token_a2, "101");
        let stale = commit(d, 1, token_d, "901");
        let mut tx = store.pool().begin().await.expect("begin");
        let outcomes = KzCommit::apply_all(vec![&next, &stale], &mut tx)
            .await
            .expect("bulk");
        tx.commit().await.expect("commit");
        assert_eq!(
            outcomes,
            vec![CommitOutcome::Committed, CommitOutcome::StateChanged]
        );
        assert_eq!(count_rows(&db.url, "kz_tickets").await, 3);
        store.close().await;
    })
    .await;
}
