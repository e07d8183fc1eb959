//! The KZ register commands that need the cabinet, end to end on each backend: the catalogue is
//! edited and imported over the account API (real HTTP), and a KZ register on the real ingest
//! port logs its cashier in (AUTH), reads its organisation in INFO, and reads the catalogue with
//! NOMENCLATURE by version and by barcode; a cabinet edit makes a new version the register gets.

mod account_support;
mod common;
mod ingest_support;
mod kz_support;

use account_support::{
    enter_organisation, error_code, link_in, org_client, provision, token_of, Account, Client,
};
use common::on_each_backend;
use kz_support::Kkm;
use ofd::ingest::Server;
use ofd_protocol::kz::{
    AuthRequest, AuthResultTypeEnum, CommandTypeEnum, ElementTypeEnum, Money, NomenclatureRequest,
    NomenclatureResponse, NomenclatureResultTypeEnum, Request, ResultTypeEnum,
};
use serde_json::json;

const BIN: &str = "000740001307";
const OTHER_INN: &str = "7707083893";
const PASSWORD: &str = "sturdy-owl-42-lantern";

/// Invite a cashier into `org_id` (operator staff), accept the invitation with the token from the
/// mail outbox, give them KZ code `code` and `pin`, assign them `register`; a client logged in
/// as them.
async fn cashier(
    account: &Account,
    store: &ofd::store::Store,
    org_id: i64,
    register: i64,
) -> Client {
    let op = account_support::operator(account);
    let email = "kassir@example.kz";
    let (status, answer) = op
        .post(
            "/api/v1/users",
            json!({ "email": email, "role": "cashier", "name": "Анна", "org_id": org_id }),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let body: String =
        sqlx::query_scalar("SELECT body FROM mail_outbox WHERE recipient = $1 ORDER BY id DESC")
            .bind(email)
            .fetch_one(store.pool())
            .await
            .expect("the invitation mail is in the outbox");
    let anonymous = Client::anonymous(&account.url);
    let (status, user) = anonymous
        .post(
            "/api/v1/invitations/accept",
            json!({ "token": token_of(&link_in(&body)), "password": PASSWORD,
                    "password_repeat": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let id = user["id"].as_i64().expect("user id");
    let (status, answer) = op
        .put(
            &format!("/api/v1/users/{id}/kz-cashier"),
            json!({ "code": "17", "pin": "4821" }),
        )
        .await;
    assert!(status < 300, "{status} {answer}");
    let (status, answer) = op
        .put(
            &format!("/api/v1/users/{id}/registers"),
            json!({ "register_ids": [register] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = anonymous
        .post(
            "/api/v1/login",
            json!({ "login": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    anonymous
}

fn auth(code: &str, pin: &str) -> Request {
    Request {
        command: Some(CommandTypeEnum::Auth as i32),
        auth: Some(AuthRequest {
            login: Some(code.to_owned()),
            password: Some(pin.to_owned()),
        }),
        ..Default::default()
    }
}

fn nomenclature(version: Option<u32>, barcode: Option<&str>) -> Request {
    Request {
        command: Some(CommandTypeEnum::Nomenclature as i32),
        nomenclature: Some(NomenclatureRequest {
            current_version: version,
            barcode: barcode.map(str::to_owned),
        }),
        ..Default::default()
    }
}

/// Send `request` and return the NOMENCLATURE answer (the exchange itself must be OK and keep
/// the token).
async fn read_catalogue(kkm: &mut Kkm, request: &Request) -> NomenclatureResponse {
    let token = kkm.token;
    let reply = kkm.send(request).await;
    assert_eq!(
        reply.code(),
        ResultTypeEnum::Ok.code(),
        "{:?}",
        reply.response
    );
    assert_eq!(kkm.token, token, "NOMENCLATURE keeps the token");
    reply.response.nomenclature.expect("a NOMENCLATURE answer")
}

fn result(answer: &NomenclatureResponse) -> Option<NomenclatureResultTypeEnum> {
    answer
        .result
        .and_then(|r| NomenclatureResultTypeEnum::try_from(r).ok())
}

fn item_titles(answer: &NomenclatureResponse) -> Vec<(String, Option<Money>)> {
    answer
        .elements
        .iter()
        .filter(|e| e.r#type == Some(ElementTypeEnum::Item as i32))
        .map(|e| {
            (
                e.title.clone().unwrap_or_default(),
                e.item.as_ref().and_then(|i| i.sell_price.clone()),
            )
        })
        .collect()
}

fn tenge(bills: u64, coins: u32) -> Option<Money> {
    Some(Money {
        bills: Some(bills),
        coins: Some(coins),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kz_register_logs_its_cashier_in_and_reads_the_catalogue() {
    on_each_backend(|db| async move {
        let store = db.open().await;
        let account = Account::start(&store).await;
        let org = enter_organisation(&account, BIN, "kz").await;
        let other = enter_organisation(&account, OTHER_INN, "ru").await;
        let owner = org_client(&account, org, "owner").await;
        let stranger = org_client(&account, other, "owner").await;
        let register = provision(&account, BIN, None).await;
        let register_id = register["id"].as_i64().expect("id");
        let system_id = register["system_id"].as_u64().expect("system id") as u32;
        let token = register["token"].as_u64().expect("token") as u32;
        let cashier = cashier(&account, &store, org, register_id).await;

        // Catalogue changes are seen at once: no cached register row.
        let mut config = ingest_support::config(&db.url);
        config.register_cache_ttl = std::time::Duration::ZERO;
        let server = Server::start(config).await.expect("ingest");
        let mut kkm = Kkm::new(server.local_addr(), system_id, token);

        // AUTH: the cabinet's cashier code and PIN.
        let reply = kkm.send(&auth("17", "4821")).await;
        let answer = reply.response.auth.expect("AUTH answer");
        assert_eq!(answer.result, Some(AuthResultTypeEnum::Ok as i32));
        assert_eq!(answer.operator_code, Some(17));
        let reply = kkm.send(&auth("17", "0000")).await;
        assert_eq!(
            reply.response.auth.expect("AUTH answer").result,
            Some(AuthResultTypeEnum::InvalidLoginPassword as i32)
        );

        // INFO names the organisation as the cabinet keeps it.
        let reply = kkm.send(&kz_support::info()).await;
        let org_info = reply
            .response
            .service
            .and_then(|s| s.reg_info)
            .and_then(|r| r.org)
            .expect("reg_info.org");
        assert_eq!(
            org_info.title.as_deref(),
            Some(format!("Org {BIN}").as_str())
        );
        assert_eq!(
            org_info.address.as_deref(),
            Some(format!("Street {BIN}, 1").as_str())
        );
        assert_eq!(org_info.inn.as_deref(), Some(BIN));

        // Placed at a point of sale in the cabinet, the register's INFO names it too.
        let operator = account_support::operator(&account);
        let (status, pos) = operator
            .post(
                &format!("/api/v1/organisations/{BIN}/points-of-sale"),
                serde_json::json!({ "name": "АЗС №3", "city": "Алматы", "street": "Абая",
                                    "house": "10", "location": "трасса А-2" }),
            )
            .await;
        assert_eq!(status, 201, "{pos}");
        let (status, edited) = operator
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/registers/{register_id}"),
                Some(serde_json::json!({ "pos_id": pos["id"] })),
            )
            .await;
        assert_eq!(status, 200, "{edited}");
        let reply = kkm.send(&kz_support::info()).await;
        let pos_info = reply
            .response
            .service
            .and_then(|s| s.reg_info)
            .and_then(|r| r.pos)
            .expect("reg_info.pos");
        assert_eq!(pos_info.title.as_deref(), Some("АЗС №3"));
        assert_eq!(
            pos_info.address.as_deref(),
            Some("Алматы, Абая, 10, трасса А-2")
        );

        // No catalogue yet.
        let answer = read_catalogue(&mut kkm, &nomenclature(Some(0), None)).await;
        assert_eq!(result(&answer), Some(NomenclatureResultTypeEnum::NoVersion));

        // The owner adds an item, then imports a file: one new item, one update by barcode,
        // one bad row.
        let (status, bread) = owner
            .post(
                "/api/v1/catalogue/items",
                json!({ "name": "Хлеб", "barcode": "4870001", "price_minor": 25_000,
                        "vat_percent": 12, "section": "Выпечка" }),
            )
            .await;
        assert_eq!(status, 201, "{bread}");
        let (status, answer) = stranger
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/catalogue/items/{}", bread["id"]),
                Some(json!({ "name": "x", "price_minor": 1 })),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (404, "not_found"));
        let (status, answer) = cashier
            .post(
                "/api/v1/catalogue/items",
                json!({ "name": "x", "price_minor": 1 }),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (403, "forbidden"));
        let (status, answer) = owner
            .post(
                "/api/v1/catalogue/items",
                json!({ "name": "Дубль", "barcode": "4870001", "price_minor": 1 }),
            )
            .await;
        assert_eq!(status, 409, "{answer}");
        for (field, body) in [
            (
                "vat_percent",
                json!({ "name": "x", "price_minor": 1, "vat_percent": 150 }),
            ),
            ("price", json!({ "name": "x", "price_minor": -1 })),
            ("name", json!({ "name": " ", "price_minor": 1 })),
            (
                "barcode",
                json!({ "name": "x", "price_minor": 1, "barcode": "12 34" }),
            ),
        ] {
            let (status, answer) = owner.post("/api/v1/catalogue/items", body).await;
            assert_eq!(status, 400, "{field}: {answer}");
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(field),
                "{field}: {answer}"
            );
        }
        let csv = "name,barcode,price,vat,section,unit\n\
                   Молоко 1л,4870002,\"450,50\",12,Молочное,шт\n\
                   Хлеб белый,4870001,260.00,12,Выпечка,шт\n\
                   Сыр,4870003,дорого,12,Молочное,кг\n";
        let (status, report) = owner.post_csv("/api/v1/catalogue/import", csv).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["stored"], 2);
        let rows: Vec<(i64, &str)> = report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| (r["line"].as_i64().unwrap(), r["result"].as_str().unwrap()))
            .collect();
        assert_eq!(rows, vec![(2, "created"), (3, "updated"), (4, "error")]);
        assert!(report["rows"][2]["error"]
            .as_str()
            .unwrap()
            .contains("price"));
        let (status, catalogue) = cashier.get("/api/v1/catalogue").await;
        assert_eq!(status, 200, "the cashier reads the catalogue: {catalogue}");
        assert_eq!(catalogue["version"], 2);
        assert_eq!(catalogue["items"].as_array().expect("items").len(), 2);
        let (_, theirs) = stranger.get("/api/v1/catalogue").await;
        assert_eq!(
            theirs["items"],
            json!([]),
            "another organisation's is its own"
        );

        let (_, audit) = owner.get("/api/v1/audit?limit=1000").await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|l| l["action"].as_str())
            .collect();
        assert!(actions.contains(&"catalogue.add"), "{actions:?}");
        assert!(actions.contains(&"catalogue.import"), "{actions:?}");

        // The register reads version 2 with both items under their sections.
        let answer = read_catalogue(&mut kkm, &nomenclature(Some(0), None)).await;
        assert_eq!(result(&answer), Some(NomenclatureResultTypeEnum::Ok));
        assert_eq!(answer.version, Some(2));
        assert_eq!(
            item_titles(&answer),
            vec![
                ("Хлеб белый".to_owned(), tenge(260, 0)),
                ("Молоко 1л".to_owned(), tenge(450, 50)),
            ]
        );
        let groups = answer
            .elements
            .iter()
            .filter(|e| e.r#type == Some(ElementTypeEnum::Group as i32))
            .count();
        assert_eq!(groups, 2);
        let answer = read_catalogue(&mut kkm, &nomenclature(Some(2), None)).await;
        assert_eq!(
            result(&answer),
            Some(NomenclatureResultTypeEnum::VersionIsActual)
        );
        assert!(answer.elements.is_empty());
        let answer = read_catalogue(&mut kkm, &nomenclature(None, Some("4870002"))).await;
        assert_eq!(
            item_titles(&answer),
            vec![("Молоко 1л".to_owned(), tenge(450, 50))]
        );

        // An edit in the cabinet is a new version the register gets.
        let (status, edited) = owner
            .put(
                &format!("/api/v1/catalogue/items/{}", bread["id"]),
                json!({ "name": "Хлеб белый", "barcode": "4870001", "price_minor": 27_500,
                        "vat_percent": 12, "section": "Выпечка" }),
            )
            .await;
        assert_eq!(status, 200, "{edited}");
        let answer = read_catalogue(&mut kkm, &nomenclature(Some(2), None)).await;
        assert_eq!(answer.version, Some(3));
        assert_eq!(
            item_titles(&answer)[0],
            ("Хлеб белый".to_owned(), tenge(275, 0))
        );
        let (status, _) = owner
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/catalogue/items/{}", bread["id"]),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let answer = read_catalogue(&mut kkm, &nomenclature(Some(3), None)).await;
        assert_eq!(answer.version, Some(4));
        assert_eq!(item_titles(&answer).len(), 1);

        server.shutdown().await.expect("ingest stops");
        account.stop().await;
        store.close().await;
    })
    .await;
}
