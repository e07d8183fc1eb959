//! Register provisioning, lookup and status changes on both backends.

mod common;

use common::on_each_backend;
use ofd::store::{Dialect, NewRegister, RegisterStatus, StoreError};

const FN: &str = "9999078900011111";

#[tokio::test]
async fn ru_register_add_lookup_and_status() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let added = store
            .add_register(
                Dialect::Ru,
                NewRegister {
                    fn_number: Some(FN.into()),
                    serial: Some("00106703178322".into()),
                    model: Some("АТОЛ 30Ф".into()),
                    reg_number: Some("0000000001002292".into()),
                    org_inn: Some("7704211201".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(added.dialect, Dialect::Ru);
        assert_eq!(added.status, RegisterStatus::Active);
        assert_eq!(added.system_id, None);
        assert_eq!(added.kz_token, None);

        let found = store
            .register_by_fn(FN)
            .await
            .unwrap()
            .expect("found by FN");
        assert_eq!(found, added);
        assert_eq!(found.model.as_deref(), Some("АТОЛ 30Ф"));
        assert!(store
            .register_by_fn("9999078900099999")
            .await
            .unwrap()
            .is_none());

        // The same FN twice is refused, and the first row is untouched.
        let again = store
            .add_register(
                Dialect::Ru,
                NewRegister {
                    fn_number: Some(FN.into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(store.list_registers().await.unwrap().len(), 1);

        let blocked = store
            .set_register_status(added.id, RegisterStatus::Blocked)
            .await
            .unwrap();
        assert_eq!(blocked.status, RegisterStatus::Blocked);
        assert_eq!(
            store.register_by_fn(FN).await.unwrap().unwrap().status,
            RegisterStatus::Blocked
        );
        let active = store
            .set_register_status(added.id, RegisterStatus::Active)
            .await
            .unwrap();
        assert_eq!(active.status, RegisterStatus::Active);
        let gone = store
            .set_register_status(added.id, RegisterStatus::Deregistered)
            .await
            .unwrap();
        assert_eq!(gone.status, RegisterStatus::Deregistered);
        // Deregistration is final.
        let back = store
            .set_register_status(added.id, RegisterStatus::Active)
            .await;
        assert!(matches!(back, Err(StoreError::Conflict(_))), "{back:?}");
        let missing = store
            .set_register_status(added.id + 1000, RegisterStatus::Blocked)
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn ru_register_needs_a_valid_fn() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        for bad in [None, Some("123"), Some("99990789000abcde")] {
            let new = NewRegister {
                fn_number: bad.map(str::to_owned),
                ..Default::default()
            };
            let result = store.add_register(Dialect::Ru, new).await;
            assert!(
                matches!(result, Err(StoreError::Invalid(_))),
                "{bad:?}: {result:?}"
            );
        }
        assert!(store.list_registers().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn kz_registers_get_unique_system_ids_and_tokens() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mut ids = std::collections::HashSet::new();
        for _ in 0..20 {
            let added = store
                .add_register(Dialect::Kz, NewRegister::default())
                .await
                .unwrap();
            let system_id = added.system_id.expect("system id allocated");
            assert!(system_id > 0 && system_id <= i64::from(u32::MAX));
            let token = added.kz_token.expect("initial token allocated");
            assert!(token > 0 && token <= i64::from(u32::MAX));
            assert!(
                ids.insert(system_id),
                "system id {system_id} handed out twice"
            );
            let found = store
                .register_by_system_id(system_id)
                .await
                .unwrap()
                .expect("found");
            assert_eq!(found, added);
        }
        assert!(store.register_by_system_id(0).await.unwrap().is_none());
        let with_fn = store
            .add_register(
                Dialect::Kz,
                NewRegister {
                    fn_number: Some(FN.into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(
            matches!(with_fn, Err(StoreError::Invalid(_))),
            "{with_fn:?}"
        );
        assert_eq!(store.list_registers().await.unwrap().len(), 20);
    })
    .await;
}

/// A fleet registered together gets neighbouring system ids, so its registers share index pages
/// (`store::upward_run`); an id found taken sends the run elsewhere and the register is still
/// added.
#[tokio::test]
async fn kz_system_ids_run_upwards_and_step_over_a_taken_one() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let mut ids = Vec::new();
        for _ in 0..20 {
            let added = store
                .add_register(Dialect::Kz, NewRegister::default())
                .await
                .unwrap();
            ids.push(added.system_id.expect("system id allocated"));
        }
        // Upwards: other tests of this binary draw from the same run at the same time, so the
        // gaps may be wider than 16, but not by much (ids drawn uniformly from the 32-bit range
        // would span billions).
        assert!(ids.windows(2).all(|p| p[1] > p[0]), "{ids:?}");
        assert!(ids[19] - ids[0] < 1_000_000, "{ids:?}");

        // Take the next sixteen ids behind the run's back: the next register's first draw is one
        // of them (or, with another test drawing meanwhile, beyond them).
        let last = ids[19];
        for (k, id) in (last + 1..=last + 16).enumerate() {
            sqlx::query(
                "INSERT INTO registers (dialect, system_id, status, kz_token, created_at, \
                 updated_at) VALUES ('kz', $1, 'active', $2, 0, 0)",
            )
            .bind(id)
            .bind(1 + k as i64)
            .execute(store.pool())
            .await
            .unwrap();
        }
        let after = store
            .add_register(Dialect::Kz, NewRegister::default())
            .await
            .unwrap()
            .system_id
            .expect("system id allocated");
        assert!(!(last..=last + 16).contains(&after), "{last} {after}");
        assert_eq!(
            store
                .register_by_system_id(after)
                .await
                .unwrap()
                .map(|r| r.system_id),
            Some(Some(after))
        );
    })
    .await;
}

#[tokio::test]
async fn kz_token_rotation_and_reset() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let added = store
            .add_register(Dialect::Kz, NewRegister::default())
            .await
            .unwrap();
        let first = added.kz_token.unwrap();

        // Rotation happens inside a writer transaction; here on a pooled connection.
        let next = ofd::store::next_kz_token(Some(first));
        assert!(next != first && next > 0);
        let mut conn = store.pool().acquire().await.unwrap();
        ofd::store::update_kz_token(&mut conn, added.id, next)
            .await
            .unwrap();
        drop(conn);
        let system_id = added.system_id.unwrap();
        assert_eq!(
            store
                .register_by_system_id(system_id)
                .await
                .unwrap()
                .unwrap()
                .kz_token,
            Some(next)
        );

        let reset = store.reset_kz_token(added.id).await.unwrap();
        let fresh = reset.kz_token.unwrap();
        assert!(fresh != next && fresh > 0);
        assert_eq!(
            store
                .register_by_system_id(system_id)
                .await
                .unwrap()
                .unwrap()
                .kz_token,
            Some(fresh)
        );

        // RU registers have no token to reset.
        let ru = store
            .add_register(
                Dialect::Ru,
                NewRegister {
                    fn_number: Some(FN.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            store.reset_kz_token(ru.id).await,
            Err(StoreError::NotFound(_))
        ));
    })
    .await;
}
