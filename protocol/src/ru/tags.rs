//! The tag dictionary: data type, maximum length and FNS JSON name of every ФФД tag.
//!
//! One table is the union of ФФД 1.05, 1.1 and 1.2 (a tag keeps its number and type across
//! versions; which tags are mandatory per version is ФЛК's business, not the codec's). Names
//! are the English keys of the OFD→ФНС JSON. Facts are transcribed from the public tag tables
//! listed in `shared/protocol/ru-kkt-ofd.md` §0; where two sources disagree on a maximum, the
//! larger one is used so that real devices are not rejected.
//!
//! **Context.** A few tags mean something else under a particular parent (agent data 1223,
//! counters 1129…1133, items 1059). Those live in [`SCOPED`], consulted first with the parent
//! tag. **Name collisions.** Some distinct tags share a JSON name (1020 and 1201 are both
//! `totalSum`). The lower tag owns the name everywhere; the higher one is marked `shadowed` and
//! is named only inside its scope, elsewhere by its number, so that JSON maps back to exactly
//! one tag in every context.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::value::DataType::{self, *};

/// What the dictionary knows about one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagSpec {
    /// The tag number.
    pub tag: u16,
    /// FNS JSON name; empty when the tag has none (it is then keyed by its number).
    pub name: &'static str,
    /// Wire data type.
    pub ty: DataType,
    /// Largest value length in bytes.
    pub max_len: u16,
    /// Whether the tag may repeat (always an array in JSON).
    pub multi: bool,
    /// For fixed-width strings (ИНН 12, РН ККТ 20): the width to space-pad to when encoding.
    pub pad_to: u8,
    /// Whether the value must be exactly `max_len` bytes (1077 ФПД).
    pub fixed: bool,
    /// Whether a lower tag owns the same JSON name (see the module notes).
    pub shadowed: bool,
}

#[allow(clippy::too_many_arguments)]
const fn t(
    tag: u16,
    name: &'static str,
    ty: DataType,
    max_len: u16,
    multi: bool,
    pad_to: u8,
    fixed: bool,
    shadowed: bool,
) -> TagSpec {
    TagSpec {
        tag,
        name,
        ty,
        max_len,
        multi,
        pad_to,
        fixed,
        shadowed,
    }
}

/// A document form: its code (container byte 5, document STLV tag) and JSON root name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    /// Form code.
    pub code: u16,
    /// JSON root name.
    pub name: &'static str,
    /// Largest document length (STLV value).
    pub max_len: u16,
}

/// Every form the OFD receives or sends. 81–84 (marking) go to the marking server, not here.
pub const FORMS: &[Form] = &[
    Form {
        code: 1,
        name: "fiscalReport",
        max_len: 6144,
    },
    Form {
        code: 2,
        name: "openShift",
        max_len: 4096,
    },
    Form {
        code: 3,
        name: "receipt",
        max_len: 32768,
    },
    Form {
        code: 4,
        name: "bso",
        max_len: 32768,
    },
    Form {
        code: 5,
        name: "closeShift",
        max_len: 4096,
    },
    Form {
        code: 6,
        name: "closeArchive",
        max_len: 4096,
    },
    Form {
        code: 7,
        name: "operatorAck",
        max_len: 512,
    },
    Form {
        code: 11,
        name: "fiscalReportCorrection",
        max_len: 6144,
    },
    Form {
        code: 21,
        name: "currentStateReport",
        max_len: 32768,
    },
    Form {
        code: 31,
        name: "receiptCorrection",
        max_len: 32768,
    },
    Form {
        code: 41,
        name: "bsoCorrection",
        max_len: 32768,
    },
];

/// The form with code `code`.
pub fn form(code: u16) -> Option<&'static Form> {
    FORMS.iter().find(|f| f.code == code)
}

/// The form whose JSON root name is `name`.
pub fn form_by_name(name: &str) -> Option<&'static Form> {
    FORMS.iter().find(|f| f.name == name)
}

/// Counter STLVs (per settlement sign and correction counters) that hold 1135/1201/1218…1220.
const COUNTERS: &[u16] = &[1129, 1130, 1131, 1132, 1145, 1146, 1232, 1233];

/// Tags whose meaning depends on the parent: (parents, spec). Consulted before [`TAGS`].
pub const SCOPED: &[(&[u16], TagSpec)] = &[
    (
        &[1223],
        t(
            1005,
            "paymentProviderAddress",
            String,
            256,
            true,
            0,
            false,
            false,
        ),
    ),
    (
        &[1223],
        t(
            1016,
            "paymentProviderInn",
            String,
            12,
            true,
            12,
            false,
            false,
        ),
    ),
    (
        &[1223],
        t(
            1026,
            "paymentProviderName",
            String,
            64,
            true,
            0,
            false,
            false,
        ),
    ),
    (
        &[1223],
        t(1044, "agentOperation", String, 24, true, 0, false, false),
    ),
    (
        &[1223],
        t(
            1074,
            "paymentProviderPhone",
            String,
            19,
            true,
            0,
            false,
            false,
        ),
    ),
    (
        &[1223],
        t(1075, "agentPhone", String, 19, true, 0, false, false),
    ),
    (
        &[1059, 1071],
        t(1191, "propertiesItem", String, 256, false, 0, false, false),
    ),
    (
        &[1, 11],
        t(1062, "taxationType", Byte, 1, false, 0, false, false),
    ),
    (
        &[1129, 1130, 1131, 1132],
        t(1135, "receiptCount", U32, 4, false, 0, false, false),
    ),
    (
        COUNTERS,
        t(1201, "totalSum", Vln, 6, false, 0, false, false),
    ),
    (
        COUNTERS,
        t(1218, "prepaidSum", Vln, 6, false, 0, false, false),
    ),
    (
        COUNTERS,
        t(1219, "creditSum", Vln, 6, false, 0, false, false),
    ),
    (
        COUNTERS,
        t(1220, "provisionSum", Vln, 6, false, 0, false, false),
    ),
    (
        &[1270],
        t(1273, "dateTime", UnixTime, 4, false, 0, false, false),
    ),
];

/// Every known tag outside its special contexts, sorted by tag.
#[rustfmt::skip]
pub const TAGS: &[TagSpec] = &[
    t(1000, "docName", String, 256, false, 0, false, false),
    t(1001, "autoMode", Byte, 1, false, 0, false, false),
    t(1002, "offlineMode", Byte, 1, false, 0, false, false),
    t(1003, "", String, 256, true, 0, false, false),
    t(1004, "", String, 256, true, 0, false, false),
    t(1005, "operatorTransferAddress", String, 256, true, 0, false, false),
    t(1006, "", String, 256, false, 0, false, false),
    t(1007, "", String, 256, false, 0, false, false),
    t(1008, "buyerPhoneOrAddress", String, 64, false, 0, false, false),
    t(1009, "retailPlaceAddress", String, 256, false, 0, false, false),
    t(1010, "", Vln, 8, true, 0, false, false),
    t(1011, "", Vln, 8, true, 0, false, false),
    t(1012, "dateTime", UnixTime, 4, false, 0, false, false),
    t(1013, "kktNumber", String, 20, false, 0, false, false),
    t(1014, "", String, 64, false, 0, false, false),
    t(1015, "", U32, 4, false, 0, false, false),
    t(1016, "operatorTransferInn", String, 12, true, 12, false, false),
    t(1017, "ofdInn", String, 12, false, 12, false, false),
    t(1018, "userInn", String, 12, false, 12, false, false),
    t(1019, "", String, 64, false, 0, false, false),
    t(1020, "totalSum", Vln, 6, false, 0, false, false),
    t(1021, "operator", String, 64, false, 0, false, false),
    t(1022, "ofdResponseCode", Byte, 1, false, 0, false, false),
    t(1023, "quantity", Fvln, 8, false, 0, false, false),
    t(1024, "", String, 64, false, 0, false, false),
    t(1025, "", String, 64, false, 0, false, false),
    t(1026, "operatorTransferName", String, 64, true, 0, false, false),
    t(1027, "", String, 64, false, 0, false, false),
    t(1028, "", String, 64, false, 0, false, false),
    t(1029, "", String, 64, false, 0, false, false),
    t(1030, "name", String, 128, false, 0, false, false),
    t(1031, "cashTotalSum", Vln, 6, false, 0, false, false),
    t(1032, "", Stlv, 33, false, 0, false, false),
    t(1033, "", Stlv, 33, false, 0, false, false),
    t(1034, "markup", Fvln, 8, false, 0, false, false),
    t(1035, "markupSum", Vln, 8, false, 0, false, false),
    t(1036, "machineNumber", String, 20, false, 0, false, false),
    t(1037, "kktRegId", String, 20, false, 20, false, false),
    t(1038, "shiftNumber", U32, 4, false, 0, false, false),
    t(1039, "", String, 12, false, 0, false, false),
    t(1040, "fiscalDocumentNumber", U32, 4, false, 0, false, false),
    t(1041, "fiscalDriveNumber", String, 16, false, 0, false, false),
    t(1042, "requestNumber", U32, 4, false, 0, false, false),
    t(1043, "sum", Vln, 6, false, 0, false, false),
    t(1044, "paymentAgentOperation", String, 24, true, 0, false, false),
    t(1045, "bankSubagentOperation", String, 24, true, 0, false, false),
    t(1046, "ofdName", String, 256, false, 0, false, false),
    t(1047, "", Stlv, 144, false, 0, false, false),
    t(1048, "user", String, 256, false, 0, false, false),
    t(1049, "", String, 6, false, 0, false, false),
    t(1050, "fiscalDriveExhaustionSign", Byte, 1, false, 0, false, false),
    t(1051, "fiscalDriveReplaceRequiredSign", Byte, 1, false, 0, false, false),
    t(1052, "fiscalDriveMemoryExceededSign", Byte, 1, false, 0, false, false),
    t(1053, "ofdResponseTimeoutSign", Byte, 1, false, 0, false, false),
    t(1054, "operationType", Byte, 1, false, 0, false, false),
    t(1055, "taxationType", Byte, 1, false, 0, false, false),
    t(1056, "encryptionSign", Byte, 1, false, 0, false, false),
    t(1057, "paymentAgentType", Byte, 1, false, 0, false, false),
    t(1058, "", Byte, 1, false, 0, false, false),
    t(1059, "items", Stlv, 1024, true, 0, false, false),
    t(1060, "fnsSite", String, 256, false, 0, false, false),
    t(1061, "ofdSite", String, 64, false, 0, false, false),
    t(1062, "taxationType", Byte, 1, false, 0, false, true),
    t(1063, "discount", Fvln, 8, false, 0, false, false),
    t(1064, "discountSum", Vln, 8, false, 0, false, false),
    t(1065, "", String, 10, false, 0, false, false),
    t(1066, "", String, 256, false, 0, false, false),
    t(1067, "", Stlv, 328, false, 0, false, false),
    t(1068, "messageToFn", Stlv, 169, false, 0, false, false),
    t(1069, "", Stlv, 328, true, 0, false, false),
    t(1070, "", Fvln, 5, false, 0, false, false),
    t(1071, "stornoItems", Stlv, 328, true, 0, false, false),
    t(1072, "", Vln, 8, false, 0, false, false),
    t(1073, "paymentAgentPhone", String, 19, true, 0, false, false),
    t(1074, "operatorToReceivePhone", String, 19, true, 0, false, false),
    t(1075, "operatorPhoneToTransfer", String, 19, true, 0, false, false),
    t(1076, "type", String, 64, false, 0, false, false),
    t(1077, "fiscalSign", ByteArray, 6, false, 0, true, false),
    t(1078, "ofdFiscalSign", ByteArray, 32, false, 0, false, false),
    t(1079, "price", Vln, 6, false, 0, false, false),
    t(1080, "barcode", String, 16, false, 0, false, false),
    t(1081, "ecashTotalSum", Vln, 6, false, 0, false, false),
    t(1082, "bankSubagentPhone", String, 19, true, 0, false, false),
    t(1083, "paymentSubagentPhone", String, 19, true, 0, false, false),
    t(1084, "properties", Stlv, 328, false, 0, false, false),
    t(1085, "propertyName", String, 64, false, 0, false, false),
    t(1086, "propertyValue", String, 256, false, 0, false, false),
    t(1097, "notTransmittedDocumentsQuantity", U32, 4, false, 0, false, false),
    t(1098, "notTransmittedDocumentsDateTime", UnixTime, 4, false, 0, false, false),
    t(1101, "correctionReasonCode", Byte, 1, true, 0, false, false),
    t(1102, "nds18", Vln, 6, false, 0, false, false),
    t(1103, "nds10", Vln, 6, false, 0, false, false),
    t(1104, "nds0", Vln, 6, false, 0, false, false),
    t(1105, "ndsNo", Vln, 6, false, 0, false, false),
    t(1106, "ndsCalculated18", Vln, 6, false, 0, false, false),
    t(1107, "ndsCalculated10", Vln, 6, false, 0, false, false),
    t(1108, "internetSign", Byte, 1, false, 0, false, false),
    t(1109, "serviceSign", Byte, 1, false, 0, false, false),
    t(1110, "bsoSign", Byte, 1, false, 0, false, false),
    t(1111, "documentsQuantity", U32, 4, false, 0, false, false),
    t(1112, "modifiers", Stlv, 160, true, 0, false, false),
    t(1113, "discountName", String, 64, false, 0, false, false),
    t(1114, "markupName", String, 64, false, 0, false, false),
    t(1115, "addressToCheckFiscalSign", String, 256, false, 0, false, false),
    t(1116, "notTransmittedDocumentNumber", U32, 4, false, 0, false, false),
    t(1117, "sellerAddress", String, 64, false, 0, false, false),
    t(1118, "receiptsQuantity", U32, 4, false, 0, false, false),
    t(1119, "operatorPhoneToReceive", String, 19, true, 0, false, false),
    t(1126, "lotterySign", Byte, 1, false, 0, false, false),
    t(1129, "sellOper", Stlv, 116, false, 0, false, false),
    t(1130, "sellReturnOper", Stlv, 116, false, 0, false, false),
    t(1131, "buyOper", Stlv, 116, false, 0, false, false),
    t(1132, "buyReturnOper", Stlv, 116, false, 0, false, false),
    t(1133, "receiptCorrection", Stlv, 216, false, 0, false, false),
    t(1134, "receiptCount", U32, 4, false, 0, false, false),
    t(1135, "receiptCount", U32, 4, false, 0, false, true),
    t(1136, "cashSum", Vln, 6, false, 0, false, false),
    t(1138, "ecashSum", Vln, 6, false, 0, false, false),
    t(1139, "tax18Sum", Vln, 6, false, 0, false, false),
    t(1140, "tax10Sum", Vln, 6, false, 0, false, false),
    t(1141, "tax18118Sum", Vln, 6, false, 0, false, false),
    t(1142, "tax10110Sum", Vln, 6, false, 0, false, false),
    t(1143, "tax0Sum", Vln, 6, false, 0, false, false),
    t(1144, "receiptCorrectionCount", U32, 4, false, 0, false, false),
    t(1145, "sellCorrection", Stlv, 100, false, 0, false, false),
    t(1146, "buyCorrection", Stlv, 100, false, 0, false, false),
    t(1147, "", U32, 4, false, 0, false, false),
    t(1148, "selfCorrectionCount", U32, 4, false, 0, false, false),
    t(1149, "orderCorrectionCount", U32, 4, false, 0, false, false),
    t(1150, "correctionSum", Vln, 6, false, 0, false, false),
    t(1151, "tax18CorrectionSum", Vln, 6, false, 0, false, false),
    t(1152, "tax10CorrectionSum", Vln, 6, false, 0, false, false),
    t(1153, "tax18118CorrectionSum", Vln, 6, false, 0, false, false),
    t(1154, "tax10110CorrectionSum", Vln, 6, false, 0, false, false),
    t(1155, "tax0CorrectionSum", Vln, 6, false, 0, false, false),
    t(1157, "fiscalDriveSumReports", Stlv, 708, false, 0, false, false),
    t(1158, "notTransmittedDocumentsSumReports", Stlv, 708, false, 0, false, false),
    t(1162, "productCode", ByteArray, 32, false, 0, false, false),
    t(1163, "productCodeNew", Stlv, 256, false, 0, false, false),
    t(1171, "providerPhone", String, 19, true, 0, false, false),
    t(1173, "correctionType", Byte, 1, false, 0, false, false),
    t(1174, "correctionBase", Stlv, 292, false, 0, false, false),
    t(1177, "correctionName", String, 256, false, 0, false, false),
    t(1178, "correctionDocumentDate", UnixTime, 4, false, 0, false, false),
    t(1179, "correctionDocumentNumber", String, 32, false, 0, false, false),
    t(1183, "taxFreeSum", Vln, 6, false, 0, false, false),
    t(1184, "taxFreeCorrectionSum", Vln, 6, false, 0, false, false),
    t(1187, "retailPlace", String, 256, false, 0, false, false),
    t(1188, "kktVersion", String, 8, false, 0, false, false),
    t(1189, "documentKktVersion", Byte, 1, false, 0, false, false),
    t(1190, "documentFdVersion", Byte, 1, false, 0, false, false),
    t(1191, "propertiesString", String, 256, false, 0, false, false),
    t(1192, "propertiesData", String, 16, false, 0, false, false),
    t(1193, "gamblingSign", Byte, 1, false, 0, false, false),
    t(1194, "shiftSumReports", Stlv, 708, false, 0, false, false),
    t(1196, "", String, 10000, false, 0, false, false),
    t(1197, "unit", String, 16, false, 0, false, false),
    t(1198, "unitNds", Vln, 6, false, 0, false, false),
    t(1199, "nds", Byte, 1, false, 0, false, false),
    t(1200, "ndsSum", Vln, 6, false, 0, false, false),
    t(1201, "totalSum", Vln, 6, false, 0, false, true),
    t(1203, "operatorInn", String, 12, false, 12, false, false),
    t(1205, "correctionKktReasonCode", U32, 4, true, 0, false, false),
    t(1206, "operatorMessage", Byte, 1, false, 0, false, false),
    t(1207, "exciseDutyProductSign", Byte, 1, false, 0, false, false),
    t(1208, "", String, 256, false, 0, false, false),
    t(1209, "fiscalDocumentFormatVer", Byte, 1, false, 0, false, false),
    t(1210, "", Byte, 1, false, 0, false, false),
    t(1212, "productType", Byte, 1, false, 0, false, false),
    t(1213, "fdKeyResource", U16, 2, false, 0, false, false),
    t(1214, "paymentType", Byte, 1, false, 0, false, false),
    t(1215, "prepaidSum", Vln, 6, false, 0, false, false),
    t(1216, "creditSum", Vln, 6, false, 0, false, false),
    t(1217, "provisionSum", Vln, 6, false, 0, false, false),
    t(1218, "prepaidSum", Vln, 6, false, 0, false, true),
    t(1219, "creditSum", Vln, 6, false, 0, false, true),
    t(1220, "provisionSum", Vln, 6, false, 0, false, true),
    t(1221, "printInMachineSign", Byte, 1, false, 0, false, false),
    t(1222, "paymentAgentByProductType", Byte, 1, false, 0, false, false),
    t(1223, "paymentAgentData", Stlv, 512, false, 0, false, false),
    t(1224, "providerData", Stlv, 512, false, 0, false, false),
    t(1225, "providerName", String, 256, false, 0, false, false),
    t(1226, "providerInn", String, 12, false, 12, false, false),
    t(1227, "buyer", String, 256, false, 0, false, false),
    t(1228, "buyerInn", String, 12, false, 12, false, false),
    t(1229, "exciseDuty", Vln, 6, false, 0, false, false),
    t(1230, "originCountryCode", String, 3, false, 0, false, false),
    t(1231, "customEntryNum", String, 32, false, 0, false, false),
    t(1232, "sellReturnCorrection", Stlv, 100, false, 0, false, false),
    t(1233, "buyReturnCorrection", Stlv, 100, false, 0, false, false),
    t(1243, "buyerBirthday", String, 10, false, 0, false, false),
    t(1244, "buyerCitizenship", String, 3, false, 0, false, false),
    t(1245, "buyerDocumentCode", String, 2, false, 0, false, false),
    t(1246, "buyerDocumentData", String, 64, false, 0, false, false),
    t(1254, "buyerAddress", String, 256, false, 0, false, false),
    t(1256, "buyerInformation", Stlv, 1024, false, 0, false, false),
    t(1260, "itemsIndustryDetails", Stlv, 317, true, 0, false, false),
    t(1261, "industryReceiptDetails", Stlv, 317, true, 0, false, false),
    t(1262, "idFoiv", String, 3, false, 0, false, false),
    t(1263, "foundationDocDateTime", String, 10, false, 0, false, false),
    t(1264, "foundationDocNumber", String, 32, false, 0, false, false),
    t(1265, "industryPropValue", String, 256, false, 0, false, false),
    t(1270, "operationalDetails", Stlv, 144, false, 0, false, false),
    t(1271, "operationId", Byte, 1, false, 0, false, false),
    t(1272, "operationData", String, 64, false, 0, false, false),
    t(1273, "dateTime", UnixTime, 4, false, 0, false, true),
    t(1274, "additionalPropsFRC", String, 32, false, 0, false, false),
    t(1275, "additionalDataFRC", ByteArray, 32, false, 0, false, false),
    t(1276, "additionalPropsOS", String, 32, false, 0, false, false),
    t(1277, "additionalDataOS", ByteArray, 32, false, 0, false, false),
    t(1278, "", String, 32, false, 0, false, false),
    t(1279, "", ByteArray, 32, false, 0, false, false),
    t(1280, "additionalPropsCSR", String, 32, false, 0, false, false),
    t(1281, "additionalDataCSR", ByteArray, 32, false, 0, false, false),
    t(1282, "", String, 32, false, 0, false, false),
    t(1283, "", ByteArray, 32, false, 0, false, false),
    t(1290, "usageConditionSigns", U32, 4, false, 0, false, false),
    t(1291, "labeledProdFractionalQuantity", Stlv, 52, false, 0, false, false),
    t(1292, "fractionalPart", String, 24, false, 0, false, false),
    t(1293, "numerator", Vln, 8, false, 0, false, false),
    t(1294, "denominator", Vln, 8, false, 0, false, false),
    t(1300, "undefined", String, 32, false, 0, false, false),
    t(1301, "ean8", String, 8, false, 0, false, false),
    t(1302, "ean13", String, 13, false, 0, false, false),
    t(1303, "itf14", String, 14, false, 0, false, false),
    t(1304, "gs1", String, 38, false, 0, false, false),
    t(1305, "gs1m", String, 38, false, 0, false, false),
    t(1306, "kmk", String, 38, false, 0, false, false),
    t(1307, "mi", String, 20, false, 0, false, false),
    t(1308, "egais2", String, 23, false, 0, false, false),
    t(1309, "egais3", String, 14, false, 0, false, false),
    t(1320, "f1", String, 32, false, 0, false, false),
    t(1321, "f2", String, 32, false, 0, false, false),
    t(1322, "f3", String, 32, false, 0, false, false),
    t(1323, "f4", String, 32, false, 0, false, false),
    t(1324, "f5", String, 32, false, 0, false, false),
    t(1325, "f6", String, 32, false, 0, false, false),
    t(2000, "", String, 256, false, 0, false, false),
    t(2001, "", U32, 4, false, 0, false, false),
    t(2002, "", U32, 4, false, 0, false, false),
    t(2003, "", Byte, 1, false, 0, false, false),
    t(2004, "", Byte, 1, false, 0, false, false),
    t(2005, "", Byte, 1, false, 0, false, false),
    t(2006, "", Byte, 1, false, 0, false, false),
    t(2007, "", Stlv, 512, true, 0, false, false),
    t(2100, "", Byte, 1, false, 0, false, false),
    t(2101, "", String, 38, false, 0, false, false),
    t(2102, "labelCodeProcesMode", Byte, 1, false, 0, false, false),
    t(2104, "undeliveredNotificationsNumber", U32, 4, false, 0, false, false),
    t(2105, "", Byte, 1, false, 0, false, false),
    t(2106, "checkingProdInformationResult", Byte, 1, false, 0, false, false),
    t(2107, "checkingLabeledProdResult", Byte, 1, true, 0, false, false),
    t(2108, "itemsQuantityMeasure", Byte, 1, false, 0, false, false),
    t(2109, "", Byte, 1, false, 0, false, false),
    t(2110, "", Byte, 1, false, 0, false, false),
    t(2111, "", Byte, 1, false, 0, false, false),
    t(2112, "", Byte, 1, false, 0, false, false),
    t(2113, "", Byte, 1, false, 0, false, false),
    t(2114, "", UnixTime, 4, false, 0, false, false),
    t(2115, "controlCode", String, 4, false, 0, false, false),
    t(2116, "", Byte, 1, false, 0, false, false),
];

/// First tag of the dense index: lookups are on the hot path of every decode, so the common
/// range 1000..1400 is a direct array index instead of a search.
const DENSE_BASE: u16 = 1000;
const DENSE_LEN: usize = 400;
/// Set in a dense entry when [`SCOPED`] holds a spec for the tag.
const HAS_SCOPE: u16 = 0x8000;

/// For each tag of the dense range: its position in [`TAGS`] plus one (0 = unknown), with
/// [`HAS_SCOPE`] set when a scoped spec exists. Built at compile time from the tables.
static DENSE: [u16; DENSE_LEN] = build_dense();

const fn build_dense() -> [u16; DENSE_LEN] {
    let mut dense = [0u16; DENSE_LEN];
    let mut i = 0;
    while i < TAGS.len() {
        let tag = TAGS[i].tag;
        if tag >= DENSE_BASE && ((tag - DENSE_BASE) as usize) < DENSE_LEN {
            dense[(tag - DENSE_BASE) as usize] = i as u16 + 1;
        }
        i += 1;
    }
    let mut j = 0;
    while j < SCOPED.len() {
        let tag = SCOPED[j].1.tag;
        if tag >= DENSE_BASE && ((tag - DENSE_BASE) as usize) < DENSE_LEN {
            dense[(tag - DENSE_BASE) as usize] |= HAS_SCOPE;
        }
        j += 1;
    }
    dense
}

/// The spec of `tag` found directly under `parent` (a form code or an STLV tag).
#[inline]
pub fn lookup(parent: u16, tag: u16) -> Option<&'static TagSpec> {
    let Some(&entry) = tag
        .checked_sub(DENSE_BASE)
        .and_then(|i| DENSE.get(usize::from(i)))
    else {
        return scoped(parent, tag).or_else(|| general(tag));
    };
    if entry & HAS_SCOPE != 0 {
        if let Some(spec) = scoped(parent, tag) {
            return Some(spec);
        }
    }
    match entry & !HAS_SCOPE {
        0 => None,
        i => TAGS.get(usize::from(i) - 1),
    }
}

fn scoped(parent: u16, tag: u16) -> Option<&'static TagSpec> {
    SCOPED
        .iter()
        .find(|(parents, spec)| spec.tag == tag && parents.contains(&parent))
        .map(|(_, spec)| spec)
}

fn general(tag: u16) -> Option<&'static TagSpec> {
    TAGS.binary_search_by_key(&tag, |s| s.tag)
        .ok()
        .map(|i| &TAGS[i])
}

/// The JSON key of `tag` under `parent`: its name when that name maps back to it in this
/// context, otherwise its decimal number.
pub fn json_name(parent: u16, tag: u16) -> Option<&'static str> {
    if let Some(spec) = scoped(parent, tag) {
        return Some(spec.name);
    }
    // A scoped name of another tag in this parent takes precedence over the general name.
    general(tag)
        .filter(|s| !s.name.is_empty() && !s.shadowed)
        .filter(|s| {
            !SCOPED
                .iter()
                .any(|(parents, other)| other.name == s.name && parents.contains(&parent))
        })
        .map(|s| s.name)
}

/// The tag a JSON key names under `parent`: a scoped name, a general name, or a decimal number.
pub fn tag_for_name(parent: u16, name: &str) -> Option<u16> {
    if let Some((_, spec)) = SCOPED
        .iter()
        .find(|(parents, spec)| spec.name == name && parents.contains(&parent))
    {
        return Some(spec.tag);
    }
    static BY_NAME: OnceLock<HashMap<&'static str, u16>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        TAGS.iter()
            .filter(|s| !s.name.is_empty() && !s.shadowed)
            .map(|s| (s.name, s.tag))
            .collect()
    });
    by_name.get(name).copied().or_else(|| name.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_names_are_unambiguous() {
        assert!(TAGS.windows(2).all(|w| w[0].tag < w[1].tag));
        let mut seen = std::collections::HashSet::new();
        for spec in TAGS.iter().filter(|s| !s.name.is_empty() && !s.shadowed) {
            assert!(seen.insert(spec.name), "{} named twice", spec.name);
        }
        for (_, spec) in SCOPED {
            assert!(
                general(spec.tag).is_some(),
                "{} scoped but unknown",
                spec.tag
            );
        }
    }

    #[test]
    fn every_name_maps_back_in_every_context() {
        let parents: Vec<u16> = FORMS
            .iter()
            .map(|f| f.code)
            .chain(SCOPED.iter().flat_map(|(p, _)| p.iter().copied()))
            .collect();
        for &parent in &parents {
            for spec in TAGS {
                let key = json_name(parent, spec.tag)
                    .map(str::to_owned)
                    .unwrap_or_else(|| spec.tag.to_string());
                assert_eq!(tag_for_name(parent, &key), Some(spec.tag), "{parent}/{key}");
            }
        }
    }

    #[test]
    fn dense_index_agrees_with_the_tables() {
        for tag in 0..=u16::MAX {
            for parent in [3, 1223, 1059, 1129, 1] {
                let slow = scoped(parent, tag).or_else(|| general(tag));
                assert_eq!(lookup(parent, tag), slow, "{parent}/{tag}");
            }
        }
    }

    #[test]
    fn context_changes_the_name() {
        assert_eq!(json_name(3, 1005), Some("operatorTransferAddress"));
        assert_eq!(json_name(1223, 1005), Some("paymentProviderAddress"));
        assert_eq!(json_name(3, 1201), None);
        assert_eq!(json_name(1129, 1201), Some("totalSum"));
        assert_eq!(tag_for_name(1129, "totalSum"), Some(1201));
        assert_eq!(tag_for_name(3, "totalSum"), Some(1020));
        assert_eq!(lookup(3, 1077).map(|s| s.fixed), Some(true));
        assert_eq!(form(11).map(|f| f.name), Some("fiscalReportCorrection"));
    }
}
