//! Codec tests: header vectors, round trips of every message, rejection of bad frames, and the
//! proto2 behaviours prost leaves to us (required fields, packed/unpacked, open enums).

use super::*;
use proptest::prelude::*;
use prost::Message;

/// The spec's worked example (§2): v203, ID 201873, TOKEN 208627316, REQNUM 1, 100-byte body.
const SPEC_HEADER: &str = "a281cb00760000009114030074666f0c0100";

fn money(bills: u64, coins: u32) -> Money {
    Money {
        bills: Some(bills),
        coins: Some(coins),
    }
}

fn ticket_frame() -> Vec<u8> {
    let request = Request {
        command: Some(CommandTypeEnum::Ticket as i32),
        ticket: Some(TicketRequest {
            operation: Some(OperationTypeEnum::Sell as i32),
            date_time: Some(DateTime {
                date: Some(Date {
                    year: Some(2026),
                    month: Some(11),
                    day: Some(23),
                }),
                time: Some(Time {
                    hour: Some(10),
                    minute: Some(5),
                    second: Some(0),
                }),
            }),
            operator: Some(Operator {
                code: Some(1),
                name: Some("Айгерим".into()),
            }),
            amounts: Some(Amounts {
                total: Some(money(150, 50)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let header = Header {
        version: 203,
        size: 0,
        system_id: 7,
        token: 99,
        request_number: 3,
    };
    encode_frame(header, &request).unwrap()
}

#[test]
fn document_json_keeps_header_and_request_but_never_the_token() {
    let frame = ticket_frame();
    let json: serde_json::Value =
        serde_json::from_str(&document_json(&frame).unwrap()).expect("JSON");
    assert_eq!(json["header"]["system_id"], 7);
    assert_eq!(json["header"]["request_number"], 3);
    assert!(json["header"].get("token").is_none(), "{json}");
    assert!(
        !json.to_string().contains("99"),
        "the token's value is printed: {json}"
    );
    assert_eq!(json["request"]["command"], CommandTypeEnum::Ticket as i32);
    assert_eq!(json["request"]["ticket"]["operator"]["name"], "Айгерим");
    assert_eq!(json["request"]["ticket"]["amounts"]["total"]["bills"], 150);
    // The same bytes print the same text every time they are read.
    assert_eq!(document_json(&frame), document_json(&frame));
}

#[test]
fn document_json_refuses_what_was_never_stored() {
    let frame = ticket_frame();
    assert!(matches!(
        document_json(&frame[..frame.len() - 1]),
        Err(FrameError::Truncated { .. })
    ));
    let mut trailing = frame.clone();
    trailing.push(0);
    assert!(matches!(
        document_json(&trailing),
        Err(FrameError::TrailingBytes(1))
    ));
    // A header with a body that is not a request (a lone varint key with no value).
    let mut garbled = frame[..HEADER_LEN].to_vec();
    garbled.push(0x08);
    let size = garbled.len() as u32;
    garbled[4..8].copy_from_slice(&size.to_le_bytes());
    assert!(
        matches!(document_json(&garbled), Err(FrameError::Protobuf(_))),
        "{:?}",
        document_json(&garbled)
    );
}

#[test]
fn header_matches_spec_vector() {
    let header = Header {
        version: 203,
        size: 118,
        system_id: 201_873,
        token: 208_627_316,
        request_number: 1,
    };
    assert_eq!(hex::encode(header.encode()), SPEC_HEADER);
    let bytes = hex::decode(SPEC_HEADER).unwrap();
    assert_eq!(Header::decode(&bytes), Ok(header));
    assert_eq!(header.body_len(), 100);
}

#[test]
fn header_rejects_bad_input() {
    let good = hex::decode(SPEC_HEADER).unwrap();
    assert_eq!(Header::decode(&good[..17]), Err(HeaderError::Truncated(17)));
    assert_eq!(Header::decode(&[]), Err(HeaderError::Truncated(0)));

    let mut ru = good.clone();
    ru[..2].copy_from_slice(&[0x2A, 0x08]);
    assert_eq!(Header::decode(&ru), Err(HeaderError::BadAppCode(0x082A)));

    let mut small = good.clone();
    small[4..8].copy_from_slice(&17u32.to_le_bytes());
    assert_eq!(Header::decode(&small), Err(HeaderError::SizeTooSmall(17)));

    let mut big = good;
    big[4..8].copy_from_slice(&(DEFAULT_MAX_FRAME + 1).to_le_bytes());
    let header = Header::decode(&big).unwrap();
    assert_eq!(
        header.check_size(DEFAULT_MAX_FRAME),
        Err(HeaderError::SizeTooLarge {
            size: DEFAULT_MAX_FRAME + 1,
            max: DEFAULT_MAX_FRAME
        })
    );
}

#[test]
fn version_policy_accepts_202_and_203_only() {
    assert_eq!(ProtocolVersion::from_header(203), Ok(ProtocolVersion::V203));
    assert_eq!(ProtocolVersion::from_header(202), Ok(ProtocolVersion::V202));
    for old in [124, 125, 200, 201, 204, 0] {
        assert_eq!(
            ProtocolVersion::from_header(old),
            Err(UnsupportedVersion(old))
        );
    }
}

#[test]
fn frame_round_trip_and_exact_length() {
    let frame = ticket_frame();
    let (header, body) = split_frame(&frame, DEFAULT_MAX_FRAME).unwrap();
    assert_eq!(header.size as usize, frame.len());
    assert_eq!(
        (header.system_id, header.token, header.request_number),
        (7, 99, 3)
    );
    let request = decode_request(body).unwrap();
    assert_eq!(request.command, Some(CommandTypeEnum::Ticket as i32));
    assert_eq!(
        request.ticket.unwrap().amounts.unwrap().total,
        Some(money(150, 50))
    );
}

#[test]
fn frame_rejects_truncated_trailing_oversize_and_garbled() {
    let frame = ticket_frame();
    let len = frame.len();
    assert_eq!(
        split_frame(&frame[..len - 1], DEFAULT_MAX_FRAME),
        Err(FrameError::Truncated {
            expected: len,
            got: len - 1
        })
    );
    let mut long = frame.clone();
    long.push(0);
    assert_eq!(
        split_frame(&long, DEFAULT_MAX_FRAME),
        Err(FrameError::TrailingBytes(1))
    );
    assert!(matches!(
        split_frame(&frame, 20),
        Err(FrameError::Header(HeaderError::SizeTooLarge { .. }))
    ));
    // A length-delimited field (ticket, tag 2) whose length runs past the end of the body.
    assert!(matches!(
        decode_request(&[0x08, 0x01, 0x12, 0x7f, 0x00]),
        Err(FrameError::Protobuf(_))
    ));
    // Wire type 7 does not exist.
    assert!(matches!(
        decode_request(&[0x0f]),
        Err(FrameError::Protobuf(_))
    ));
}

#[test]
fn missing_required_fields_are_named() {
    // Empty body: no command.
    assert_eq!(
        decode_request(&[]),
        Err(FrameError::MissingField(MissingField {
            message: "Request",
            field: "command"
        }))
    );
    // A ticket whose amounts lack the total.
    let request = Request {
        command: Some(CommandTypeEnum::Ticket as i32),
        ticket: Some(TicketRequest {
            operation: Some(0),
            date_time: Some(DateTime {
                date: Some(Date {
                    year: Some(2026),
                    month: Some(1),
                    day: Some(1),
                }),
                time: Some(Time {
                    hour: Some(0),
                    minute: Some(0),
                    second: None,
                }),
            }),
            operator: Some(Operator {
                code: Some(1),
                name: None,
            }),
            amounts: Some(Amounts::default()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode_request(&request.encode_to_vec()),
        Err(FrameError::MissingField(MissingField {
            message: "Amounts",
            field: "total"
        }))
    );
    // A response without a result.
    let response = Response {
        command: Some(0),
        ..Default::default()
    };
    assert_eq!(
        decode_response(&response.encode_to_vec()),
        Err(FrameError::MissingField(MissingField {
            message: "Response",
            field: "result"
        }))
    );
}

#[test]
fn unknown_fields_are_skipped() {
    let mut body = Request {
        command: Some(5),
        ..Default::default()
    }
    .encode_to_vec();
    // Field 99, varint 1; field 100, length-delimited "xy".
    body.extend_from_slice(&[0x98, 0x06, 0x01, 0xa2, 0x06, 0x02, b'x', b'y']);
    let request = decode_request(&body).unwrap();
    assert_eq!(request.command, Some(5));
}

#[test]
fn unknown_enum_values_are_kept() {
    let body = Request {
        command: Some(42),
        ..Default::default()
    }
    .encode_to_vec();
    let request = decode_request(&body).unwrap();
    assert_eq!(request.command, Some(42));
    assert!(CommandTypeEnum::try_from(42).is_err());
    assert_eq!(request.encode_to_vec(), body);
}

#[test]
fn repeated_scalars_decode_packed_and_unpacked() {
    // AuthResponse{result: 0, roles: [1, 3]}.
    let unpacked = [0x08, 0x00, 0x20, 0x01, 0x20, 0x03];
    let packed = [0x08, 0x00, 0x22, 0x02, 0x01, 0x03];
    let a = AuthResponse::decode(&unpacked[..]).unwrap();
    let b = AuthResponse::decode(&packed[..]).unwrap();
    assert_eq!(a.roles, vec![1, 3]);
    assert_eq!(a, b);
    // proto2 default: encoded unpacked.
    assert_eq!(a.encode_to_vec(), unpacked);
}

#[test]
fn peek_command_reads_field_one_of_a_body_that_fails_validation() {
    assert_eq!(peek_command(&[0x08, 0x01]), Some(1));
    assert_eq!(peek_command(&[0x0f]), None);
}

#[test]
fn token_rotation_rule() {
    let request = |command: CommandTypeEnum, report: Option<ReportTypeEnum>| Request {
        command: Some(command as i32),
        report: report.map(|kind| ReportRequest {
            report: Some(kind as i32),
            ..Default::default()
        }),
        ..Default::default()
    };
    use CommandTypeEnum::*;
    for c in [Ticket, CloseShift, MoneyPlacement] {
        assert!(request(c, None).rotates_token(), "{c:?}");
    }
    assert!(request(Report, Some(ReportTypeEnum::ReportZ)).rotates_token());
    assert!(!request(Report, Some(ReportTypeEnum::ReportX)).rotates_token());
    for c in [System, Info, Nomenclature, Auth, CancelTicket, Reserved] {
        assert!(!request(c, None).rotates_token(), "{c:?}");
    }
}

/// Encode → decode gives the same value, and re-encoding gives the same bytes, for 64 generated
/// values. Runs on a thread with a large stack: the derived strategies for the deepest messages
/// (Request, Response, ZXReport) nest far enough to overflow the default test stack in debug.
fn round_trip<T>()
where
    T: Message + Default + PartialEq + Arbitrary + 'static,
{
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(|| {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
        runner
            .run(&any::<T>(), |value| {
                let bytes = value.encode_to_vec();
                let back =
                    T::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(back == value, "decoded value differs");
                prop_assert_eq!(back.encode_to_vec(), bytes);
                Ok(())
            })
            .map_err(|failure| failure.to_string())
    });
    let outcome = worker.unwrap().join().unwrap();
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// One test per message type.
macro_rules! round_trips {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                round_trip::<$ty>();
            }
        )*
    };
}

round_trips! {
    rt_date: Date, rt_time: Time, rt_date_time: DateTime, rt_money: Money, rt_operator: Operator,
    rt_key_value: KeyValuePair, rt_ticket_ad_info: TicketAdInfo, rt_ticket_ad: TicketAd,
    rt_request: Request, rt_response: Response, rt_result: ResponseResult,
    rt_ticket_request: TicketRequest, rt_tax: Tax, rt_modifier: Modifier, rt_item: Item,
    rt_commodity: ItemCommodity, rt_storno_commodity: ItemStornoCommodity, rt_domain: Domain,
    rt_domain_services: DomainServices, rt_domain_gasoil: DomainGasoil, rt_domain_taxi: DomainTaxi,
    rt_domain_parking: DomainParking, rt_extension: ExtensionOptions, rt_payment: Payment,
    rt_card: PaymentCardFields, rt_mobile: PaymentMobileFields, rt_amounts: Amounts,
    rt_parent: ParentTicket, rt_ticket_response: TicketResponse,
    rt_close_shift: CloseShiftRequest, rt_money_placement: MoneyPlacementRequest,
    rt_report_request: ReportRequest, rt_report_response: ReportResponse, rt_zx: ZxReport,
    rt_zx_operation: ZxOperation, rt_zx_section: ZxSection, rt_zx_tax: ZxTax,
    rt_zx_tax_operation: ZxTaxOperation, rt_non_nullable: NonNullableSum,
    rt_zx_ticket_operation: ZxTicketOperation, rt_zx_ticket_payment: ZxTicketPayment,
    rt_zx_money_placement: ZxMoneyPlacement, rt_zx_annulled: ZxAnnulledTickets,
    rt_zx_revenue: ZxRevenue, rt_service_request: ServiceRequest, rt_comm: CommQuality,
    rt_security: SecurityStats, rt_geo: GeoPosition, rt_offline: OfflinePeriod,
    rt_software: SoftwareInformation, rt_module: ModuleInformation, rt_device: DeviceInformation,
    rt_reg_req: RegInfoRequest, rt_reg_resp: RegInfoResponse, rt_kkm: KkmRegInfo,
    rt_pos: PosRegInfo, rt_org: OrgRegInfo, rt_service_response: ServiceResponse,
    rt_last_doc: LastDocumentInfo, rt_binded: BindedTaxation, rt_binded_tax: BindedTax,
    rt_auth_request: AuthRequest, rt_auth_response: AuthResponse,
    rt_nomenclature_request: NomenclatureRequest, rt_nomenclature_response: NomenclatureResponse,
    rt_element: NomenclatureElement, rt_nom_item: NomenclatureItem, rt_nom_tax: NomenclatureTax,
}

proptest! {
    #[test]
    fn header_round_trips(version: u16, size in 18u32.., system_id: u32, token: u32, request_number: u16) {
        let header = Header { version, size, system_id, token, request_number };
        prop_assert_eq!(Header::decode(&header.encode()), Ok(header));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((_, body)) = split_frame(&bytes, DEFAULT_MAX_FRAME) {
            let _ = decode_request(body);
            let _ = decode_response(body);
            let _ = peek_command(body);
        }
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }
}

#[test]
fn whole_request_frames_round_trip() {
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(|| {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
        runner
            .run(
                &(any::<Request>(), any::<u32>(), any::<u32>(), any::<u16>()),
                |(request, id, token, reqnum)| {
                    let header = Header {
                        version: 203,
                        size: 0,
                        system_id: id,
                        token,
                        request_number: reqnum,
                    };
                    let frame = encode_frame(header, &request)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let (back_header, body) = split_frame(&frame, u32::MAX)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(back_header.size as usize, frame.len());
                    prop_assert_eq!((back_header.system_id, back_header.token), (id, token));
                    prop_assert!(Request::decode(body).ok() == Some(request));
                    Ok(())
                },
            )
            .map_err(|failure| failure.to_string())
    });
    if let Err(failure) = worker.unwrap().join().unwrap() {
        panic!("{failure}");
    }
}
