//! ФЛК over hand-built ФФД 1.05/1.1/1.2 receipts and the real fixture documents: a passing
//! receipt passes; a missing mandatory tag, a sum mismatch, a price × quantity mismatch and a
//! far-future date are each reported with their rule and tag; nothing panics on garbage.

use ofd_protocol::ru::flk::{self, FlkLimits, Rule, Violation, MANDATORY};
use ofd_protocol::ru::tlv::{Tlv, Writer};
use ofd_protocol::ru::value::{encode_fvln, encode_vln, Fvln};
use ofd_protocol::ru::{FfdVersion, Frame};
use proptest::prelude::*;

/// 2017-03-03 11:38 (local), the time in the fixture dumps.
const DOC_TIME: u32 = 1_488_541_080;
/// "Now" for most tests: an hour after the document.
const NOW: i64 = DOC_TIME as i64 + 3600;

fn vln(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_vln(value, 8, &mut out).expect("fits");
    out
}

fn fvln(point: u8, mantissa: u64) -> Vec<u8> {
    let mut out = Vec::new();
    encode_fvln(Fvln { point, mantissa }, &mut out).expect("fits");
    out
}

/// One item: price in kopecks, quantity as (point, mantissa), cost in kopecks.
#[derive(Clone)]
struct Item {
    price: u64,
    quantity: (u8, u64),
    cost: u64,
    omit: Vec<u16>,
}

impl Item {
    fn new(price: u64, quantity: (u8, u64), cost: u64) -> Self {
        Self {
            price,
            quantity,
            cost,
            omit: Vec::new(),
        }
    }
}

/// A cash receipt (form 3) with every tag ФФД 1.05, 1.1 and 1.2 require, minus `omit`.
#[derive(Clone)]
struct Receipt {
    version: u8,
    time: u32,
    items: Vec<Item>,
    total: u64,
    payments: Vec<(u16, u64)>,
    omit: Vec<u16>,
}

impl Receipt {
    /// Two items (2 × 150.00, and 0.5 kg × 99.99 = 50.00 rounded), paid 200.00 cash + 150.00
    /// by card.
    fn passing() -> Self {
        Self {
            version: 2,
            time: DOC_TIME,
            items: vec![
                Item::new(15_000, (0, 2), 30_000),
                Item::new(9_999, (3, 500), 5_000),
            ],
            total: 35_000,
            payments: vec![(1031, 20_000), (1081, 15_000)],
            omit: Vec::new(),
        }
    }

    fn without(mut self, tag: u16) -> Self {
        self.omit.push(tag);
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.begin(3).expect("open");
        let keep = |tag: u16| !self.omit.contains(&tag);
        let put = |w: &mut Writer, tag: u16, value: &[u8]| {
            if keep(tag) {
                w.tlv(tag, value).expect("tlv");
            }
        };
        put(&mut w, 1209, &[self.version]);
        put(&mut w, 1041, b"9999078900005488");
        put(&mut w, 1037, b"0000000005008570    ");
        put(&mut w, 1040, &7u32.to_le_bytes());
        put(&mut w, 1042, &3u32.to_le_bytes());
        put(&mut w, 1038, &12u32.to_le_bytes());
        put(&mut w, 1012, &self.time.to_le_bytes());
        put(&mut w, 1054, &[1]);
        put(&mut w, 1009, b"Moscow");
        put(&mut w, 1187, b"shop 1");
        put(&mut w, 1077, &[0x21, 0x04, 1, 2, 3, 4]);
        if keep(1059) {
            for item in &self.items {
                w.begin(1059).expect("item");
                let keep_item = |tag: u16| !item.omit.contains(&tag);
                if keep_item(1030) {
                    w.tlv(1030, b"tea").expect("name");
                }
                if keep_item(1079) {
                    w.tlv(1079, &vln(item.price)).expect("price");
                }
                if keep_item(1023) {
                    w.tlv(1023, &fvln(item.quantity.0, item.quantity.1))
                        .expect("quantity");
                }
                if keep_item(1043) {
                    w.tlv(1043, &vln(item.cost)).expect("cost");
                }
                w.byte(1199, 1).expect("vat");
                w.end().expect("close item");
            }
        }
        put(&mut w, 1020, &vln(self.total));
        for (tag, sum) in &self.payments {
            put(&mut w, *tag, &vln(*sum));
        }
        w.finish().expect("document")
    }
}

fn check(document: &[u8]) -> Vec<Violation> {
    check_at(document, NOW, &FlkLimits::default())
}

/// [`flk::check`] over the bytes, after asserting that the ingest path's single walk
/// ([`flk::decode_and_check`]) reports exactly the same violations whenever the bytes decode.
fn check_at(document: &[u8], now: i64, limits: &FlkLimits) -> Vec<Violation> {
    let violations = flk::check(document, now, limits);
    if let Ok((_, decoded)) = flk::decode_and_check(document, now, limits) {
        assert_eq!(decoded, violations, "one walk and two walks disagree");
    }
    violations
}

fn rules(violations: &[Violation]) -> Vec<(Rule, Option<u16>)> {
    violations.iter().map(|v| (v.rule, v.tag)).collect()
}

#[test]
fn a_complete_receipt_passes_in_every_version() {
    for version in [2, 3, 4] {
        let violations = check(
            &Receipt {
                version,
                ..Receipt::passing()
            }
            .build(),
        );
        assert!(violations.is_empty(), "ФФД {version}: {violations:?}");
    }
}

#[test]
fn each_missing_mandatory_tag_is_reported_with_its_tag() {
    let required = MANDATORY
        .iter()
        .find(|row| {
            row.version == FfdVersion::V1_05 && row.forms.contains(&3) && row.parent.is_none()
        })
        .expect("1.05 receipt table")
        .tags;
    assert!(required.len() >= 11);
    for &tag in required {
        let violations = check(&Receipt::passing().without(tag).build());
        let expected = match tag {
            // Without 1209 the document is ФФД 1.0: no table applies.
            1209 => vec![],
            _ => vec![(Rule::MandatoryTag, Some(tag))],
        };
        assert_eq!(
            rules(&violations),
            expected,
            "without {tag}: {violations:?}"
        );
    }
}

#[test]
fn mandatory_tags_follow_the_ffd_version() {
    // 1009 (address) and 1187 (place) became mandatory in receipts with ФФД 1.2.
    let receipt = Receipt::passing().without(1009).without(1187);
    assert!(check(&receipt.build()).is_empty(), "not required in 1.05");
    let v12 = Receipt {
        version: 4,
        ..receipt
    };
    assert_eq!(
        rules(&check(&v12.build())),
        vec![
            (Rule::MandatoryTag, Some(1009)),
            (Rule::MandatoryTag, Some(1187))
        ]
    );
}

#[test]
fn a_missing_item_tag_names_the_item() {
    let mut receipt = Receipt::passing();
    receipt.items[1].omit.push(1043);
    let violations = check(&receipt.build());
    assert_eq!(
        rules(&violations),
        vec![(Rule::MandatoryNestedTag, Some(1043))]
    );
    assert!(violations[0].message.contains("#2"), "{}", violations[0]);
}

#[test]
fn item_costs_that_do_not_add_up_to_the_total() {
    let receipt = Receipt {
        total: 35_001,
        payments: vec![(1031, 35_001)],
        ..Receipt::passing()
    };
    let violations = check(&receipt.build());
    assert_eq!(rules(&violations), vec![(Rule::ItemsTotal, Some(1020))]);
    assert!(violations[0].message.contains("35000"), "{}", violations[0]);
}

#[test]
fn payments_that_do_not_add_up_to_the_total() {
    let receipt = Receipt {
        payments: vec![(1031, 20_000), (1081, 10_000), (1215, 4_999)],
        ..Receipt::passing()
    };
    assert_eq!(
        rules(&check(&receipt.build())),
        vec![(Rule::PaymentsTotal, Some(1020))]
    );
    let all_five = Receipt {
        payments: vec![(1031, 1), (1081, 2), (1215, 3), (1216, 4), (1217, 34_990)],
        ..Receipt::passing()
    };
    assert!(
        check(&all_five.build()).is_empty(),
        "all five payment kinds count"
    );
}

#[test]
fn price_times_quantity_is_allowed_one_kopeck_of_rounding() {
    // 0.333 kg × 100.00 = 33.30.
    let with_cost = |cost| Receipt {
        items: vec![Item::new(10_000, (3, 333), cost)],
        total: cost,
        payments: vec![(1031, cost)],
        ..Receipt::passing()
    };
    for cost in [3_329, 3_330, 3_331] {
        assert!(check(&with_cost(cost).build()).is_empty(), "cost {cost}");
    }
    for cost in [3_328, 3_332] {
        assert_eq!(
            rules(&check(&with_cost(cost).build())),
            vec![(Rule::ItemCost, Some(1043))],
            "cost {cost}"
        );
    }
}

#[test]
fn a_far_future_date_is_reported_and_local_time_ahead_of_utc_is_not() {
    let at = |time| {
        Receipt {
            time,
            ..Receipt::passing()
        }
        .build()
    };
    let ahead = |secs: i64| u32::try_from(NOW + secs).expect("fits");
    // Kamchatka local time runs 12 h ahead of UTC; a day of clock skew is allowed by default.
    assert!(check(&at(ahead(12 * 3600 + 24 * 3600))).is_empty());
    let violations = check(&at(ahead(12 * 3600 + 24 * 3600 + 1)));
    assert_eq!(rules(&violations), vec![(Rule::FutureDate, Some(1012))]);

    let strict = FlkLimits { clock_skew_secs: 0 };
    assert!(check_at(&at(ahead(12 * 3600)), NOW, &strict).is_empty());
    assert_eq!(
        rules(&check_at(&at(ahead(13 * 3600)), NOW, &strict)),
        vec![(Rule::FutureDate, Some(1012))]
    );
}

#[test]
fn several_violations_are_all_reported() {
    let mut receipt = Receipt {
        time: u32::MAX,
        total: 1,
        ..Receipt::passing()
    }
    .without(1054);
    receipt.items[0].cost = 29_000;
    let found = rules(&check(&receipt.build()));
    for expected in [
        (Rule::MandatoryTag, Some(1054)),
        (Rule::ItemCost, Some(1043)),
        (Rule::ItemsTotal, Some(1020)),
        (Rule::PaymentsTotal, Some(1020)),
        (Rule::FutureDate, Some(1012)),
    ] {
        assert!(found.contains(&expected), "{expected:?} in {found:?}");
    }
}

#[test]
fn an_unknown_version_or_malformed_values_are_reported_not_guessed() {
    let v9 = Receipt {
        version: 9,
        ..Receipt::passing()
    }
    .without(1054);
    assert_eq!(
        rules(&check(&v9.build())),
        vec![(Rule::UnknownVersion, Some(1209))]
    );

    let mut w = Writer::new();
    w.begin(3).expect("open");
    w.tlv(1020, &[0xff; 9]).expect("oversized VLN");
    w.tlv(1012, &[0; 5]).expect("oversized time");
    let doc = w.finish().expect("doc");
    assert_eq!(
        rules(&check(&doc)),
        vec![(Rule::BadValue, Some(1020)), (Rule::BadValue, Some(1012))]
    );

    let mut truncated = Receipt::passing().build();
    truncated.truncate(truncated.len() - 1);
    assert_eq!(rules(&check(&truncated)), vec![(Rule::MalformedTlv, None)]);
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/ru/{name}", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).expect("fixture").trim()).expect("hex")
}

#[test]
fn the_real_ffd_1_05_registration_change_passes() {
    let frame_bytes = fixture("fiscal_report_correction_1_05.frame.hex");
    let frame = Frame::decode(&frame_bytes).expect("fixture frame");
    let document = frame.container.document;
    assert_eq!(Tlv::read_exact(document).expect("stlv").tag, 11);
    let violations = check(document);
    assert!(violations.is_empty(), "{violations:?}");

    // The same document on a server whose clock says 2016: its time is then far in the future.
    let violations = check_at(document, 1_460_000_000, &FlkLimits::default());
    assert_eq!(rules(&violations), vec![(Rule::FutureDate, Some(1012))]);
}

#[test]
fn the_ffd_1_0_registration_report_is_checked_for_arithmetic_and_date_only() {
    let container = fixture("crc_example.container.hex");
    // 32-byte header, the document STLV, a 10-byte trailer.
    let document = &container[32..container.len() - 10];
    assert_eq!(Tlv::read_exact(document).expect("stlv").tag, 1);
    assert!(check(document).is_empty());
}

#[test]
fn violations_serialise_with_stable_rule_ids() {
    let violations = check(&Receipt::passing().without(1020).build());
    let json = serde_json::to_value(&violations).expect("json");
    assert_eq!(json[0]["rule"], "mandatory_tag");
    assert_eq!(json[0]["tag"], 1020);
    assert_eq!(violations[0].rule.id(), "mandatory_tag");
    assert!(violations[0]
        .to_string()
        .starts_with("mandatory_tag (tag 1020): "));
}

proptest! {
    #[test]
    fn garbage_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        now in any::<i64>(),
    ) {
        let _ = check_at(&bytes, now, &FlkLimits::default());
    }

    #[test]
    fn a_mutated_receipt_never_panics(at in 0usize..400, byte in any::<u8>()) {
        let mut doc = Receipt::passing().build();
        let at = at % doc.len();
        doc[at] = byte;
        let _ = check(&doc);
    }
}
